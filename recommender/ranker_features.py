"""Per-candidate features of the learned ranker (recommender.learned_ranker), computed the same way at serving
and at training time. One row per candidate, columns in FEATURES order:

- ``rrf_<source>``: the source's reciprocal-rank contribution 1 / (rrf_k + rank + 1), 0 when the source did not
  propose the item — one column per source of recommender.candidates.SOURCES (dense retrieval, graph PageRank,
  co-occurrence, "often talked about", popularity, sequence);
- ``n_sources``: how many sources proposed it; ``fused``: log(1 + 100 × the hand-weighted fusion score);
- ``popularity``: the catalog's 0..1 popularity; ``talked_about``: log(1 + ReDial train conversations naming it;
  for a film newer than those conversations, the typical count of films as popular: Cooccurrence.talked_about);
- ``genre_overlap``, ``people_overlap``, ``keyword_overlap``: how much of the item matches what the profile likes
  (genres and people and keywords said outright, or those of the liked films);
- ``focus``: the strongest genre of the latest mood/genre request the item has (0..1);
- ``family_pick``: 1 when the family filter is on and the item is Family or Animation;
- ``seeds``: log(1 + liked items in the profile) — how much the other columns can be trusted;
- ``has_year``, ``has_overview``: what the catalog knows about the item;
- ``year``: the release year (0 when unknown; capped at the newest year the conversations cover) — ReDial's
  recommenders favoured recent films, a habit of the task, not of one worker, that held on later, unseen workers
  (bench.ranker_training's time-ordered folds).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from core.catalog import Catalog
from core.ids import NodeId
from core.profile import Profile
from core.vocabulary import Kind
from recommender.candidates import SOURCES, Candidate, Query
from recommender.cooccurrence import Cooccurrence

FEATURES: tuple[str, ...] = tuple(f"rrf_{source}" for source in SOURCES) + (
    "n_sources", "fused", "popularity", "talked_about", "genre_overlap", "people_overlap", "keyword_overlap",
    "focus", "family_pick", "seeds", "has_year", "has_overview", "year",
)


class _Taste:
    """What the profile likes, by genre, person and keyword (said outright or carried by liked films)."""

    def __init__(self, profile: Profile, query: Query, catalog: Catalog):
        self.genres: Counter[str] = Counter()
        self.people: Counter[str] = Counter()
        self.keywords: Counter[str] = Counter()
        items = {e.item_id: e.weight for e in profile.liked("item")}
        items.update({i: max(w, items.get(i, 0.0)) for i, w in query.anchor_items.items()})
        self.seeds = len(items)
        for item_id, weight in items.items():
            item = catalog.get(item_id)
            if item is None:
                continue
            for genre in item.genres:
                self.genres[genre] += weight
            for _, name in item.all_people():
                self.people[name] += weight
            for keyword in item.keywords:
                self.keywords[keyword] += weight
        tables = {Kind.GENRE: self.genres, Kind.PERSON: self.people, Kind.KEYWORD: self.keywords}
        for entry in profile.liked():
            table = tables.get(entry.kind)
            if table is not None:
                table[NodeId.parse(entry.node_id).key] += 2.0 * entry.weight
        self.genre_total = sum(self.genres.values()) or 1.0


def candidate_features(candidates: list[Candidate], profile: Profile, query: Query, catalog: Catalog,
                       cooc: Cooccurrence, rrf_k: float, family_genres: frozenset[str]) -> np.ndarray:
    """A (len(candidates), len(FEATURES)) float32 matrix."""
    taste = _Taste(profile, query, catalog)
    rows = np.zeros((len(candidates), len(FEATURES)), dtype=np.float32)
    seeds = math.log1p(taste.seeds)
    newest = cooc.newest_year  # a film newer than the conversations looks as recent as their newest films
    for r, candidate in enumerate(candidates):
        item = candidate.item
        row = [1.0 / (rrf_k + candidate.ranks[s] + 1) if s in candidate.ranks else 0.0 for s in SOURCES]
        genre_overlap = sum(taste.genres.get(g, 0.0) for g in item.genres) / taste.genre_total
        people = sum(1.0 for _, name in item.all_people() if name in taste.people)
        keywords = sum(1.0 for k in item.keywords if k in taste.keywords)
        focus = max((query.focus_genres.get(g, 0.0) for g in item.genres), default=0.0)
        family = float(bool(query.constraints.family and set(item.genres) & family_genres))
        row += [len(candidate.ranks), math.log1p(100.0 * max(candidate.score, 0.0)), item.popularity,
                math.log1p(cooc.talked_about(item)), genre_overlap, math.log1p(people),
                math.log1p(keywords), focus, family, seeds, float(item.year is not None), float(item.has_overview),
                float(min(item.year, newest) if item.year and newest else item.year or 0)]
        rows[r] = row
    return rows
