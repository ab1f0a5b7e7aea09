"""Candidate generation: dense retrieval ∪ knowledge-graph PageRank ∪ co-occurrence ∪ popularity, fused by
weighted reciprocal rank, filtered (rejected, seen, constraints) and diversified (MMR)."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from core.ids import NodeId, item_node
from core.item import Item
from core.preferences import Constraints
from core.profile import Profile
from core.settings import Settings
from core.stats import top_scored
from core.vocabulary import Kind
from recommender.artifacts import Artifacts
from recommender.audience import FamilyRules, load_family_rules

log = logging.getLogger(__name__)

SOURCES = ("dense", "kg", "cooc", "conversations", "popularity", "sequence")


@dataclass
class Candidate:
    item: Item
    score: float
    """Fused score (weighted reciprocal rank, adjusted by preferences)."""
    ranks: dict[str, int] = field(default_factory=dict)
    """Rank of the item in each source that proposed it (0 = first)."""
    factor: float = 1.0
    """Product of the turn's multiplicative adjustments (focus genres, family, preferences, unknown facts,
    novelty) already in score; the learned ranker applies them to its own score."""
    llm_score: float | None = None


@dataclass
class Query:
    """What the recommender is asked for this turn, derived from the profile and the message."""

    text: str = ""
    """Free text to embed (moods, genres, the message itself); empty = no text signal."""
    constraints: Constraints = field(default_factory=Constraints)
    exclude: set[str] = field(default_factory=set)
    """Item ids never to return (rejected, seen, mentioned in this conversation)."""
    anchor_items: dict[str, float] = field(default_factory=dict)
    """Item ids to recommend *around* this turn ("more like X"), with weights; added to the profile's likes."""
    boost_nodes: dict[str, float] = field(default_factory=dict)
    """Graph nodes the turn favours without the user naming them (a mood's typical keywords), with weights."""
    focus_genres: dict[str, float] = field(default_factory=dict)
    """Genres of the latest mood or genre request (0..1): they re-rank by Settings.focus_genre_weight, so that
    "something lighter now, funny please" outweighs a horror-heavy taste history."""


@dataclass
class StageTimes:
    ms: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, started: float) -> None:
        self.ms[stage] = self.ms.get(stage, 0.0) + (time.perf_counter() - started) * 1000


def _seed_weights(profile: Profile, query: Query, settings: Settings) -> tuple[dict[str, float], dict[str, float]]:
    """(liked item ids -> weight, liked graph nodes -> weight) from the profile and the query's anchors."""
    items: dict[str, float] = {}
    nodes: dict[str, float] = {}
    for entry in profile.liked():
        if entry.kind == "item":
            items[entry.item_id] = entry.weight
        if entry.kind != "mood":
            nodes[entry.node_id] = entry.weight
    for node, weight in query.boost_nodes.items():
        nodes.setdefault(node, settings.mood_keyword_seed * weight)
    for item_id, weight in query.anchor_items.items():
        items[item_id] = max(items.get(item_id, 0.0), weight)
        node = item_node(item_id)
        nodes[node] = max(nodes.get(node, 0.0), weight)
    return items, nodes


