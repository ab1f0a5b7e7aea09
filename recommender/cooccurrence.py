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
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
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
    counts = _Counts.build([list(dict.fromkeys(items)) for items in conversations])
    return {item: {other: counts.comention(item, other, shrinkage) for other in row}
            for item, row in counts.pairs.items()}


Conversation = tuple[str, list[str]]
"""(conversation id, catalog item ids it mentions, in order of first mention when the file knows the order)."""


@dataclass
class _Counts:
    """Mention, pair and ordered-pair ("b came after a") counts over conversations. Subtracting a few
    conversations is an overlay (`minus`), so that an evaluation can leave each dialogue out in microseconds."""

    mentions: Counter[str] = field(default_factory=Counter)
    pairs: dict[str, Counter[str]] = field(default_factory=dict)
    follows: dict[str, Counter[str]] = field(default_factory=dict)
    """follows[a][b]: in how many conversations b was first mentioned after a, weighted 1 / (distance)."""
    minus: "_Counts | None" = None

    @classmethod
    def build(cls, sequences: Iterable[list[str]]) -> "_Counts":
        counts = cls()
        for items in sequences:
            counts.mentions.update(items)
            for i, a in enumerate(items):
                row = counts.pairs.setdefault(a, Counter())
                after = counts.follows.setdefault(a, Counter())
                for j, b in enumerate(items):
                    if i != j:
                        row[b] += 1
                    if j > i:
                        after[b] += 1.0 / (j - i)
        return counts

    def without(self, sequences: list[list[str]]) -> "_Counts":
        return _Counts(self.mentions, self.pairs, self.follows, _Counts.build(sequences))

    def mention_count(self, item: str) -> float:
        return self.mentions.get(item, 0) - (self.minus.mentions.get(item, 0) if self.minus else 0)

    def row(self, item: str, table: str = "pairs") -> dict[str, float]:
        """Counts of item's row, less the overlay; zero entries dropped."""
        row = getattr(self, table).get(item)
        if not row:
            return {}
        less = getattr(self.minus, table).get(item) if self.minus else None
        if not less:
            return row
        return {other: value - less.get(other, 0) for other, value in row.items()
                if value - less.get(other, 0) > 1e-9}

    def comention(self, a: str, b: str, shrinkage: float, count: float | None = None) -> float:
        count = self.row(a).get(b, 0) if count is None else count
        return count / (math.sqrt(self.mention_count(a) * self.mention_count(b)) + shrinkage)


class Cooccurrence:
    def __init__(self, movielens: Neighbours, conversations: list[Conversation], settings: Settings,
                 counts: _Counts | None = None):
        self.movielens = movielens
        self.conversations = conversations
        self.settings = settings
        self._counts = counts or _Counts.build([list(dict.fromkeys(items)) for _, items in conversations])
        counts_by_item: Counter[str] = Counter(item for _, items in conversations for item in set(items))
        self.conversation_counts = counts_by_item
        """How many recommendation conversations mention each item (a prior for cold, vague requests)."""
        self._by_frequency = [item for item, _ in counts_by_item.most_common()]

    @property
    def redial(self) -> Neighbours:
        """ReDial co-mention neighbours (shrunk cosine), as a full map; scores() reads the counts directly."""
        shrinkage = self.settings.redial_comention_shrinkage
        table = {item: {other: self._counts.comention(item, other, shrinkage, count)
                        for other, count in self._counts.row(item).items()}
                 for item in self._counts.pairs}
        return {item: row for item, row in table.items() if row}

    @classmethod
    def empty(cls, settings: Settings) -> "Cooccurrence":
        """For catalogs without interaction data (a freshly ingested one): the source proposes nothing."""
        return cls({}, [], settings)

    def without(self, conversation_ids: Iterable[str]) -> "Cooccurrence":
        """The same data less some conversations: an evaluation leaves out the dialogues it scores, whose own
        co-mentions would otherwise leak the labels. The counts of the left-out conversations become an
        overlay subtracted on reading, so this takes well under a millisecond per conversation."""
        excluded = {str(c) for c in conversation_ids}
        kept, removed = [], []
        for cid, items in self.conversations:
            (removed if cid in excluded else kept).append((cid, items))
        if not removed:
            return self
        base = self._counts if self._counts.minus is None else None
        counts = base.without([list(dict.fromkeys(items)) for _, items in removed]) if base else None
        return Cooccurrence(self.movielens, kept, self.settings, counts)

    @classmethod
    def load(cls, path: Path, catalog: Catalog, settings: Settings) -> "Cooccurrence":
        """Neighbour maps and conversations restricted to catalog items."""
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
        except (OSError, EOFError, zlib.error, ValueError, KeyError, TypeError) as exc:
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
        # "sequence" (items in order of first mention, with the seeker's liked flag) where the file has it.
        conversations = [
            (str(conv["conversation"]),
             [item_id for item_id in _ordered_items(conv) if item_id in known])
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
        shrinkage = self.settings.redial_comention_shrinkage
        totals: dict[str, float] = defaultdict(float)
        for seed, weight in seeds.items():
            for other, score in self.movielens.get(seed, {}).items():
                totals[other] += weight * score
            for other, count in self._counts.row(seed).items():
                totals[other] += weight * weight_redial * self._counts.comention(seed, other, shrinkage, count)
        for seed in seeds:
            totals.pop(seed, None)
        return dict(heapq.nlargest(top_k, totals.items(), key=lambda pair: pair[1]))

    def next_scores(self, seeds: dict[str, float], top_k: int = 100) -> dict[str, float]:
        """Sequence signal: which items recommendation conversations bring up *after* the seeds (ordered
        co-mentions, nearer = more), normalised by how often each seed is mentioned; seeds excluded."""
        shrinkage = self.settings.redial_comention_shrinkage
        totals: dict[str, float] = defaultdict(float)
        for seed, weight in seeds.items():
            norm = self._counts.mention_count(seed) + shrinkage
            for other, count in self._counts.row(seed, "follows").items():
                totals[other] += weight * count / norm
        for seed in seeds:
            totals.pop(seed, None)
        return dict(heapq.nlargest(top_k, totals.items(), key=lambda pair: pair[1]))


def _ordered_items(conversation: dict) -> list[str]:
    sequence = conversation.get("sequence")
    if sequence:
        return [str(entry[0]) for entry in sequence]
    return [str(item) for item in conversation["items"]]
