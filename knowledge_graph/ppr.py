"""Personalized PageRank over the knowledge graph: a candidate source that follows shared people and keywords.

Each edge is weighted by its relation (Settings.ppr_relation_weights: a director counts more than a composer)
divided by log(2 + degree) of its attribute end, so a walk from a liked film goes to its director far more often
than to the genre Drama; columns are then normalized, making the matrix column-stochastic. Final item scores are
divided by the square root of the item's own weighted degree (a random walk otherwise favours items that simply
carry more metadata) and multiplied by a popularity prior (Settings.ppr_popularity_prior), because a path through
one rare keyword is often a coincidence.

The walk is summed as a series, alpha·Σ ((1-alpha)·M)^k·seeds, and each step only spreads the nodes holding more
than Settings.ppr_prune_below of the mass: a genre or decade node joined to a large share of a big catalog hands
each of its items a sliver that ends up below that floor, so a step costs the edges of the few nodes that matter,
not every edge of the graph (a million-item graph has tens of millions).
"""

from __future__ import annotations

import logging
from typing import Mapping, Protocol

import numpy as np
import scipy.sparse as sp

from core.ids import NodeId
from core.vocabulary import Kind
from knowledge_graph.graph import KINDS, RELATIONS_OF, KnowledgeGraph

log = logging.getLogger(__name__)


class PageRankSettings(Protocol):
    """The settings the walk reads (core.settings.Settings has them; this layer does not import it)."""

    ppr_alpha: float
    ppr_relation_weights: Mapping[str, float]
    ppr_popularity_prior: float
    ppr_prune_below: float


class PersonalizedPageRank:
    def __init__(self, kg: KnowledgeGraph, settings: PageRankSettings):
        self.default_alpha = settings.ppr_alpha
        self.prune_below = settings.ppr_prune_below
        self.index = kg.index
        n = kg.number_of_nodes()
        # The weight of each relation set that occurs, then of every entry of the graph's rows.
        bits = np.unique(kg.relation_bits)
        by_bits = np.zeros(int(bits.max(initial=0)) + 1)
        for value in bits.tolist():
            by_bits[value] = max(settings.ppr_relation_weights.get(r, 1.0) for r in RELATIONS_OF[value])
        rows = np.repeat(np.arange(n, dtype=np.int32), kg.degrees)
        is_item = kg.kinds == KINDS.index(Kind.ITEM)
        attribute = np.where(is_item[rows], kg.neighbours, rows)
        weights = by_bits[kg.relation_bits] / np.log(2.0 + kg.degrees[attribute])
        strength = np.bincount(rows, weights=weights, minlength=n)
        strength[strength == 0] = 1.0
        del rows, attribute
        # The weighted adjacency is symmetric and shares the graph's own row arrays. The walk's matrix is
        # adjacency @ diag(1 / strength) (column j spreads node j's mass over its neighbours in proportion to edge
        # weight); it is never formed: M @ x is adjacency @ (x / strength).
        self.adjacency = sp.csr_matrix((weights.astype(np.float32), kg.neighbours, kg.indptr), shape=(n, n))
        self.inverse_strength = (1.0 / strength).astype(np.float32)
        self.item_rows = np.flatnonzero(is_item)
        self.item_ids = [NodeId.parse(kg.nodes[i]).key for i in self.item_rows.tolist()]
        prior = (kg.popularity[self.item_rows].astype(np.float64) + 0.05) ** settings.ppr_popularity_prior
        self.item_norm = (prior / np.sqrt(strength[self.item_rows])).astype(np.float32)
        log.info("pagerank matrix: %d nodes, %d non-zeros", n, self.adjacency.nnz)

    def scores(self, seeds: dict[str, float], alpha: float | None = None, iterations: int = 20,
               top_k: int = 100) -> dict[str, float]:
        """Item id -> score for the top_k items the walk from the seed nodes reaches, seed items excluded.

        alpha is the restart probability (Settings.ppr_alpha by default): higher stays closer to the seeds."""
        alpha = self.default_alpha if alpha is None else alpha
        restart = np.zeros(self.adjacency.shape[0], dtype=np.float32)
        for node, weight in seeds.items():
            row = self.index.get(node)
            if row is not None and weight > 0:
                restart[row] += weight
        total = restart.sum()
        if total <= 0:
            return {}
        restart /= total
        rank = np.zeros_like(restart)
        step = restart
        for _ in range(iterations):
            rank += alpha * step
            step = (1.0 - alpha) * self._spread(step)
        rank += step  # the mass still walking after the last step (as a plain power iteration keeps it)
        item_scores = rank[self.item_rows] * self.item_norm
        item_scores[restart[self.item_rows] > 0] = 0.0
        k = min(top_k, int(np.count_nonzero(item_scores)))
        if k <= 0:
            return {}
        top = np.argpartition(-item_scores, k - 1)[:k]
        return {self.item_ids[i]: float(item_scores[i]) for i in top}

    def _spread(self, mass: np.ndarray) -> np.ndarray:
        """M @ mass, over the nodes holding more than prune_below of it (the rest is dropped)."""
        active = np.flatnonzero(mass > self.prune_below)
        if len(active) > len(mass) // 8:  # most nodes hold mass: one pass over the whole matrix is cheaper
            kept = np.where(mass > self.prune_below, mass * self.inverse_strength, 0.0).astype(np.float32)
            return self.adjacency @ kept
        # The columns of the active nodes are (by symmetry) their rows.
        return self.adjacency[active].T @ (mass[active] * self.inverse_strength[active])
