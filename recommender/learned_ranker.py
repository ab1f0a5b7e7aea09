"""The learned ranker: a LightGBM lambdarank model over recommender.ranker_features, in place of the hand-set
fusion weights. Trained on the tune part of the ReDial train dialogues only (bench/ranker_training.py,
`liner train-ranker`), shipped as a small text file (Settings.ranker_path).

The model orders the fused candidates; the turn's own multiplicative factors (the current mood's genres, the
family preference, liked/disliked people and genres) still apply on top, so a direction the user just gave is
never overruled by what ReDial seekers tended to ask for.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from core.errors import FixableError
from recommender.candidates import Candidate
from recommender.ranker_features import FEATURES

log = logging.getLogger(__name__)

PARAMS = {"objective": "lambdarank", "metric": "ndcg", "eval_at": [10, 50], "learning_rate": 0.05,
          "num_leaves": 15, "min_data_in_leaf": 50, "feature_fraction": 0.9, "bagging_fraction": 0.8,
          "bagging_freq": 1, "lambdarank_truncation_level": 50, "verbosity": -1, "seed": 7, "num_threads": 2}
"""LightGBM parameters: small trees (the tune split gives ~2k ranked lists), a fixed seed: the same lists give the same
file."""
ROUNDS = 70
"""Boosting rounds, chosen by time-ordered cross-validation over the tune split's lists (`liner train-ranker --cv`:
three forward-chaining folds, held-out new-item recall@10): 40 rounds 0.178, 70 0.178, 100 0.174, 150 0.176,
250 0.157. More rounds learn the habits of the tune split's own crowd workers, which new people do not share (the
1,000 rounds chosen on the old random split scored 0.117 on ReDial's unseen test dialogues)."""


class RankerError(FixableError):
    """The ranker file is missing or does not match the features; the message names the file and the fix."""


class LearnedRanker:
    def __init__(self, booster, familiar_damping: float = 0.0):
        self.booster = booster
        self.familiar_damping = familiar_damping
        """Settings.familiar_damping: how much a film's ReDial conversation count is held against it once the
        profile names a film (everyone getting the same few films is a cost the recall figures do not show)."""

    @classmethod
    def load(cls, path: Path, familiar_damping: float = 0.0) -> "LearnedRanker":
        import lightgbm

        path = Path(path)
        fix = "rebuild it with `liner train-ranker` or set LINER_LEARNED_RANKER=false"
        if not path.is_file():
            raise RankerError(f"learned ranker {path} not found: {fix}")
        try:
            booster = lightgbm.Booster(model_file=str(path))
        except lightgbm.basic.LightGBMError as error:
            raise RankerError(f"learned ranker {path} is unreadable ({error}): {fix}") from error
        if tuple(booster.feature_name()) != FEATURES:
            raise RankerError(f"learned ranker {path} was trained on other features "
                              f"({', '.join(booster.feature_name())}): {fix}")
        return cls(booster, familiar_damping)

    def rank(self, candidates: list[Candidate], features: np.ndarray) -> list[Candidate]:
        """Candidates by exp(model score) × the factors the turn applied to them, best first."""
        if not candidates:
            return candidates
        raw = self.booster.predict(features, num_threads=1)
        if self.familiar_damping:
            named_films = features[:, FEATURES.index("seeds")] > 0
            raw = raw - self.familiar_damping * features[:, FEATURES.index("talked_about")] * named_films
        for candidate, value in zip(candidates, raw):
            candidate.score = math.exp(min(float(value), 30.0)) * candidate.factor
        return sorted(candidates, key=lambda c: (-c.score, c.item.item_id))


def fit(features: np.ndarray, labels: np.ndarray, groups: list[int], out: Path, rounds: int = ROUNDS,
        valid: tuple[np.ndarray, np.ndarray, list[int]] | None = None) -> None:
    """Train a lambdarank model on ranked lists (groups: rows per list, in order) and save it to out."""
    import lightgbm

    train = lightgbm.Dataset(features, labels, group=groups, feature_name=list(FEATURES))
    sets, names = [train], ["train"]
    if valid is not None:
        sets.append(lightgbm.Dataset(valid[0], valid[1], group=valid[2], reference=train))
        names.append("held")
    booster = lightgbm.train(PARAMS, train, num_boost_round=rounds, valid_sets=sets, valid_names=names,
                             callbacks=[lightgbm.log_evaluation(50)])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(out))
    log.info("learned ranker: %d rows in %d lists -> %s", len(labels), len(groups), out)
