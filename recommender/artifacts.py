"""The state built once per catalog and model: item embeddings, the FAISS index and the knowledge graph.

They are cached under <data_dir>/artifacts/<catalog fingerprint>-<model>-d<description chars>/ and loaded from
there on later starts. Every cache file is written to a temporary name and renamed into place, so an interrupted
build never leaves a half-written file behind; a file that still fails to load is derived data and is rebuilt.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

from core.catalog import Catalog, load_catalog
from core.files import atomic_write
from core.process_memory import resident_mb
from core.settings import Settings
from knowledge_graph.aliases import AliasIndex
from knowledge_graph.graph import KnowledgeGraph
from knowledge_graph.ppr import PersonalizedPageRank
from recommender.cooccurrence import Cooccurrence
from recommender.embedding_asset import catalog_vectors, check_finite
from recommender.encoder import Encoder
from recommender.vector_index import IndexSpec, VectorIndex

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Artifacts:
    catalog: Catalog
    encoder: Encoder
    item_vectors: np.ndarray
    """(len(catalog), dim) float32, L2-normalized; row i is catalog.items[i]. Memory-mapped from the cache: the
    operating system's page cache holds it once for every app process on the machine."""
    index: VectorIndex
    kg: KnowledgeGraph
    aliases: AliasIndex
    ppr: PersonalizedPageRank
    cooc: Cooccurrence
    cache_dir: Path
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent in each loading phase (for `liner bench`)."""
    memory_mb: dict[str, float] = field(default_factory=dict)
    """Resident memory each loading phase added to the process, in MB (what it keeps, less what it freed)."""


def artifact_dir(settings: Settings, catalog: Catalog, encoder: Encoder) -> Path:
    """Embeddings depend on the catalog, the model and the embedded text, so all three key the cache."""
    key = f"{catalog.fingerprint()}-{encoder.model_slug}-d{settings.embed_description_chars}"
    return settings.data_dir / "artifacts" / key


def _cached(path: Path, load: Callable[[Path], T]) -> T | None:
    """The loaded file, or None when it is absent or unreadable (then the caller rebuilds it)."""
    if not path.is_file():
        return None
    try:
        return load(path)
    # Any failure to read derived data (truncated pickle, wrong shape, foreign format) means: rebuild it.
    except Exception as exc:  # noqa: BLE001
        log.warning("cached %s is unreadable (%s: %s); rebuilding it", path, exc.__class__.__name__, exc)
        return None


def _load_vectors(path: Path, count: int) -> np.ndarray:
    vectors = np.load(path, allow_pickle=False, mmap_mode="r")
    if vectors.ndim != 2 or vectors.shape[0] != count or vectors.dtype != np.float32:
        raise ValueError(f"expected ({count}, dim) float32, found {vectors.shape} {vectors.dtype}")
    check_finite(vectors, str(path), "it is rebuilt")
    return vectors


def _save_vectors(vectors: np.ndarray, path: Path) -> None:
    with open(path, "wb") as handle:
        np.save(handle, vectors)
        handle.flush()
        os.fsync(handle.fileno())


def _load_index(path: Path, vectors: np.ndarray, spec: IndexSpec, settings: Settings) -> VectorIndex:
    recorded = VectorIndex.recorded_spec(path)
    if recorded is None or not recorded.same_build(spec):
        raise ValueError(f"the record beside it says {recorded}, the settings ask for {spec}")
    index = VectorIndex.load(path, settings, vectors)
    if len(index) != len(vectors) or index.dimension != vectors.shape[1]:
        raise ValueError(f"index holds {len(index)}×{index.dimension}, vectors are {vectors.shape}")
    return index


def _load_cooccurrence(settings: Settings, catalog: Catalog) -> Cooccurrence:
    path = settings.cooccurrence_path
    if not path.is_file():
        log.warning("no co-occurrence file at %s (LINER_COOCCURRENCE_PATH): that candidate source is off", path)
        return Cooccurrence.empty(settings)
    return Cooccurrence.load(path, catalog, settings=settings)


def load_artifacts(settings: Settings, progress: bool = True, rebuild: bool = False) -> Artifacts:
    """Load the cached artifacts for settings.catalog_path, building whatever is missing (everything when
    rebuild, as `liner ingest` asks)."""
    timings: dict[str, float] = {}
    memory: dict[str, float] = {}
    started, resident = time.perf_counter(), resident_mb()

    def phase(name: str) -> None:
        nonlocal started, resident
        now, now_resident = time.perf_counter(), resident_mb()
        timings[name], memory[name] = now - started, now_resident - resident
        log.info("artifacts: %s took %.2f s, %+.0f MB", name, timings[name], memory[name])
        started, resident = now, now_resident

    catalog = load_catalog(settings.catalog_path)
    encoder = Encoder(settings)
    cache = artifact_dir(settings, catalog, encoder)
    cache.mkdir(parents=True, exist_ok=True)
    phase("catalog")

    vectors_path = cache / "vectors.npy"
    vectors = None if rebuild else _cached(vectors_path, lambda p: _load_vectors(p, len(catalog)))
    vectors_built = vectors is None
    if vectors is None:
        # Rows whose model and text match the shipped file are reused, so `liner ingest` of a changed catalog
        # encodes only the items that changed.
        built = catalog_vectors(catalog, encoder, settings.embeddings_path, progress=progress)
        atomic_write(vectors_path, lambda tmp: _save_vectors(built, tmp))
        # Mapped back at once, so a first start holds them as every later start does.
        vectors = _load_vectors(vectors_path, len(catalog))
    phase("embeddings (built)" if vectors_built else "embeddings (cached)")

    # The catalog's size picks exact or approximate search (IndexSpec.choose); the choice is recorded beside.
    spec = IndexSpec.choose(len(catalog), settings)
    index_path = cache / spec.file_name
    index = None if vectors_built else _cached(index_path, lambda p: _load_index(p, vectors, spec, settings))
    if index is None:
        build_started = time.perf_counter()
        index = VectorIndex.build_spec(vectors, spec, progress=progress)
        build_s = time.perf_counter() - build_started
        index.save(index_path, build_s)
    phase("index")

    graph_path = cache / "graph.npz"
    kg = None if rebuild else _cached(graph_path, KnowledgeGraph.load)
    if kg is None:
        kg = KnowledgeGraph.build(catalog, progress=progress)
        atomic_write(graph_path, kg.save)
    phase("knowledge graph")

    aliases = AliasIndex.build(catalog, kg)
    phase("aliases")
    ppr = PersonalizedPageRank(kg, settings)
    phase("pagerank")
    cooc = _load_cooccurrence(settings, catalog)
    phase("co-occurrence")

    log.info("artifacts ready in %.2f s (%s)", sum(timings.values()), cache)
    return Artifacts(catalog, encoder, vectors, index, kg, aliases, ppr, cooc, cache, timings, memory)
