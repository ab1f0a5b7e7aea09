"""LLM re-ranking of the fused head by pointwise mutual information (asking a base model to pick a letter among
listed candidates measures position bias, not taste; PMI reads each candidate's own text).

score(c) = mean log p(text(c) | preference prefix) − mean log p(text(c) | neutral prefix)

The LLM only scores catalog candidates it is given, so it can never recommend an item outside the catalog.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from core.catalog import split_title_year
from core.files import atomic_write_text
from core.item import Item
from core.profile import Profile, ProfileEntry
from core.settings import Settings
from core.text import join_words
from core.vocabulary import UNINFORMATIVE_KEYWORDS
from llm.text_model import TextModel

log = logging.getLogger(__name__)

NEUTRAL_PREFIX = "A viewer should watch:"
"""The item-only context whose score is subtracted (it measures how likely the text is a priori)."""

def candidate_text(item: Item) -> str:
    """A short description the model can read: ' Contact (1997), drama, science fiction about nasa, wormhole'
    (title, year, two genres, up to three keywords; ~20 tokens). Starts with a space, as a continuation."""
    text = f" {item.title} ({item.year})" if item.year else f" {item.title}"
    genres = [g.lower() for g in item.genres[:2]]
    if genres:
        text += ", " + ", ".join(genres)
    keywords = [k for k in item.keywords if k.lower() not in UNINFORMATIVE_KEYWORDS][:3]
    if keywords:
        text += " about " + ", ".join(keywords)
    return text


def _entry_words(entry: ProfileEntry) -> str:
    if entry.kind == "item":
        return split_title_year(entry.label)[0]
    if entry.kind == "genre":
        return entry.label.lower()
    if entry.kind == "decade":
        return f"{entry.label} films"
    return entry.label


def preference_prefix(profile: Profile, query: str, max_query_words: int = 20) -> str | None:
    """'A viewer who loved Interstellar and Arrival, likes Denis Villeneuve, dislikes horror and asked: "…"
    should watch:' — None when nothing is known (PMI would be meaningless)."""
    def strongest(entries: list[ProfileEntry], n: int) -> list[str]:
        return [_entry_words(e) for e in sorted(entries, key=lambda e: -e.weight)[:n]]

    parts = []
    loved = strongest(profile.liked("item"), 3)
    if loved:
        parts.append("loved " + join_words(loved))
    likes = strongest([e for e in profile.liked() if e.kind != "item"], 3)
    if likes:
        parts.append("likes " + join_words(likes))
    dislikes = strongest(profile.disliked(), 2)
    if dislikes:
        parts.append("dislikes " + join_words(dislikes))
    words = re.sub(r"\s+", " ", query).strip().split(" ")
    asked = " ".join(words[-max_query_words:]).strip(" \"")
    if asked:
        parts.append(f'asked for "{asked}"')
    if not parts:
        return None
    return f"A viewer who {join_words(parts)} should watch:"


class NeutralCache:
    """Neutral-prefix scores on disk (JSON), keyed by model and candidate text: each item is scored once."""

    def __init__(self, path: Path, model_id: str):
        self.path = path
        self.model_id = model_id
        self._lock = threading.Lock()
        self._scores: dict[str, float] | None = None

    def _load(self) -> dict[str, float]:
        if self._scores is None:
            self._scores = {}
            if self.path.exists():
                try:
                    self._scores = dict(json.loads(self.path.read_text()).get(self.model_id, {}))
                except (OSError, ValueError, AttributeError) as exc:
                    log.warning("ignoring unreadable neutral-score cache %s (%s); it will be rewritten",
                                self.path, exc)
        return self._scores

    def get_many(self, texts: Sequence[str]) -> dict[str, float]:
        with self._lock:
            scores = self._load()
            return {t: scores[t] for t in texts if t in scores}

    def put_many(self, new: dict[str, float]) -> None:
        with self._lock:
            self._load().update(new)
            everything = {}
            if self.path.exists():
                try:
                    everything = json.loads(self.path.read_text())
                except (OSError, ValueError):
                    everything = {}
            everything[self.model_id] = self._scores
            atomic_write_text(self.path, json.dumps(everything))


class LLMRanker:
    def __init__(self, llm: TextModel, settings: Settings):
        self.llm = llm
        self.settings = settings
        self.neutral = NeutralCache(settings.data_dir / "neutral_scores.json", llm.model_id)

    def neutral_scores(self, texts: Sequence[str]) -> list[float]:
        known = self.neutral.get_many(texts)
        missing = sorted({t for t in texts if t not in known})
        if missing:
            computed = dict(zip(missing, self.llm.score_continuations(NEUTRAL_PREFIX, missing)))
            self.neutral.put_many(computed)
            known.update(computed)
        return [known[t] for t in texts]

    def rank(self, items: list[Item], profile: Profile, query: str) -> list[float]:
        """PMI score of each item for this user (same order; higher = better fit); zeros without preferences."""
        prefix = preference_prefix(profile, query)
        if not items or prefix is None:
            return [0.0] * len(items)
        texts = [candidate_text(item) for item in items]
        conditional = self.llm.score_continuations(prefix, texts)
        return [c - n for c, n in zip(conditional, self.neutral_scores(texts))]


def _zscore(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    spread = array.std()
    return (array - array.mean()) / spread if spread > 1e-12 else np.zeros_like(array)


def blend(fusion_scores: Sequence[float], llm_scores: Sequence[float], weight: float) -> list[float]:
    """(1 − weight)·z(fusion) + weight·z(llm): both z-normalized over the head so neither scale dominates."""
    if len(fusion_scores) != len(llm_scores):
        raise ValueError(f"blend needs equal lengths, got {len(fusion_scores)} and {len(llm_scores)}")
    mixed = (1.0 - weight) * _zscore(fusion_scores) + weight * _zscore(llm_scores)
    return mixed.tolist()
