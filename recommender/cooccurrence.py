"""Item-item co-occurrence as a candidate source: MovieLens rating neighbours plus ReDial co-mentions.

assets/cooccurrence.json.gz holds {"movielens": {item_id: [[neighbour_id, score], ...]},
"redial_conversations": [{"conversation": id, "items": [item_ids]}], "source": ...}. The ReDial part is kept as
raw conversations so that an evaluation can leave out the dialogues it scores (their own co-mentions would
otherwise leak the labels).
"""

from __future__ import annotations

import gzip
import heapq
import json
import logging
import math
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path
from typing import Iterable

from recommender.catalog import Catalog
from recommender.settings import Settings

log = logging.getLogger(__name__)

Neighbours = dict[str, dict[str, float]]


class CooccurrenceError(RuntimeError):
    """The co-occurrence file is missing or unreadable; the message names the file and the fix."""


def comention_neighbours(conversations: Iterable[Iterable[str]], shrinkage: float) -> Neighbours:
    """Shrunk cosine over conversations: c_ij / (sqrt(n_i * n_j) + shrinkage).

    The shrinkage keeps a single chance co-mention of two rare items from outscoring pairs that recur.
    """
    mentions: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for items in conversations:
        unique = sorted(set(items))
        mentions.update(unique)
        pairs.update(combinations(unique, 2))
    neighbours: Neighbours = defaultdict(dict)
    for (a, b), count in pairs.items():
        score = count / (math.sqrt(mentions[a] * mentions[b]) + shrinkage)
        neighbours[a][b] = score
        neighbours[b][a] = score
    return dict(neighbours)


Conversation = tuple[str, list[str]]
"""(conversation id, catalog item ids it mentions)."""


class Cooccurrence:
    def __init__(self, movielens: Neighbours, conversations: list[Conversation], settings: Settings):
        self.movielens = movielens
        self.conversations = conversations
        self.settings = settings
        self.redial = comention_neighbours((items for _, items in conversations), settings.redial_comention_shrinkage)
        counts: Counter[str] = Counter(item for _, items in conversations for item in set(items))
        self.conversation_counts = counts
        """How many recommendation conversations mention each item (a prior for cold, vague requests)."""
        self._by_frequency = [item for item, _ in counts.most_common()]

    @classmethod
    def empty(cls, settings: Settings) -> "Cooccurrence":
        """For catalogs without interaction data (a freshly ingested one): the source proposes nothing."""
        return cls({}, [], settings)

    def without(self, conversation_ids: Iterable[str]) -> "Cooccurrence":
        """The same data less some conversations: an evaluation leaves out the dialogues it scores, whose own
        co-mentions would otherwise leak the labels. Rebuilding takes a few milliseconds."""
        excluded = {str(c) for c in conversation_ids}
        kept = [(cid, items) for cid, items in self.conversations if cid not in excluded]
        return Cooccurrence(self.movielens, kept, self.settings)

    @classmethod
    def load(cls, path: Path, catalog: Catalog, settings: Settings | None = None) -> "Cooccurrence":
        """Neighbour maps and conversations restricted to catalog items."""
        settings = settings or Settings()
        path = Path(path)
        if not path.is_file():
            raise CooccurrenceError(
                f"co-occurrence file {path} does not exist: set LINER_COOCCURRENCE_PATH, or rebuild it with "
                f"`liner build-assets --shared ../shared/data`"
            )
        try:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as handle:
                data = json.load(handle)
            raw_movielens = data["movielens"]
            raw_conversations = data["redial_conversations"]
        except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
            raise CooccurrenceError(
                f"co-occurrence file {path} is corrupt ({exc.__class__.__name__}: {exc}): restore it with "
                f"`git checkout -- {path}` or rebuild it with `liner build-assets --shared ../shared/data`"
            ) from exc

        known = catalog.by_id
        movielens: Neighbours = {
            item_id: {other: float(score) for other, score in neighbours if other in known}
            for item_id, neighbours in raw_movielens.items()
            if item_id in known
        }
        conversations = [
            (str(conv["conversation"]), [item_id for item_id in conv["items"] if item_id in known])
            for conv in raw_conversations
        ]
        log.info("co-occurrence: %d MovieLens items, %d ReDial conversations", len(movielens), len(conversations))
        return cls(movielens, conversations, settings)

    def popular(self, top_k: int = 100) -> list[str]:
        """Items most often brought up in recommendation conversations, most frequent first."""
        return self._by_frequency[:top_k]

    def scores(self, seeds: dict[str, float], top_k: int = 100) -> dict[str, float]:
        """Weighted sum of the seeds' neighbours in both maps, seeds themselves excluded; the top_k best."""
        weight_redial = self.settings.weight_redial_comention
        totals: dict[str, float] = defaultdict(float)
        for seed, weight in seeds.items():
            for other, score in self.movielens.get(seed, {}).items():
                totals[other] += weight * score
            for other, score in self.redial.get(seed, {}).items():
                totals[other] += weight * weight_redial * score
        for seed in seeds:
            totals.pop(seed, None)
        return dict(heapq.nlargest(top_k, totals.items(), key=lambda pair: pair[1]))
