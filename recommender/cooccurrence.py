"""Item-item co-occurrence as a candidate source: MovieLens rating neighbours plus ReDial co-mentions.

assets/cooccurrence.json.gz holds {"movielens": {item_id: [[neighbour_id, score], ...]},
"redial_conversations": [{"conversation": id, "items": [item_ids], "workers": {"seeker": w, "recommender": w}}],
"source": ...} (workers only where ReDial names them). The ReDial part is kept as
raw conversations so that an evaluation can leave out the dialogues it scores (their own co-mentions would
otherwise leak the labels).
"""

from __future__ import annotations

import json
import logging
import math
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable

import numpy as np

from core.catalog import Catalog
from core.errors import FixableError
from core.files import open_text
from core.item import Item
from core.settings import Settings
from core.stats import top_scored

log = logging.getLogger(__name__)

Neighbours = dict[str, dict[str, float]]


class CooccurrenceError(FixableError):
    """The co-occurrence file is missing or unreadable; the message names the file and the fix."""


@dataclass(frozen=True)
class Conversation:
    """One ReDial train conversation as the collaborative signals see it."""

    conversation_id: str
    items: list[str]
    """Catalog item ids it mentions, in order of first mention when the file knows the order."""
    recommender: str | None = None
    """The recommending crowd worker, where the file names one (the 1,401 text dialogues)."""
    seeker: str | None = None

    @property
    def number(self) -> int:
        """ReDial numbers conversations in the order they were collected."""
        return int(self.conversation_id)

    @property
    def habit_key(self) -> str:
        """Whose habit a co-mention shows: the recommending worker when known, else this conversation alone."""
        return f"worker:{self.recommender}" if self.recommender else f"conversation:{self.conversation_id}"


@dataclass
class _Counts:
    """Mention, pair and ordered-pair ("b came after a") counts over conversations. Subtracting a few
    conversations is an overlay (`minus`), so that an evaluation can leave each dialogue out in microseconds.

    A crowd worker who recommended the same pair in many conversations counts once (each of those conversations
    adds 1/n for the pair, n = that worker's conversations with it): one busy recommender's favourites are one
    person's habit, not a law, and the people this app serves are never those workers."""

    mentions: Counter[str] = field(default_factory=Counter)
    pairs: dict[str, Counter[str]] = field(default_factory=dict)
    follows: dict[str, Counter[str]] = field(default_factory=dict)
    """follows[a][b]: in how many conversations b was first mentioned after a, weighted 1 / (distance)."""
    minus: "_Counts | None" = None

    @classmethod
    def build(cls, conversations: Iterable[Conversation]) -> "_Counts":
        distinct = [(conv.habit_key, list(dict.fromkeys(conv.items))) for conv in conversations]
        repeats: Counter[tuple[str, str, str]] = Counter()
        for key, items in distinct:
            repeats.update((key, a, "") for a in items)
            repeats.update((key, a, b) for a in items for b in items if a != b)
        counts = cls()
        for key, items in distinct:
            for a in items:
                counts.mentions[a] += 1.0 / repeats[key, a, ""]
            for i, a in enumerate(items):
                row = counts.pairs.setdefault(a, Counter())
                after = counts.follows.setdefault(a, Counter())
                for j, b in enumerate(items):
                    if i == j:
                        continue
                    share = 1.0 / repeats[key, a, b]
                    row[b] += share
                    if j > i:
                        after[b] += share / (j - i)
        return counts

    def without(self, conversations: list[Conversation]) -> "_Counts":
        """These counts less those of some conversations. Exact when the left-out conversations hold every
        conversation of their recommending workers; otherwise a worker's repeated pair loses its whole weight."""
        return _Counts(self.mentions, self.pairs, self.follows, _Counts.build(conversations))

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
        return count / (math.sqrt(max(self.mention_count(a) * self.mention_count(b), 0.0)) + shrinkage)


