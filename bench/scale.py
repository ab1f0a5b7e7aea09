"""`liner bench --scale N`: the vector index at catalog sizes we do not ship, on synthetic vectors.

The synthetic catalog keeps the real catalog's cluster structure: its first rows are the real item vectors
(assets/item_embeddings.npz), and every further row is a seeded perturbed copy of a real one: a point on the
segment from a real item towards one of its ten nearest real neighbours, plus isotropic noise (NOISE), then
normalized. With NOISE = 0.75 a copy keeps cosine ≈ 0.8 to the item it copies and two copies of one item ≈ 0.64,
close to the median cosine of a real item to its nearest real neighbour (0.62), so a million synthetic items are
about as crowded around each real one as real neighbours are. Queries are made the same way from another seed
(none of them is an indexed row).

The vectors are written to a temporary .npy under the data dir and memory-mapped, as the app maps its cache.
Measured: generation, build time, index memory, process RSS, p50/p95 time of one query at a time (k = 100, as a
turn asks), and recall@100 against exact search (computed in chunks over the same memory-mapped vectors); then
the recall and speed of a few other search breadths of the same index (nprobe / efSearch cost nothing to change).
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import faiss
import numpy as np
from tqdm import tqdm

from core.errors import FixableError
from core.process_memory import memory_mb, resident_mb
from core.settings import Settings
from recommender.vector_index import FLAT, HNSW, IVF, IndexSpec, VectorIndex

log = logging.getLogger(__name__)

NOISE = 0.75
"""Norm of the isotropic noise added to each synthetic vector (before normalizing); see the module docstring."""
NEIGHBOURS = 10
"""A synthetic vector lies between a real item and one of its this many nearest real neighbours."""
K = 100
"""Results per query: the dense source asks for candidates_per_source (100) plus the excluded items."""
CHUNK = 65_536
SWEEP = {IVF: (8, 16, 32, 64, 128), HNSW: (32, 64, 128, 256, 512), FLAT: ()}
"""Search breadths measured on the built index besides the configured one (nprobe for IVF, efSearch for HNSW)."""


@dataclass
class Breadth:
    """One search breadth of the built index."""

    breadth: int
    query_ms_p50: float
    query_ms_p95: float
    recall_at_100: float


@dataclass
class ScaleReport:
    items: int
    dim: int
    queries: int
    seed: int
    noise: float
    index: dict[str, Any]
    """The spec `liner ingest` would choose for this many items (IndexSpec)."""
    generate_s: float
    build_s: float
    index_mb: float
    """Memory held by the index itself (its serialized size)."""
    vectors_mb: float
    """The memory-mapped item vectors (page cache, shared by every process on the machine)."""
    rss_mb: float
    """Resident memory of this process after the searches (anonymous + file pages it touched)."""
    rss_anon_mb: float
    """Of rss_mb, memory private to the process (the part that grows with each app process)."""
    peak_rss_mb: float
    query_ms_p50: float
    query_ms_p95: float
    recall_at_100: float
    faiss_threads: int
    sweep: list[Breadth] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _real_vectors(settings: Settings) -> np.ndarray:
    with np.load(settings.embeddings_path, allow_pickle=False) as data:
        vectors = data["vectors"].astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _neighbours(real: np.ndarray) -> np.ndarray:
    index = faiss.IndexFlatIP(real.shape[1])
    index.add(real)
    _, rows = index.search(real, NEIGHBOURS + 1)
    return rows[:, 1:]  # the first is the item itself


def perturbed_copies(real: np.ndarray, neighbours: np.ndarray, count: int, rng: np.random.Generator,
                     origin: np.ndarray | None = None) -> np.ndarray:
    """count synthetic vectors around the real ones (normalized float32): copies of the rows `origin` (random
    rows when None)."""
    origin = rng.integers(len(real), size=count) if origin is None else origin
    toward = neighbours[origin, rng.integers(neighbours.shape[1], size=count)]
    t = rng.uniform(0.0, 0.5, size=(count, 1)).astype(np.float32)
    noise = rng.standard_normal((count, real.shape[1]), dtype=np.float32) * (NOISE / np.sqrt(real.shape[1]))
    vectors = (1 - t) * real[origin] + t * real[toward] + noise
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def synthetic_catalog(real: np.ndarray, count: int, path: Path, seed: int) -> np.ndarray:
    """A memory-mapped (count, dim) float32 matrix at path: the real vectors, then perturbed copies."""
    vectors = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(count, real.shape[1]))
    head = min(count, len(real))
    vectors[:head] = real[:head]
    neighbours = _neighbours(real)
    rng = np.random.default_rng(seed)
    with tqdm(total=count - head, desc="synthetic vectors", unit=" items", disable=count - head <= CHUNK) as bar:
        for start in range(head, count, CHUNK):
            stop = min(count, start + CHUNK)
            vectors[start:stop] = perturbed_copies(real, neighbours, stop - start, rng)
            bar.update(stop - start)
    vectors.flush()
    return np.load(path, mmap_mode="r")


def synthetic_catalog_files(settings: Settings, items: int, folder: Path, seed: int = 0) -> Settings:
    """A catalog of `items` items in folder, for measuring whole turns: the real catalog, then copies of random
    real items (their genres, people, keywords, year and description; a new id, a title of their own, a lower
    popularity), with embeddings beside it (perturbed copies of the real vectors, as for the index) so that
    `liner ingest` reads instead of encoding them. Returns settings that use them, with folder as the data dir."""
    from core.catalog import load_catalog, write_catalog
    from recommender.embedding_asset import text_hashes
    from recommender.encoder import Encoder

    catalog = load_catalog(settings.catalog_path)
    encoder = Encoder(settings)
    real = _real_vectors(settings)
    # The shipped rows are matched by text hash (as catalog_vectors does), not assumed in catalog order; items
    # without a shipped vector are left out rather than encoded (that would take longer than the measurement).
    with np.load(settings.embeddings_path, allow_pickle=False) as data:
        row_of_hash = {int(h): row for row, h in enumerate(data["text_hashes"])}
    hashes = text_hashes([encoder.item_text(item) for item in catalog.items])
    real_items = [item for item, h in zip(catalog.items, hashes) if int(h) in row_of_hash]
    real_rows = np.array([row_of_hash[int(h)] for h in hashes if int(h) in row_of_hash])
    if len(real_items) < 0.9 * len(catalog):
        log.warning("only %d of the %d catalog items have a vector in %s (run `liner build-assets`): the synthetic "
                    "catalog is built from those", len(real_items), len(catalog), settings.embeddings_path)
    rng = np.random.default_rng(seed)
    origin = rng.integers(len(real_items), size=max(0, items - len(real_items)))
    copies = [dataclasses.replace(real_items[o], item_id=f"syn{n}", title=f"Synthetic title {n}", aliases=(),
                         popularity=real_items[o].popularity * float(rng.uniform(0.0, 0.9)), series=None)
              for n, o in enumerate(tqdm(origin, desc="synthetic items", unit=" items"))]
    everything = real_items[:items] + copies
    catalog_path = folder / "catalog.jsonl.gz"
    write_catalog(everything, catalog_path)
    vectors = np.empty((len(everything), real.shape[1]), dtype=np.float32)
    vectors[:len(real_items[:items])] = real[real_rows[:items]]
    neighbours = _neighbours(real)
    for start in range(0, len(origin), CHUNK):
        part = origin[start:start + CHUNK]
        vectors[len(real_items) + start:len(real_items) + start + len(part)] = perturbed_copies(
            real, neighbours, len(part), rng, origin=real_rows[part])
    texts = [encoder.item_text(item) for item in tqdm(everything, desc="item texts", unit=" items")]
    embeddings_path = folder / "embeddings.npz"
    np.savez(embeddings_path, vectors=vectors.astype(np.float16), text_hashes=text_hashes(texts),
             model=np.array(encoder.model_id), catalog_fingerprint=np.array(""))
    return settings.with_overrides(catalog_path=catalog_path, embeddings_path=embeddings_path,
                                   data_dir=folder / "home")


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row ids of the exact top k of each query (chunked over the vectors: no copy of a mapped matrix)."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_rows = np.full((len(queries), k), -1, dtype=np.int64)
    for start in tqdm(range(0, len(vectors), CHUNK), desc="exact search", disable=len(vectors) <= CHUNK):
        scores = queries @ np.asarray(vectors[start:start + CHUNK]).T
        rows = np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        merged_rows = np.concatenate([best_rows, rows], axis=1)
        keep = np.argpartition(-merged_scores, k - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(merged_scores, keep, axis=1)
        best_rows = np.take_along_axis(merged_rows, keep, axis=1)
    return best_rows


def _time_queries(index: VectorIndex, queries: np.ndarray, truth: np.ndarray) -> tuple[list[float], float]:
    """(milliseconds of each single query, mean recall@K)."""
    times, recalls = [], []
    for query, expected in zip(queries, truth):
        started = time.perf_counter()
        hits = index.search(query, K)
        times.append((time.perf_counter() - started) * 1000)
        recalls.append(len({row for row, _ in hits} & set(expected.tolist())) / K)
    return times, float(np.mean(recalls))


def _with_breadth(spec: IndexSpec, breadth: int) -> IndexSpec:
    return dataclasses.replace(spec, nprobe=breadth) if spec.kind == IVF else dataclasses.replace(spec, ef_search=breadth)


def run_scale(settings: Settings, items: int, *, queries: int = 500, seed: int = 0, sweep: bool = True,
              folder: Path | None = None) -> ScaleReport:
    """Build the index `liner ingest` would choose for `items` synthetic items and measure it."""
    if items < K:
        raise FixableError(f"--scale needs at least {K} items, got {items}")
    real = _real_vectors(settings)
    spec = IndexSpec.choose(items, settings)
    with _workspace(settings, folder) as work:
        started = time.perf_counter()
        vectors = synthetic_catalog(real, items, work / "vectors.npy", seed)
        query_vectors = perturbed_copies(real, _neighbours(real), queries, np.random.default_rng(seed + 1))
        generate_s = time.perf_counter() - started
        log.info("scale: %d synthetic vectors in %.1f s; building %s", items, generate_s, spec)

        started = time.perf_counter()
        index = VectorIndex.build_spec(vectors, spec, progress=True)
        build_s = time.perf_counter() - started
        truth = exact_top(vectors, query_vectors, K)
        times, recall = _time_queries(index, query_vectors, truth)

        breadths = []
        configured = spec.nprobe if spec.kind == IVF else spec.ef_search
        for breadth in SWEEP[spec.kind] if sweep else ():
            if breadth == configured:
                continue
            index.search_with(_with_breadth(spec, breadth))
            sweep_times, sweep_recall = _time_queries(index, query_vectors[:200], truth[:200])
            breadths.append(Breadth(breadth, *np.percentile(sweep_times, [50, 95]).round(3).tolist(),
                                    round(sweep_recall, 4)))
        memory = memory_mb()
        query_ms_p50, query_ms_p95 = np.percentile(times, [50, 95]).round(3).tolist()
        return ScaleReport(
            items=items, dim=int(vectors.shape[1]), queries=queries, seed=seed, noise=NOISE, index=asdict(spec),
            generate_s=round(generate_s, 2), build_s=round(build_s, 2),
            index_mb=round(index.memory_bytes() / 2**20, 1), vectors_mb=round(vectors.nbytes / 2**20, 1),
            rss_mb=round(memory["VmRSS"], 1), rss_anon_mb=round(memory["RssAnon"], 1),
            peak_rss_mb=round(memory["VmHWM"], 1),
            query_ms_p50=query_ms_p50, query_ms_p95=query_ms_p95,
            recall_at_100=round(recall, 4), faiss_threads=faiss.omp_get_max_threads(), sweep=breadths)


@contextmanager
def _workspace(settings: Settings, folder: Path | None) -> Iterator[Path]:
    """A temporary folder for the synthetic vectors (under the data dir: /tmp may be small), or the given one."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="scale-", dir=settings.data_dir) as temp:
        yield Path(temp)


