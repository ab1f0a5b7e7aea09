"""Ranks and score orders, each definition written once (popularity scores, candidate lists). Percentiles of
measurements are numpy's (np.percentile)."""

from __future__ import annotations

import heapq
from bisect import bisect_right
from typing import Callable, Hashable, Iterable, Mapping, TypeVar

K = TypeVar("K", bound=Hashable)
S = TypeVar("S", str, int)


def percentile_ranks(values: Mapping[K, float]) -> dict[K, float]:
    """Each key's rank among the values scaled to 0..1 (lowest 0, highest 1): a popularity on a common scale."""
    ordered = sorted(values, key=values.__getitem__)
    n = max(len(ordered) - 1, 1)
    return {key: rank / n for rank, key in enumerate(ordered)}


def share_at_or_below(values: Iterable[float]) -> Callable[[float], float]:
    """The empirical distribution function of the values: v -> share of values <= v (0..1).

    Unlike percentile_ranks, equal values get equal scores: an imported catalog's popularity column often holds
    counts with many ties, and two films with the same count should not be told apart by file order."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("distribution of no values")
    return lambda v: bisect_right(ordered, v) / len(ordered)


def top_scored(scores: Mapping[S, float], k: int | None = None) -> list[tuple[S, float]]:
    """The k best (key, score) pairs, highest score first and equal scores by key: one canonical order, so that a
    list with ties comes out the same in every process (dict and set orders follow per-process string hashing)."""
    def order(pair: tuple[S, float]) -> tuple[float, S]:
        return -pair[1], pair[0]

    if k is None or k >= len(scores):
        return sorted(scores.items(), key=order)
    return heapq.nsmallest(k, scores.items(), key=order)