class CandidateGenerator:
    def __init__(self, artifacts: Artifacts, settings: Settings):
        self.artifacts = artifacts
        self.settings = settings
        catalog = artifacts.catalog
        self._by_popularity = sorted(catalog.items, key=lambda item: -item.popularity)
        self.family: FamilyRules = load_family_rules(settings.assets_dir)

    # --- sources ------------------------------------------------------------------------------------
    def _dense(self, profile: Profile, query: Query, liked_items: dict[str, float]) -> list[str]:
        art = self.artifacts
        parts = []
        if query.text.strip():
            parts.append(art.encoder.encode_query(query.text))
        rows = [art.catalog.index_of[i] for i in liked_items if i in art.catalog.index_of]
        if rows:
            weights = np.array([liked_items[art.catalog.items[r].item_id] for r in rows], dtype=np.float32)
            parts.append((art.item_vectors[rows] * weights[:, None]).sum(axis=0) / weights.sum())
        if not parts:
            return []
        vector = np.mean(parts, axis=0).astype(np.float32)
        disliked_ids = (e.item_id for e in profile.disliked("item"))
        disliked = [art.catalog.index_of[i] for i in disliked_ids if i in art.catalog.index_of]
        if disliked:
            vector -= self.settings.dense_dislike_push * art.item_vectors[disliked].mean(axis=0)
        vector /= np.linalg.norm(vector) or 1.0
        hits = art.index.search(vector, self.settings.candidates_per_source + len(query.exclude))
        return [art.catalog.items[row].item_id for row, _ in hits]

    def _kg(self, nodes: dict[str, float]) -> list[str]:
        if not nodes:
            return []
        scores = self.artifacts.ppr.scores(
            nodes, alpha=self.settings.ppr_alpha, top_k=self.settings.candidates_per_source
        )
        return [item_id for item_id, _ in top_scored(scores)]

    def _cooc(self, liked_items: dict[str, float]) -> list[str]:
        if not liked_items:
            return []
        scores = self.artifacts.cooc.scores(liked_items, top_k=self.settings.candidates_per_source)
        return [item_id for item_id, _ in top_scored(scores)]

    def _sequence(self, liked_items: dict[str, float]) -> list[str]:
        """What recommendation conversations bring up next after the liked items (ordered co-mentions)."""
        if not liked_items:
            return []
        scores = self.artifacts.cooc.next_scores(liked_items, top_k=self.settings.candidates_per_source)
        return [item_id for item_id, _ in top_scored(scores)]

    def _popular(self, query: Query, ranked: Iterable[Item]) -> list[str]:
        """The first items of a popularity order that fit the constraints."""
        picked = []
        for item in ranked:
            if self._fits(item, query.constraints) and item.item_id not in query.exclude:
                picked.append(item.item_id)
                if len(picked) >= self.settings.candidates_per_source:
                    break
        return picked

    def _talked_about(self, query: Query) -> list[str]:
        """Items most often brought up in recommendation conversations (ReDial train), fitting the constraints."""
        by_id = self.artifacts.catalog.by_id
        return self._popular(query, (by_id[i] for i in self.artifacts.cooc.popular(len(by_id)) if i in by_id))

    # --- fusion -------------------------------------------------------------------------------------
    def generate(self, profile: Profile, query: Query, times: StageTimes | None = None) -> list[Candidate]:
        """Fused, filtered candidates, best first (not yet diversified or LLM-ranked)."""
        times = times or StageTimes()
        liked_items, nodes = _seed_weights(profile, query, self.settings)

        started = time.perf_counter()
        lists = {"dense": self._dense(profile, query, liked_items)}
        times.add("retrieve", started)
        started = time.perf_counter()
        lists["kg"] = self._kg(nodes)
        times.add("kg", started)
        started = time.perf_counter()
        lists["cooc"] = self._cooc(liked_items)
        lists["sequence"] = self._sequence(liked_items)
        times.add("retrieve", started)
        result = self._fuse(profile, query, lists, liked_items, times)
        known_matches = sum(1 for c in result if c.item.genres)
        if known_matches < self.settings.cards and query.constraints.include_genres:
            # Too few items are known to match the asked genres (those whose genres the catalog lacks pass any
            # genre): relax that constraint rather than show nothing or only them. Only the two sources that walk
            # a constraint-filtered order depend on it; the others are reused.
            relaxed = dataclasses.replace(query, constraints=dataclasses.replace(query.constraints,
                                                                                 include_genres=[]))
            result = self._fuse(profile, relaxed, lists, liked_items, times)
        return result

    def _fuse(self, profile: Profile, query: Query, lists: dict[str, list[str]], liked_items: dict[str, float],
              times: StageTimes) -> list[Candidate]:
        """The constraint-filtered popularity sources added to the other lists, fused by weighted reciprocal rank,
        filtered and adjusted by the turn's factors."""
        s = self.settings
        started = time.perf_counter()
        lists = lists | {"conversations": self._talked_about(query),
                         "popularity": self._popular(query, self._by_popularity)}
        times.add("retrieve", started)
        weights = {"dense": s.weight_dense, "kg": s.weight_kg, "cooc": s.weight_cooc,
                   "conversations": s.weight_conversations, "popularity": s.weight_popularity,
                   "sequence": s.weight_sequence}
        if s.prior_half_signals > 0:
            said = len(profile.liked()) + len(query.anchor_items) + len(query.boost_nodes)
            for prior in ("conversations", "popularity"):
                weights[prior] /= 1.0 + said / s.prior_half_signals
        if profile.novelty == "familiar":
            weights["popularity"] *= s.familiar_popularity_boost
        fused: dict[str, Candidate] = {}
        catalog = self.artifacts.catalog
        excluded = query.exclude | profile.rejected | profile.seen | set(liked_items)
        for source in SOURCES:
            for rank, item_id in enumerate(lists[source]):
                if item_id in excluded:
                    continue
                candidate = fused.get(item_id)
                if candidate is None:
                    candidate = fused[item_id] = Candidate(item=catalog.by_id[item_id], score=0.0)
                candidate.ranks[source] = rank
                candidate.score += weights[source] / (s.rrf_k + rank + 1)

        started = time.perf_counter()
        penalties = _preference_penalties(profile, s)
        for node, weight in query.boost_nodes.items():
            penalties.setdefault(node, 1.0 + s.mood_keyword_boost * weight)
        facet_factors = _by_kind(penalties)
        result = []
        for candidate in fused.values():
            item = candidate.item
            if not self._fits(item, query.constraints):
                continue
            factor = _focus_factor(item, query.focus_genres, s.focus_genre_weight)
            factor *= _preference_factor(item, facet_factors, s.min_taste_factor)
            factor *= _unknown_factor(item, query.constraints, s.unknown_fact_factor)
            if query.constraints.family:
                factor *= self.family.factor(item)
            if profile.novelty == "new":
                factor *= 1.0 - s.new_popularity_discount * item.popularity
            candidate.factor = factor
            candidate.score *= factor
            result.append(candidate)
        result.sort(key=lambda c: (-c.score, c.item.item_id))
        times.add("filter", started)
        return result

    def _fits(self, item: Item, constraints: Constraints) -> bool:
        """The constraints' hard filter, the family one included (never relaxed)."""
        return _fits(item, constraints) and (not constraints.family or self.family.suitable(item))

    def diversify(self, candidates: list[Candidate], n: int, diversity: float | None = None) -> list[Candidate]:
        """Maximal marginal relevance: trade the fused score against similarity to cards already picked."""
        diversity = self.settings.diversity if diversity is None else diversity
        if not candidates:
            return []
        pool = candidates[: max(n * 6, 30)]
        rows = [self.artifacts.catalog.index_of[c.item.item_id] for c in pool]
        vectors = self.artifacts.item_vectors[rows]
        scores = np.array([c.score for c in pool], dtype=np.float32)
        relevance = (scores - scores.min()) / (np.ptp(scores) or 1.0)
        chosen: list[int] = []
        max_sim = np.zeros(len(pool), dtype=np.float32)
        available = np.ones(len(pool), dtype=bool)
        while len(chosen) < min(n, len(pool)):
            value = (1 - diversity) * relevance - diversity * max_sim
            value[~available] = -np.inf
            pick = int(np.argmax(value))
            chosen.append(pick)
            available[pick] = False
            max_sim = np.maximum(max_sim, vectors @ vectors[pick])
        return [pool[i] for i in chosen]