@dataclass
class TurnScaleReport:
    """Whole turns (`liner bench` scripted conversations) over a synthetic catalog of `items` items."""

    items: int
    build_s: dict[str, float]
    """Seconds per phase of the first build of the artefacts (embeddings read, index, graph, aliases, ...)."""
    rss_after_build_mb: float
    bench: dict[str, Any]
    """bench.latency's report on the scripted turns (cards and explained cards median/p95, stages, peak RSS), from
    the process that served them."""


def run_scale_turns(settings: Settings, items: int, *, turns: int, seed: int = 0) -> TurnScaleReport:
    """Build the artefacts of a synthetic catalog of `items` items as `liner ingest` would, then time the scripted
    turns over it (bench.latency; no first-start timing, no baseline, no separate explanation paths) in a fresh
    process that starts warm from them, as an app process does: its peak RSS is a serving process's own, not the
    build's."""
    import gc
    import multiprocessing

    from recommender.artifacts import load_artifacts

    with _workspace(settings, None) as work:
        scaled = synthetic_catalog_files(settings, items, work, seed)
        artifacts = load_artifacts(scaled, progress=True, rebuild=True)
        build = {phase: round(seconds, 2) for phase, seconds in artifacts.timings.items()}
        rss_after_build = resident_mb()
        del artifacts
        gc.collect()
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            report = pool.apply(_serving_benchmark, (scaled, turns))
    return TurnScaleReport(items, build, round(rss_after_build, 1), report)


