"""Ranking metrics as plain functions, one per metric, all with the same keyword arguments.

Every function takes ``truth`` (one collection of relevant item ids per sample) and ``predictions`` (one ranked
list of item ids per sample, best first) and a cut-off ``k``, and returns the mean over samples. Relevance is
binary. A sample with no relevant item scores 0 (in ReDial that is a ground truth missing from the catalog: a
miss, not a skipped sample).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Sequence

RECALL = "recall"
NDCG = "ndcg"
MRR = "mrr"

REDIAL_CUTOFFS: dict[str, tuple[int, ...]] = {RECALL: (1, 10, 50), NDCG: (10, 50), MRR: (10, 50)}
"""The metrics the ReDial protocol reports, by name, with their cut-offs."""

Truth = Sequence[Collection[Hashable]]
Predictions = Sequence[Sequence[Hashable]]


def _check(truth: Truth, predictions: Predictions, k: int) -> None:
    if len(truth) != len(predictions):
        raise ValueError(f"{len(truth)} ground-truth sets but {len(predictions)} prediction lists")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def recall_per_sample(relevant: Collection[Hashable], ranked: Sequence[Hashable], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def ndcg_per_sample(relevant: Collection[Hashable], ranked: Sequence[Hashable], k: int) -> float:
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(rank + 2) for rank, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return dcg / ideal


def mrr_per_sample(relevant: Collection[Hashable], ranked: Sequence[Hashable], k: int) -> float:
    for rank, item in enumerate(ranked[:k]):
        if item in relevant:
            return 1.0 / (rank + 1)
    return 0.0


def recall_at_k(truth: Truth, predictions: Predictions, *, k: int) -> float:
    """Mean share of each sample's relevant items found in its top k."""
    _check(truth, predictions, k)
    return _mean([recall_per_sample(t, p, k) for t, p in zip(truth, predictions)])


def ndcg_at_k(truth: Truth, predictions: Predictions, *, k: int) -> float:
    """Mean normalized discounted cumulative gain at k (binary gains, log2 discount)."""
    _check(truth, predictions, k)
    return _mean([ndcg_per_sample(t, p, k) for t, p in zip(truth, predictions)])


def mrr_at_k(truth: Truth, predictions: Predictions, *, k: int) -> float:
    """Mean reciprocal rank of the first relevant item, 0 when none is in the top k."""
    _check(truth, predictions, k)
    return _mean([mrr_per_sample(t, p, k) for t, p in zip(truth, predictions)])


METRICS = {RECALL: recall_at_k, NDCG: ndcg_at_k, MRR: mrr_at_k}


def ranking_report(truth: Truth, predictions: Predictions,
                   cutoffs: dict[str, tuple[int, ...]] = REDIAL_CUTOFFS) -> dict[str, float | int]:
    """{"recall@1": ..., "ndcg@10": ..., ..., "samples": n} for the given metrics and cut-offs."""
    report: dict[str, float | int] = {
        f"{name}@{k}": METRICS[name](truth, predictions, k=k) for name, ks in cutoffs.items() for k in ks
    }
    report["samples"] = len(truth)
    return report


def success_rate(groups: Sequence[Sequence[int | None]]) -> float:
    """Share of groups (ReDial: dialogues) where at least one sample ranked a relevant item first.

    Each group is the list of its samples' 1-based ranks (None = not found); an empty group counts as a failure.
    """
    return _mean([1.0 if any(rank == 1 for rank in ranks) else 0.0 for ranks in groups])


def bootstrap_interval(groups: Sequence[Sequence[float]], *, resamples: int = 1000, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean per sample, resampling whole groups (ReDial: dialogues, whose
    samples are not independent of each other). Each group is its samples' values; the statistic is the mean
    over all samples of the drawn groups."""
    import numpy as np

    if not groups:
        return 0.0, 0.0
    sums = np.array([sum(g) for g in groups], dtype=np.float64)
    sizes = np.array([len(g) for g in groups], dtype=np.float64)
    draws = np.random.default_rng(seed).integers(0, len(groups), size=(resamples, len(groups)))
    means = sums[draws].sum(axis=1) / np.maximum(sizes[draws].sum(axis=1), 1.0)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def paired_bootstrap_difference(groups_a: Sequence[Sequence[float]], groups_b: Sequence[Sequence[float]], *,
                                resamples: int = 1000, seed: int = 0,
                                level: float = 0.95) -> tuple[float, float, float]:
    """(mean difference a - b, interval low, interval high) over the same groups scored two ways: group i of a
    and of b must be the same dialogue with the same samples."""
    if len(groups_a) != len(groups_b) or any(len(a) != len(b) for a, b in zip(groups_a, groups_b)):
        raise ValueError("a paired bootstrap needs the same groups and samples on both sides")
    differences = [[x - y for x, y in zip(a, b)] for a, b in zip(groups_a, groups_b)]
    total = sum(len(g) for g in differences)
    mean = sum(sum(g) for g in differences) / total if total else 0.0
    return (mean, *bootstrap_interval(differences, resamples=resamples, seed=seed, level=level))
