"""Evidence: short, specific graph paths from what a user liked to a recommended item.

A path is scored by the sum of log(1 / degree) over its nodes but the target, so a path through a director with
ten films beats one through the genre Drama with thousands, and a direct edge from a specific liked node (you
liked Denis Villeneuve, he directed this) beats both. The search is bounded: it meets in the middle at the target's own neighbours instead
of enumerating paths out of hubs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from core.ids import item_node
from core.vocabulary import Kind, Relation
from knowledge_graph.graph import KnowledgeGraph


@dataclass(frozen=True)
class EvidencePath:
    nodes: tuple[str, ...]
    relations: tuple[str, ...]
    """relations[i] names the edge nodes[i]–nodes[i + 1] (a Relation value, always in its item → attribute
    sense)."""

    def describe(self, kg: KnowledgeGraph) -> str:
        """"Arrival (2016) — directed by → Denis Villeneuve ← directed by — Sicario (2015)"."""
        parts = [kg.label(self.nodes[0])]
        for a, relation, b in zip(self.nodes, self.relations, self.nodes[1:]):
            text = Relation(relation).phrase
            arrow = f"— {text} →" if kg.kind(a) == Kind.ITEM else f"← {text} —"
            parts.append(f"{arrow} {kg.label(b)}")
        return " ".join(parts)


def _relation(kg: KnowledgeGraph, a: str, b: str) -> str:
    return Relation.most_telling(kg.relations(a, b)).value


def _path(kg: KnowledgeGraph, nodes: tuple[str, ...]) -> EvidencePath:
    return EvidencePath(nodes, tuple(_relation(kg, a, b) for a, b in zip(nodes, nodes[1:])))


def evidence_paths(kg: KnowledgeGraph, sources: Iterable[str], target_item_id: str, max_hops: int = 3,
                   limit: int = 3) -> list[EvidencePath]:
    """The `limit` most specific paths of at most max_hops edges from any source node to the target item, at
    most one per (source, node next to the target) so that the paths show different reasons."""
    target = item_node(target_item_id)
    if target not in kg or max_hops < 1 or limit < 1:
        return []
    adj = kg.graph.adj
    sources = [s for s in dict.fromkeys(sources) if s != target and s in adj]
    cost = {n: math.log(len(adj[n])) for n in (*adj[target], *sources)}
    # Cheapest middle nodes first: once `limit` paths are found, nothing through a hub can beat them.
    middles = sorted(adj[target], key=cost.__getitem__)
    found: dict[tuple[str, str], tuple[float, tuple[str, ...]]] = {}

    def keep(key: tuple[str, str], path_cost: float, nodes: tuple[str, ...]) -> None:
        found[key] = (path_cost, nodes)
        if len(found) > limit:
            del found[max(found, key=lambda k: found[k][0])]

    def worst() -> float:
        return max(c for c, _ in found.values()) if len(found) >= limit else math.inf

    # A liked source counts by its own specificity too: "you like Drama" explains little.
    for source in sources:
        if source in adj[target]:
            keep((source, source), cost[source], (source, target))
        elif max_hops >= 2:
            near = adj[source]
            for middle in middles:
                if middle in near:
                    keep((source, middle), cost[source] + cost[middle], (source, middle, target))
    if max_hops >= 3:
        for source in sources:
            # Through a genre or decade every film is three hops from every other: only direct links count.
            if source in adj[target] or kg.kind(source) in (Kind.GENRE, Kind.DECADE):
                continue
            near = adj[source]
            for middle in middles:
                # A 3-hop path costs at least its ends plus a bridge of degree >= 1.
                bound = cost[source] + cost[middle]
                if bound >= worst():
                    break
                if middle in near or (source, middle) in found:
                    continue
                bridge = _best_bridge(adj, source, middle, target)
                if bridge is not None and bound + math.log(len(adj[bridge])) < worst():
                    keep((source, middle), bound + math.log(len(adj[bridge])), (source, bridge, middle, target))
    best = sorted(found.values(), key=lambda entry: (entry[0], len(entry[1])))[:limit]
    return [_path(kg, nodes) for _, nodes in best]


def _best_bridge(adj, source: str, middle: str, target: str) -> str | None:
    """The lowest-degree node adjacent to both source and middle (the most specific link between them)."""
    small, large = (adj[source], adj[middle]) if len(adj[source]) <= len(adj[middle]) else (adj[middle], adj[source])
    best, best_degree = None, math.inf
    for node in small:
        if node != target and node in large:
            degree = len(adj[node])
            if degree < best_degree:
                best, best_degree = node, degree
    return best