def _fits(item: Item, constraints: Constraints) -> bool:
    """Hard filter. An item whose genres the catalog does not know is not ruled out by a genre constraint (unknown
    is not a mismatch; _unknown_factor ranks it lower instead). An unknown year, runtime or language is: "from the
    last few years" or "something short" is a promise a guess would break."""
    if constraints.year_min and (item.year is None or item.year < constraints.year_min):
        return False
    if constraints.year_max and (item.year is None or item.year > constraints.year_max):
        return False
    if item.genres:
        if constraints.exclude_genres and set(item.genres) & set(constraints.exclude_genres):
            return False
        if constraints.include_genres and not set(item.genres) & set(constraints.include_genres):
            return False
    if constraints.runtime_min and (item.runtime is None or item.runtime < constraints.runtime_min):
        return False
    if constraints.runtime_max and (item.runtime is None or item.runtime > constraints.runtime_max):
        return False
    if constraints.languages and item.language not in constraints.languages:
        return False
    if constraints.exclude_languages and (item.language is None or item.language in constraints.exclude_languages):
        return False
    return True


def _focus_factor(item: Item, focus: dict[str, float], weight: float) -> float:
    """1 + weight × the strongest focus genre the item has (1 when it has none, or nothing is in focus)."""
    if not focus or weight <= 0:
        return 1.0
    return 1.0 + weight * max((focus.get(genre, 0.0) for genre in item.genres), default=0.0)


def _unknown_factor(item: Item, constraints: Constraints, penalty: float) -> float:
    """Down-weight items that passed a genre constraint only because the catalog lacks their genres."""
    factor = 1.0
    if not item.genres and (constraints.include_genres or constraints.exclude_genres):
        factor *= penalty
    return factor


def _preference_penalties(profile: Profile, settings: Settings) -> dict[str, float]:
    """Graph nodes the user likes (>1) or dislikes (<1), as multiplicative factors."""
    factors = {}
    for entry in profile.entries:
        if entry.kind in {"genre", "person", "keyword", "decade"}:
            factors[entry.node_id] = (1.0 + settings.liked_facet_boost * entry.weight if entry.polarity > 0
                                      else 1.0 - settings.disliked_facet_cut * entry.weight)
    return factors


def _by_kind(factors: dict[str, float]) -> dict[Kind, dict[str, float]]:
    """Node factors as kind -> key -> factor: an item's facets are then looked up by their keys, without
    building a node id per facet of every candidate."""
    by_kind: dict[Kind, dict[str, float]] = {}
    for node, factor in factors.items():
        try:
            parsed = NodeId.parse(node)
        except ValueError:
            continue  # a stored entry that is no node id: it matches no facet, and must not fail the turn
        by_kind.setdefault(parsed.kind, {})[parsed.key] = factor
    return by_kind


def _preference_factor(item: Item, factors: dict[Kind, dict[str, float]], floor: float) -> float:
    """The product of the factors of the item's genres, people, keywords and decade (from _by_kind)."""
    if not factors:
        return 1.0
    facets = ((Kind.GENRE, item.genres), (Kind.PERSON, [name for _, name in item.all_people()]),
              (Kind.KEYWORD, item.keywords), (Kind.DECADE, (item.decade,) if item.decade else ()))
    factor = 1.0
    for kind, keys in facets:
        of_kind = factors.get(kind)
        if of_kind:
            for key in keys:
                factor *= of_kind.get(key, 1.0)
    return max(factor, floor)
