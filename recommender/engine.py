"""The recommender as one object: candidates → LLM ranking → explanations, built once per process."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Iterator

from knowledge_graph.paths import EvidencePath, evidence_paths
from recommender.artifacts import Artifacts, load_artifacts
from recommender.candidates import Candidate, CandidateGenerator, Query, StageTimes
from recommender.catalog import Item
from recommender.evidence import Evidence, build_evidence
from recommender.explain import Explainer, Explanation
from recommender.llm import LLM
from recommender.profile import Profile
from recommender.ranking import LLMRanker, blend
from recommender.settings import Settings

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
    def __init__(self, settings: Settings, artifacts: Artifacts | None = None, llm: LLM | None = None):
        self.settings = settings
        self.artifacts = artifacts or load_artifacts(settings)
        self.generator = CandidateGenerator(self.artifacts, settings)
        self._llm = llm
        self._ranker: LLMRanker | None = None
        self._explainer: Explainer | None = None

    @property
    def catalog(self):
        return self.artifacts.catalog

    @property
    def llm(self) -> LLM:
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
            self._explainer = Explainer(self.llm, self.settings)
        return self._explainer

    def recommend(self, profile: Profile, query: Query, n: int, *, rank: bool | None = None,
                  diversity: float | None = None) -> Ranked:
        """The n best items for this profile and query, best first."""
        times = StageTimes()
        candidates = self.generator.generate(profile, query, times)
        rank = self.settings.llm_rank if rank is None else rank
        if rank and candidates and self.settings.rank_weight > 0:
            started = time.perf_counter()
            head = candidates[: self.settings.rank_top_n]
            llm_scores = self.ranker.rank([c.item for c in head], profile, query.text)
            blended = blend([c.score for c in head], llm_scores, self.settings.rank_weight)
            for candidate, llm_score, score in zip(head, llm_scores, blended):
                candidate.llm_score = llm_score
                candidate.score = score
            # Blended scores live on another scale: keep the LLM-ranked head ahead of the tail.
            head.sort(key=lambda c: -c.score)
            candidates = head + candidates[len(head):]
            times.add("rank", started)
        if n <= self.settings.cards * 2:
            started = time.perf_counter()
            candidates = self.generator.diversify(candidates, n, diversity)
            times.add("filter", started)
        return Ranked(candidates[:n], times)

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
