"""FAISS inner-product index over item vectors, sized to the catalog: exact below Settings.faiss_exact_below items,
approximate above it (IVF with 8-bit codes and an exact re-rank, or HNSW), on a GPU when the installed faiss build
sees one (faiss-gpu is an optional extra: nothing here needs it).

Which index a catalog gets is decided once, by `IndexSpec.choose` when `liner ingest` builds it, and recorded in a
JSON file beside the index (kind, parameters, item count, build time), so a later start loads what was built and
`liner bench --scale N` measures the same choice.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from tqdm import tqdm

from core.errors import FixableError
from core.files import atomic_write, atomic_write_text
from core.settings import Settings

log = logging.getLogger(__name__)

FLAT, IVF, HNSW = "flat", "ivf", "hnsw"


class VectorIndexError(FixableError):
    """The index file is missing or unreadable; the message names the file and the command that rebuilds it."""


def _gpu_count() -> int:
    # faiss-cpu builds lack get_num_gpus (or return 0): both mean CPU.
    get_num_gpus = getattr(faiss, "get_num_gpus", None)
    return int(get_num_gpus()) if get_num_gpus is not None else 0


def non_finite_rows(matrix: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """Row numbers of vectors holding NaN or inf (a broken model or file): such a row would silently rank first
    or last for every query. Read in chunks: a memory-mapped million-row matrix is checked in little memory."""
    bad = [np.flatnonzero(~np.isfinite(matrix[start:start + chunk]).all(axis=1)) + start
           for start in range(0, len(matrix), chunk)]
    return np.concatenate(bad) if bad else np.zeros(0, dtype=np.int64)


def _check_finite(matrix: np.ndarray, what: str, first_row: int = 0) -> None:
    """first_row: the position of matrix[0] when matrix is a chunk of a larger one (the message names rows)."""
    bad = non_finite_rows(matrix)
    if len(bad):
        raise VectorIndexError(
            f"{what} hold NaN or infinite values in {len(bad)} rows (first: {(bad[:5] + first_row).tolist()}): "
            f"rebuild them with `liner ingest`"
        )


def _as_matrix(vectors: np.ndarray) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    return np.ascontiguousarray(matrix)


@dataclass(frozen=True)
class IndexSpec:
    """Which index a catalog of `count` items gets, with the parameters it is built and searched with."""

    kind: str
    count: int
    nlist: int = 0
    """IVF: number of k-means cells."""
    nprobe: int = 0
    """IVF: cells searched per query."""
    rerank: int = 0
    """IVF: the best k × rerank codes are re-scored exactly against the item vectors."""
    hnsw_m: int = 0
    ef_search: int = 0

    @classmethod
    def choose(cls, count: int, settings: Settings) -> "IndexSpec":
        if count < settings.faiss_exact_below:
            return cls(FLAT, count)
        if settings.faiss_approximate == HNSW:
            return cls(HNSW, count, hnsw_m=settings.faiss_hnsw_m, ef_search=settings.faiss_hnsw_ef_search)
        # About 4·sqrt(N) cells (FAISS's rule of thumb), capped so that k-means keeps ≥ 39 training points each.
        nlist = settings.faiss_ivf_nlist or min(2 ** round(math.log2(4 * math.sqrt(count))), count // 39)
        return cls(IVF, count, nlist=max(1, nlist), nprobe=settings.faiss_ivf_nprobe,
                   rerank=settings.faiss_ivf_rerank)

    @property
    def file_name(self) -> str:
        """The index file's name; the kind and build parameters are in it, so changing a setting that changes
        the build picks (or builds) the matching file instead of loading a stale one."""
        build = {FLAT: FLAT, IVF: f"ivf{self.nlist}-sq8", HNSW: f"hnsw{self.hnsw_m}"}[self.kind]
        return f"index-{build}.faiss"

    def same_build(self, other: "IndexSpec") -> bool:
        """True when other was built the same way (search parameters may differ: they are applied at load)."""
        return (self.kind, self.count, self.nlist, self.hnsw_m) == (other.kind, other.count, other.nlist, other.hnsw_m)


def _new_index(spec: IndexSpec, dim: int) -> faiss.Index:
    if spec.kind == FLAT:
        return faiss.IndexFlatIP(dim)
    if spec.kind == HNSW:
        return faiss.IndexHNSWFlat(dim, spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    quantizer = faiss.IndexFlatIP(dim)
    # 8-bit codes: a quarter of the float32 memory; the exact re-rank recovers the order they blur.
    return faiss.IndexIVFScalarQuantizer(quantizer, dim, spec.nlist, faiss.ScalarQuantizer.QT_8bit,
                                         faiss.METRIC_INNER_PRODUCT)


def _training_sample(matrix: np.ndarray, nlist: int, seed: int = 0) -> np.ndarray:
    # 64 points a cell is plenty for k-means (FAISS samples 256 a cell at most, and warns below 39).
    size = min(len(matrix), 64 * nlist)
    rows = np.sort(np.random.default_rng(seed).choice(len(matrix), size, replace=False))
    return _as_matrix(matrix[rows])


class VectorIndex:
    """Rows of the index are catalog positions (Catalog.items[row]).

    An IVF index re-ranks with `vectors`, the item vectors it was built from (a memory-mapped array is fine: only
    the candidate rows are read)."""

    def __init__(self, index: faiss.Index, spec: IndexSpec, vectors: np.ndarray | None = None):
        if spec.kind == IVF and vectors is None:
            raise ValueError("an IVF index re-ranks against the item vectors: pass them")
        self.spec = spec
        self._cpu_index = index
        self._vectors = vectors
        self._gpu_resources = None
        self._apply_search_parameters(index)
        self._index = self._to_gpu(index)

    def _apply_search_parameters(self, index: faiss.Index) -> None:
        if self.spec.kind == HNSW:
            index.hnsw.efSearch = self.spec.ef_search
        elif self.spec.kind == IVF:
            index.nprobe = self.spec.nprobe  # CPU and GPU IVF indexes alike

    def search_with(self, spec: IndexSpec) -> None:
        """Search from now on with spec's breadth (nprobe, efSearch, re-rank depth); the build must be the same."""
        if not spec.same_build(self.spec):
            raise ValueError(f"{spec} is another build than this index ({self.spec})")
        self.spec = spec
        self._apply_search_parameters(self._index)

    @classmethod
    def build(cls, vectors: np.ndarray, settings: Settings, progress: bool = False) -> "VectorIndex":
        spec = IndexSpec.choose(len(vectors), settings)
        return cls.build_spec(vectors, spec, progress=progress)

    @classmethod
    def build_spec(cls, vectors: np.ndarray, spec: IndexSpec, progress: bool = False) -> "VectorIndex":
        # A 2-D array (possibly memory-mapped) is read chunk by chunk below, never copied whole.
        matrix = vectors if getattr(vectors, "ndim", 0) == 2 else _as_matrix(vectors)
        dim = matrix.shape[1]
        index = _new_index(spec, dim)
        if spec.kind != FLAT:
            log.info("%d items: building an approximate %s index (%s)", len(vectors), spec.kind, spec)
        if spec.kind == IVF:
            index.train(_training_sample(matrix, spec.nlist))
        # Added in chunks: a memory-mapped matrix is never copied whole, and the progress bar moves.
        chunk = 65_536 if spec.kind != FLAT else len(matrix) or 1
        with tqdm(total=len(matrix), desc=f"indexing ({spec.kind})", unit=" items",
                  disable=not progress or len(matrix) <= chunk) as bar:
            for start in range(0, len(matrix), chunk):
                part = _as_matrix(matrix[start:start + chunk])
                _check_finite(part, "the item vectors", start)
                index.add(part)
                bar.update(len(part))
        return cls(index, spec, vectors if spec.kind == IVF else None)

    def _to_gpu(self, index: faiss.Index) -> faiss.Index:
        # Flat and IVF move; classic faiss-gpu has no HNSW.
        if _gpu_count() == 0 or self.spec.kind == HNSW:
            return index
        try:
            # The resources must outlive the GPU index, hence kept on self.
            self._gpu_resources = faiss.StandardGpuResources()
            gpu_index = faiss.index_cpu_to_gpu(self._gpu_resources, 0, index)
        except (RuntimeError, AttributeError) as exc:
            log.warning("faiss sees a GPU but could not move the index there (%s); searching on CPU", exc)
            return index
        log.info("FAISS %s index on GPU 0", self.spec.kind)
        return gpu_index

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def kind(self) -> str:
        """"flat" (exact), "ivf" or "hnsw" (approximate)."""
        return self.spec.kind

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def memory_bytes(self) -> int:
        """Bytes the index holds in memory (its serialized size; the item vectors an IVF re-ranks with are not
        counted: they are memory-mapped)."""
        return int(faiss.serialize_index(self._cpu_index).nbytes)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k best (row, inner product) pairs for one query vector, best first."""
        return self.search_many(query, k)[0]

    def search_many(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        matrix = _as_matrix(queries)
        k = min(k, len(self))
        if k <= 0:
            return [[] for _ in range(len(matrix))]
        if self.spec.kind == IVF:
            _, candidates = self._index.search(matrix, min(len(self), k * self.spec.rerank))
            return [self._rerank(query, row_ids, k) for query, row_ids in zip(matrix, candidates)]
        scores, rows = self._index.search(matrix, k)
        # FAISS pads with row -1 when fewer than k results exist (possible with HNSW).
        return [
            [(int(row), float(score)) for row, score in zip(row_ids, row_scores) if row >= 0]
            for row_ids, row_scores in zip(rows, scores)
        ]

    def _rerank(self, query: np.ndarray, row_ids: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Exact inner products of the IVF's candidates, best k first."""
        row_ids = np.sort(row_ids[row_ids >= 0])  # sorted: a memory-mapped read walks the file forwards
        exact = np.asarray(self._vectors[row_ids], dtype=np.float32) @ query
        best = np.argsort(-exact, kind="stable")[:k]
        return [(int(row_ids[i]), float(exact[i])) for i in best]

    def save(self, path: Path, build_s: float | None = None) -> None:
        """The index, and beside it (same name, .json) the spec it was built with; each file is written whole
        or not at all (a missing or mismatched record makes the next start rebuild)."""
        path = Path(path)
        atomic_write(path, lambda tmp: faiss.write_index(self._cpu_index, str(tmp)))
        record: dict[str, Any] = {**asdict(self.spec), "build_s": build_s, "faiss": faiss.__version__}
        atomic_write_text(path.with_suffix(".json"), json.dumps(record, indent=1))

    @staticmethod
    def recorded_spec(path: Path) -> IndexSpec | None:
        """The spec recorded beside an index file, or None when there is none."""
        meta = Path(path).with_suffix(".json")
        if not meta.is_file():
            return None
        record = json.loads(meta.read_text(encoding="utf-8"))
        return IndexSpec(**{k: v for k, v in record.items() if k in IndexSpec.__dataclass_fields__})

    @classmethod
    def load(cls, path: Path, settings: Settings | None = None, vectors: np.ndarray | None = None) -> "VectorIndex":
        """The index at path. Search parameters (nprobe, efSearch, re-rank depth) come from settings when given,
        else from the record beside the file."""
        path = Path(path)
        if not path.is_file():
            raise VectorIndexError(f"FAISS index {path} does not exist: build it with `liner ingest`")
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise VectorIndexError(
                f"FAISS index {path} is corrupt ({str(exc).splitlines()[0]}): rebuild it with `liner ingest`"
            ) from exc
        spec = cls.recorded_spec(path) or _spec_of(index)
        if settings is not None and spec.kind != FLAT:
            searched = IndexSpec.choose(spec.count, settings)
            if searched.kind == spec.kind:
                spec = IndexSpec(spec.kind, spec.count, spec.nlist, searched.nprobe, searched.rerank, spec.hnsw_m,
                                 searched.ef_search)
        if isinstance(index, faiss.IndexFlat) and index.ntotal:
            _check_finite(index.reconstruct_n(0, index.ntotal), f"FAISS index {path}")
        return cls(index, spec, vectors)


def _spec_of(index: faiss.Index) -> IndexSpec:
    """The spec of an index file written without its record (by an older release: flat or HNSW)."""
    if isinstance(index, faiss.IndexHNSW):
        return IndexSpec(HNSW, int(index.ntotal), hnsw_m=int(index.hnsw.nb_neighbors(1)), ef_search=128)
    if isinstance(index, faiss.IndexIVF):
        raise VectorIndexError("an IVF index without its .json record: rebuild it with `liner ingest`")
    return IndexSpec(FLAT, int(index.ntotal))
