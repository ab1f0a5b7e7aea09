"""`liner train-ranker`: build the learned ranker (recommender.learned_ranker) from the ReDial train dialogues.

Only the *tune* split is read (bench.redial.select_split): the 300 validation dialogues are never seen. Each tune
dialogue is walked exactly as `liner eval redial` walks it — same session code, the dialogue's own conversation
left out of every co-occurrence/sequence count — and at every recommender turn that names a movie, the fused
candidate list before it becomes one ranked list: label 1 for the movies that turn names (context movies
excluded), 0 for the rest. Lists with no positive among the candidates teach nothing and are dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench.redial import (
    RECOMMENDER,
    SEEKER,
    TOP_K,
    TUNE,
    Dialogue,
    comentions_without,
    load_redial,
    map_movies,
    sample_points,
)
from recommender import learned_ranker

log = logging.getLogger(__name__)


@dataclass
class RankingLists:
    features: np.ndarray
    labels: np.ndarray
    groups: list[int]


def collect_lists(assistant, dialogues: list[Dialogue], movie_names: dict[str, str],
                  progress: bool = True) -> RankingLists:
    """The ranked lists of every scored turn of these dialogues (see the module docstring)."""
    mapping = map_movies(movie_names, assistant.engine.catalog)
    engine = assistant.engine
    latest: dict[str, object] = {}
    engine.feature_observer = lambda candidates, features: latest.update(c=candidates, f=features)
    rows, labels, groups = [], [], []
    try:
        for dialogue in tqdm(dialogues, desc="ranker lists", unit="dialogue", disable=not progress):
            points = sample_points(dialogue)
            by_turn: dict[int, list] = {}
            for point in points:
                by_turn.setdefault(point.turn, []).append(point)
            if not by_turn:
                continue
            with comentions_without(assistant, dialogue.conversation_id):
                session = assistant.session()
                for index, turn in enumerate(dialogue.turns):
                    if turn.role == SEEKER:
                        latest.clear()
                        session.handle(turn.text, explain=False, n_cards=TOP_K, rank=False)
                        continue
                    if turn.role == RECOMMENDER and index in by_turn and latest:
                        context = {mapping.get(m) for m in by_turn[index][0].context_movies}
                        truth = {mapping.get(p.movie) for p in by_turn[index]} - context - {None}
                        candidates, features = latest["c"], latest["f"]
                        label = np.array([c.item.item_id in truth for c in candidates], dtype=np.float32)
                        if label.any():
                            rows.append(features)
                            labels.append(label)
                            groups.append(len(candidates))
                    session.observe_assistant(turn.text)
    finally:
        engine.feature_observer = None
    return RankingLists(np.vstack(rows), np.concatenate(labels), groups)


def train_ranker(assistant, redial_file: Path, out: Path, limit: int | None = None,
                 progress: bool = True) -> dict[str, int]:
    """Collect the tune split's lists, fit the model, write it to out; return counts to print."""
    dialogues, movie_names = load_redial(Path(redial_file), limit, TUNE)
    lists = collect_lists(assistant, dialogues, movie_names, progress)
    learned_ranker.fit(lists.features, lists.labels, lists.groups, out)
    return {"dialogues": len(dialogues), "lists": len(lists.groups), "rows": int(len(lists.labels)),
            "positives": int(lists.labels.sum())}