class Cooccurrence:
    def __init__(self, movielens: Neighbours, conversations: list[Conversation], settings: Settings,
                 counts: _Counts | None = None, catalog: Catalog | None = None):
        self.movielens = movielens
        self.conversations = conversations
        self.settings = settings
        self.catalog = catalog
        self._counts = counts or _Counts.build(conversations)
        self.conversation_counts: dict[str, float] = {
            item: count for item in self._counts.mentions if (count := self._counts.mention_count(item)) > 1e-9}
        """In how many recommendation conversations each item came up, a worker's repeats counted once (a prior
        for cold, vague requests)."""
        self._by_frequency = [item for item, _ in top_scored(self.conversation_counts)]

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
        for conv in self.conversations:
            (removed if conv.conversation_id in excluded else kept).append(conv)
        if not removed:
            return self
        base = self._counts if self._counts.minus is None else None
        counts = base.without(removed) if base else None
        return Cooccurrence(self.movielens, kept, self.settings, counts, self.catalog)

    def before(self, conversation_number: int) -> "Cooccurrence":
        """The same data built only from conversations collected before this ReDial conversation number: what the
        system knew before the people of a later conversation came along (the time-ordered validation split)."""
        kept = [conv for conv in self.conversations if conv.number < conversation_number]
        return Cooccurrence(self.movielens, kept, self.settings, catalog=self.catalog)

    def workers(self) -> dict[str, set[str]]:
        """Conversation id -> the crowd workers (seeker and recommender) it names, for the conversations that do."""
        return {conv.conversation_id: {w for w in (conv.seeker, conv.recommender) if w}
                for conv in self.conversations if conv.seeker or conv.recommender}

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
            with open_text(path) as handle:
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
            Conversation(str(conv["conversation"]),
                         [item_id for item_id in _ordered_items(conv) if item_id in known],
                         (conv.get("workers") or {}).get("recommender"), (conv.get("workers") or {}).get("seeker"))
            for conv in raw_conversations
        ]
        log.info("co-occurrence: %d MovieLens items, %d ReDial conversations", len(movielens), len(conversations))
        return cls(movielens, conversations, settings, catalog=catalog)

    @cached_property
    def newest_year(self) -> int | None:
        """The last release year the conversations cover (the newest year at least MIN_FILMS_OF_YEAR films of which
        came up); None without a catalog or conversations."""
        if self.catalog is None:
            return None
        years = Counter(item.year for item_id in self.conversation_counts
                        if (item := self.catalog.get(item_id)) is not None and item.year)
        covered = [year for year, films in years.items() if films >= MIN_FILMS_OF_YEAR]
        return max(covered) if covered else None

    @cached_property
    def _typical_counts(self) -> np.ndarray:
        """Mean conversation count of the covered films in each tenth of catalog popularity."""
        totals, films = np.zeros(POPULARITY_BINS), np.zeros(POPULARITY_BINS)
        for item in self.catalog.items if self.catalog is not None else ():
            if item.year and self.newest_year and item.year <= self.newest_year:
                b = _popularity_bin(item.popularity)
                totals[b] += self.conversation_counts.get(item.item_id, 0.0)
                films[b] += 1
        return totals / np.maximum(films, 1)

    def is_newer(self, item: Item) -> bool:
        """The film came out after the conversations were held: they could not have named it."""
        return bool(item.year and self.newest_year and item.year > self.newest_year)

    def talked_about(self, item: Item) -> float:
        """In how many conversations the film came up; for a film newer than the conversations, the typical count
        of covered films as popular, because its absence from them is no evidence against it."""
        if self.is_newer(item):
            return float(self._typical_counts[_popularity_bin(item.popularity)])
        return self.conversation_counts.get(item.item_id, 0.0)

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
        return dict(top_scored(totals, top_k))

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
        return dict(top_scored(totals, top_k))


MIN_FILMS_OF_YEAR = 20
"""A release year counts as covered by the conversations when at least this many of its films came up in them."""
POPULARITY_BINS = 10


def _popularity_bin(popularity: float) -> int:
    return min(int(popularity * POPULARITY_BINS), POPULARITY_BINS - 1)


def _ordered_items(conversation: dict) -> list[str]:
    sequence = conversation.get("sequence")
    if sequence:
        return [str(entry[0]) for entry in sequence]
    return [str(item) for item in conversation["items"]]
