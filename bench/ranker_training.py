"""`liner train-ranker`: build the learned ranker (recommender.learned_ranker) from the ReDial train dialogues.

Only the *tune* split is read (bench.redial.select_split): dialogues before the time cut, never the validation
dialogues of new workers after it. Each tune dialogue is walked exactly as `liner eval redial` walks it — same
session code, and collaborative signals only from conversations before its block of time, less its own workers'
(bench.redial.SignalHistory), so the model learns what transfers to people it has never met — and at every
recommender turn that names a new movie, the fused candidate list before it becomes one ranked list: label 1 for the
new movies that turn names, 0 for the rest. Lists with no positive among the candidates teach nothing and are
dropped from the fit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench.redial import (
    RECOMMENDER,
    SEEKER,
    TOP_K,
    TUNE,
    Dialogue,
    load_redial,
    map_movies,
    SignalHistory,
    sample_points,
    signals_for,
)
from recommender import learned_ranker

log = logging.getLogger(__name__)


@dataclass
class RankingLists:
    features: np.ndarray
    labels: np.ndarray
    groups: list[int]
    """Rows per list, in order."""
    dialogues: list[int] = field(default_factory=list)
    """The ReDial conversation number of each list."""
    truths: list[int] = field(default_factory=list)
    """How many ground-truth movies each list's turn named (those outside the candidates count as misses)."""
    factors: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    """Each row's multiplicative turn factor (candidates.Candidate.factor)."""
    items: list[str] = field(default_factory=list)
    """Each row's catalog item id."""

    def subset(self, keep: list[bool]) -> "RankingLists":
        """The lists whose flag is set, in order."""
        starts = np.concatenate([[0], np.cumsum(self.groups)])
        rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i, k in enumerate(keep) if k] or
                              [np.zeros(0, dtype=int)])
        pick = [i for i, k in enumerate(keep) if k]
        return RankingLists(self.features[rows], self.labels[rows], [self.groups[i] for i in pick],
                            [self.dialogues[i] for i in pick], [self.truths[i] for i in pick], self.factors[rows],
                            [self.items[r] for r in rows])

    def recall(self, scores: np.ndarray, k: int = 10) -> float:
        """Share of all ground-truth movies that these scores rank in the top k of their list."""
        hits, start = 0.0, 0
        for size in self.groups:
            order = np.argsort(-scores[start:start + size], kind="stable")[:k]
            hits += float(self.labels[start:start + size][order].sum())
            start += size
        return hits / max(sum(self.truths), 1)


def collect_lists(assistant, dialogues: list[Dialogue], movie_names: dict[str, str], split: str = TUNE,
                  progress: bool = True) -> RankingLists:
    """The ranked lists of every scored turn of these dialogues (see the module docstring), each with the signals
    its split allows (bench.redial.SignalHistory)."""
    mapping = map_movies(movie_names, assistant.engine.catalog)
    engine = assistant.engine
    history = SignalHistory(engine.artifacts.cooc, split)
    latest: dict[str, object] = {}
    engine.feature_observer = lambda candidates, features: latest.update(c=candidates, f=features)
    lists = RankingLists(np.zeros((0, 0)), np.zeros(0), [])
    rows, labels, factors = [], [], []
    try:
        for dialogue in tqdm(dialogues, desc="ranker lists", unit="dialogue", disable=not progress):
            by_turn: dict[int, list] = {}
            for point in sample_points(dialogue):
                by_turn.setdefault(point.turn, []).append(point)
            if not by_turn:
                continue
            with signals_for(assistant, history, dialogue):
                session = assistant.session()
                for index, turn in enumerate(dialogue.turns):
                    if turn.role == SEEKER:
                        latest.clear()
                        session.handle(turn.text, explain=False, n_cards=TOP_K, rank=False)
                        continue
                    if turn.role == RECOMMENDER and index in by_turn and latest:
                        context = {mapping.get(m) for m in by_turn[index][0].context_movies}
                        new = [p for p in by_turn[index] if p.new]
                        truth = {mapping.get(p.movie) for p in new} - context - {None}
                        # Films newer than the conversations could not be named in them: their labels say
                        # nothing, so they stay out of the lists rather than teach that recent films are wrong.
                        known = [i for i, c in enumerate(latest["c"]) if not engine.artifacts.cooc.is_newer(c.item)]
                        candidates = [latest["c"][i] for i in known]
                        features = latest["f"][known]
                        label = np.array([c.item.item_id in truth for c in candidates], dtype=np.float32)
                        if new and len(candidates):
                            rows.append(features)
                            labels.append(label)
                            factors.append(np.array([c.factor for c in candidates], dtype=np.float32))
                            lists.items += [c.item.item_id for c in candidates]
                            lists.groups.append(len(candidates))
                            lists.dialogues.append(dialogue.number)
                            lists.truths.append(len(new))
                    session.observe_assistant(turn.text)
    finally:
        engine.feature_observer = None
    lists.features, lists.labels, lists.factors = np.vstack(rows), np.concatenate(labels), np.concatenate(factors)
    return lists


