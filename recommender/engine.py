"""The recommender as one object, built once per process: fused candidates → the learned ranker (LightGBM over
candidate features; Settings.learned_ranker) → LLM re-ranking of the head (Settings.llm_rank, when
Settings.rank_weight > 0; off by default) →
diversified cards → explanations, written as the cards are shown."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from core.item import Item
from core.profile import Profile
from core.settings import Settings
from explain.evidence import Evidence, build_evidence, keyword_forms
from explain.writer import Explainer, Explanation
from knowledge_graph.paths import EvidencePath, evidence_paths
from llm.model import LLM
from llm.text_model import LLMError, TextModel
from recommender.artifacts import Artifacts, load_artifacts
from recommender.candidates import Candidate, CandidateGenerator, Query, StageTimes
from recommender.learned_ranker import LearnedRanker
from recommender.ranker_features import candidate_features
from recommender.ranking import LLMRanker, blend

log = logging.getLogger(__name__)


@dataclass
class WhyView:
    """Everything the "why?" view shows for one item."""

    item: Item
    evidence: Evidence
    paths: list[EvidencePath]
    path_texts: list[str]
    explanation: Explanation | None = None


@dataclass
class Ranked:
    candidates: list[Candidate]
    times: StageTimes = field(default_factory=StageTimes)


class RecommenderEngine:
    def __init__(self, settings: Settings, artifacts: Artifacts | None = None, llm: TextModel | None = None):
        """llm: any TextModel (tests pass a fake); None loads the configured one on first use."""
        self.settings = settings
        self.artifacts = artifacts or load_artifacts(settings)
        self.generator = CandidateGenerator(self.artifacts, settings)
        self._llm = llm
        self._ranker: LLMRanker | None = None
        self._explainer: Explainer | None = None
        self.learned = (LearnedRanker.load(settings.ranker_path, settings.familiar_damping)
                        if settings.learned_ranker else None)
        self.feature_observer: Callable[[list[Candidate], np.ndarray], None] | None = None
        """Called with every fused candidate list and its ranker features (training collects them here)."""
        # A scan of every description (about 1.4 s for 16,654 films): done at start, not in a visitor's first turn.
        keyword_forms(self.catalog)

    @property
    def catalog(self):
        return self.artifacts.catalog

    @property
    def llm(self) -> TextModel:
        if self._llm is None:
            self._llm = LLM(self.settings)
        return self._llm

    @property
    def ranker(self) -> LLMRanker:
        if self._ranker is None:
            self._ranker = LLMRanker(self.llm, self.settings)
        return self._ranker

    @property
    def explainer(self) -> Explainer:
        if self._explainer is None:
            # The template path never asks the model, so it is not loaded for it.
            llm = None if self.settings.explain_mode == "template" else self.llm
            self._explainer = Explainer(llm, self.settings)
        return self._explainer

    def recommend(self, profile: Profile, query: Query, n: int, *, rank: bool | None = None,
                  diversity: float | None = None) -> Ranked:
        """The n best items for this profile and query, best first."""
        times = StageTimes()
        candidates = self.generator.generate(profile, query, times)
        if candidates and (self.learned is not None or self.feature_observer is not None):
            started = time.perf_counter()
            features = candidate_features(candidates, profile, query, self.catalog, self.artifacts.cooc,
                                          self.settings.rrf_k, self.generator.family.prefer_genres)
            if self.feature_observer is not None:
                self.feature_observer(candidates, features)
            if self.learned is not None:
                candidates = self.learned.rank(candidates, features)
            times.add("learned_rank", started)
        rank = self.settings.llm_rank if rank is None else rank
        if rank and candidates and self.settings.rank_weight > 0:
            started = time.perf_counter()
            candidates = self._llm_rank(candidates, profile, query)
            times.add("rank", started)
        # The cards shown are diversified; a longer list (the evaluation's top 50) continues in ranked order after
        # them, so that what is scored is what ships.
        started = time.perf_counter()
        shown = n if n <= self.settings.cards * 2 else self.settings.cards
        head = self.generator.diversify(candidates, shown, diversity)
        picked = {c.item.item_id for c in head}
        candidates = head + [c for c in candidates if c.item.item_id not in picked]
        times.add("filter", started)
        return Ranked(candidates[:n], times)

    def _llm_rank(self, candidates: list[Candidate], profile: Profile, query: Query) -> list[Candidate]:
        """Blend the LLM's score into the head of the list; the fusion order stands when the model fails."""
        head = candidates[: self.settings.rank_top_n]
        try:
            llm_scores = self.ranker.rank([c.item for c in head], profile, query.text)
        except LLMError as error:
            log.warning("LLM ranking failed, keeping the fusion order: %s", error)
            return candidates
        blended = blend([c.score for c in head], llm_scores, self.settings.rank_weight)
        for candidate, llm_score, score in zip(head, llm_scores, blended):
            candidate.llm_score = llm_score
            candidate.score = score
        # Blended scores live on another scale: keep the LLM-ranked head ahead of the tail.
        head.sort(key=lambda c: (-c.score, c.item.item_id))
        return head + candidates[len(head):]

    def evidence(self, item: Item, profile: Profile) -> Evidence:
        return build_evidence(item, profile, self.artifacts.kg, self.catalog)

    def explain_stream(self, items: list[Item], profile: Profile) -> Iterator[tuple[int, Explanation]]:
        """(card index, explanation) as each line is written."""
        pairs = [(item, self.evidence(item, profile)) for item in items]
        yield from enumerate(self.explainer.explain_many(pairs))

    def why(self, item_id: str, profile: Profile) -> WhyView | None:
        item = self.catalog.get(item_id)
        if item is None:
            return None
        evidence = self.evidence(item, profile)
        sources = [e.node_id for e in profile.liked() if e.kind != "mood"]
        paths = evidence_paths(self.artifacts.kg, sources, item.item_id) if sources else []
        return WhyView(item, evidence, paths, [p.describe(self.artifacts.kg) for p in paths])
