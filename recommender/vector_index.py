"""FAISS inner-product index over item vectors: exact for catalogs of ordinary size, HNSW beyond, on a GPU when
the installed faiss build sees one."""

from __future__ import annotations

import logging
from pathlib import Path

import faiss
import numpy as np

from recommender.settings import Settings

log = logging.getLogger(__name__)


class VectorIndexError(RuntimeError):
    """The index file is missing or unreadable; the message names the file and the command that rebuilds it."""


def _gpu_count() -> int:
    # faiss-cpu builds lack get_num_gpus (or return 0): both mean CPU.
    get_num_gpus = getattr(faiss, "get_num_gpus", None)
    return int(get_num_gpus()) if get_num_gpus is not None else 0


def non_finite_rows(matrix: np.ndarray) -> np.ndarray:
    """Row numbers of vectors holding NaN or inf (a broken model or file): such a row would silently rank first
    or last for every query."""
    return np.flatnonzero(~np.isfinite(matrix).all(axis=1))


def _check_finite(matrix: np.ndarray, what: str) -> None:
    bad = non_finite_rows(matrix)
    if len(bad):
        raise VectorIndexError(
            f"{what} hold NaN or infinite values in {len(bad)} rows (first: {bad[:5].tolist()}): "
            f"rebuild them with `liner ingest`"
        )


def _as_matrix(vectors: np.ndarray) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    return np.ascontiguousarray(matrix)


class VectorIndex:
    """Rows of the index are catalog positions (Catalog.items[row])."""

    def __init__(self, index: faiss.Index, settings: Settings | None = None):
        if settings is not None and isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = settings.faiss_hnsw_ef_search
        self._cpu_index = index
        self._gpu_resources = None
        self._index = self._to_gpu(index)

    @classmethod
    def build(cls, vectors: np.ndarray, settings: Settings) -> "VectorIndex":
        matrix = _as_matrix(vectors)
        _check_finite(matrix, "the item vectors")
        count, dim = matrix.shape
        if count > settings.faiss_hnsw_above:
            log.warning(
                "%d items > faiss_hnsw_above=%d: using approximate HNSW search (M=%d, efSearch=%d); "
                "measure its recall against exact search before relying on it",
                count, settings.faiss_hnsw_above, settings.faiss_hnsw_m, settings.faiss_hnsw_ef_search,
            )
            index = faiss.IndexHNSWFlat(dim, settings.faiss_hnsw_m, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexFlatIP(dim)
        index.add(matrix)
        return cls(index, settings)

    def _to_gpu(self, index: faiss.Index) -> faiss.Index:
        # Only exact indexes move: classic faiss-gpu has no HNSW.
        if _gpu_count() == 0 or not isinstance(index, faiss.IndexFlat):
            return index
        try:
            # The resources must outlive the GPU index, hence kept on self.
            self._gpu_resources = faiss.StandardGpuResources()
            gpu_index = faiss.index_cpu_to_gpu(self._gpu_resources, 0, index)
        except (RuntimeError, AttributeError) as exc:
            log.warning("faiss sees a GPU but could not move the index there (%s); searching on CPU", exc)
            return index
        log.info("FAISS index on GPU 0")
        return gpu_index

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def kind(self) -> str:
        """"hnsw" (approximate) or "flat" (exact)."""
        return "hnsw" if isinstance(self._cpu_index, faiss.IndexHNSW) else "flat"

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k best (row, inner product) pairs for one query vector, best first."""
        return self.search_many(query, k)[0]

    def search_many(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        matrix = _as_matrix(queries)
        k = min(k, len(self))
        if k <= 0:
            return [[] for _ in range(len(matrix))]
        scores, rows = self._index.search(matrix, k)
        # FAISS pads with row -1 when fewer than k results exist (possible with HNSW).
        return [
            [(int(row), float(score)) for row, score in zip(row_ids, row_scores) if row >= 0]
            for row_ids, row_scores in zip(rows, scores)
        ]

    def save(self, path: Path) -> None:
        faiss.write_index(self._cpu_index, str(path))

    @classmethod
    def load(cls, path: Path, settings: Settings | None = None) -> "VectorIndex":
        path = Path(path)
        if not path.is_file():
            raise VectorIndexError(f"FAISS index {path} does not exist: build it with `liner ingest`")
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise VectorIndexError(
                f"FAISS index {path} is corrupt ({str(exc).splitlines()[0]}): rebuild it with `liner ingest`"
            ) from exc
        if isinstance(index, faiss.IndexFlat) and index.ntotal:
            _check_finite(index.reconstruct_n(0, index.ntotal), f"FAISS index {path}")
        return cls(index, settings)