def time_folds(lists: RankingLists, folds: int = 4) -> list[tuple[RankingLists, RankingLists]]:
    """Forward-chaining folds: the lists cut into `folds` chronological parts; fold k trains on the parts before
    part k and validates on part k (as the shipped ranker serves people who came after its data)."""
    order = sorted(set(lists.dialogues))
    edges = [order[len(order) * part // folds] for part in range(1, folds)] + [order[-1] + 1]
    result = []
    for k in range(1, folds):
        train = [d < edges[k - 1] for d in lists.dialogues]
        held = [edges[k - 1] <= d < edges[k] for d in lists.dialogues]
        result.append((lists.subset(train), lists.subset(held)))
    return result


def trainable(lists: RankingLists) -> RankingLists:
    """The lists with a positive among their candidates (the others teach a ranker nothing)."""
    starts = np.concatenate([[0], np.cumsum(lists.groups)[:-1]])
    return lists.subset([bool(lists.labels[start:start + size].any()) for start, size in zip(starts, lists.groups)])


def cross_validate(lists: RankingLists, rounds: tuple[int, ...], folds: int = 4) -> dict[int, list[float]]:
    """Held-out new-item recall@10 of each number of boosting rounds on the time-ordered folds (time_folds)."""
    import lightgbm

    result: dict[int, list[float]] = {r: [] for r in rounds}
    for train, held in time_folds(lists, folds):
        train = trainable(train)
        data = lightgbm.Dataset(train.features, train.labels, group=train.groups,
                                feature_name=list(learned_ranker.FEATURES))
        booster = lightgbm.train(learned_ranker.PARAMS, data, num_boost_round=max(rounds))
        for r in rounds:
            result[r].append(held.recall(booster.predict(held.features, num_iteration=r)))
    return result


def train_ranker(assistant, redial_file: Path, out: Path, limit: int | None = None, progress: bool = True,
                 cv_rounds: tuple[int, ...] = ()) -> dict[str, int | str]:
    """Collect the tune split's lists, fit the model, write it to out; return counts (and, with cv_rounds, the
    time-ordered cross-validation of those round counts) to print."""
    dialogues, movie_names = load_redial(Path(redial_file), limit, TUNE)
    lists = collect_lists(assistant, dialogues, movie_names, TUNE, progress)
    counts: dict[str, int | str] = {}
    if cv_rounds:
        for rounds, recalls in cross_validate(lists, cv_rounds).items():
            counts[f"cv R@10 r{rounds}"] = f"{np.mean(recalls):.4f} ({' '.join(f'{r:.3f}' for r in recalls)})"
    fit_on = trainable(lists)
    learned_ranker.fit(fit_on.features, fit_on.labels, fit_on.groups, out)
    return counts | {"dialogues": len(dialogues), "lists": len(fit_on.groups), "rows": int(len(fit_on.labels)),
                     "positives": int(fit_on.labels.sum())}