def _serving_benchmark(settings: Settings, turns: int) -> dict[str, Any]:
    from bench.latency import run_benchmark

    return run_benchmark(settings, turns=turns, first_start=False, baseline=False, explain_paths=()).to_json()


def format_turn_report(report: TurnScaleReport) -> str:
    from bench.latency import BenchReport, format_report as format_bench

    build = " · ".join(f"{phase} {seconds:.1f} s" for phase, seconds in report.build_s.items())
    bench = BenchReport(**{k: v for k, v in report.bench.items() if k in BenchReport.__dataclass_fields__})
    return "\n".join([f"turns over {report.items:,} synthetic items", f"first build: {build}",
                      f"RSS after the build {report.rss_after_build_mb:,.0f} MB", format_bench(bench)])


def format_report(report: ScaleReport) -> str:
    spec = report.index
    params = {FLAT: "exact", IVF: f"nlist {spec['nlist']}, nprobe {spec['nprobe']}, 8-bit codes, exact re-rank of "
              f"{spec['rerank']}×k", HNSW: f"M {spec['hnsw_m']}, efSearch {spec['ef_search']}"}[spec["kind"]]
    lines = [
        f"scale: {report.items:,} synthetic items × {report.dim} (seed {report.seed}), {report.queries} queries, "
        f"k = {K}, {report.faiss_threads} FAISS threads",
        f"index: {spec['kind']} ({params})",
        f"generate {report.generate_s:.1f} s · build {report.build_s:.1f} s",
        f"memory: index {report.index_mb:,.0f} MB · vectors {report.vectors_mb:,.0f} MB (memory-mapped) · "
        f"RSS {report.rss_mb:,.0f} MB (private {report.rss_anon_mb:,.0f} MB) · peak {report.peak_rss_mb:,.0f} MB",
        f"query: p50 {report.query_ms_p50:.2f} ms · p95 {report.query_ms_p95:.2f} ms · "
        f"recall@{K} {report.recall_at_100:.3f}",
    ]
    if report.sweep:
        name = "nprobe" if spec["kind"] == IVF else "efSearch"
        lines.append(f"other breadths (first 200 queries): {name:>8} {'p50 ms':>8} {'p95 ms':>8} {'recall':>7}")
        lines += [f"{'':36}{b.breadth:>8} {b.query_ms_p50:>8.2f} {b.query_ms_p95:>8.2f} {b.recall_at_100:>7.3f}"
                  for b in report.sweep]
    return "\n".join(lines)

