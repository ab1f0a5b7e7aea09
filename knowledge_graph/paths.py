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

from knowledge_graph.graph import RELATION_ORDER, KnowledgeGraph

_FORWARD_TEXT = {
    "directed_by": "directed by", "stars": "starring", "written_by": "written by", "composed_by": "music by",
    "has_genre": "genre", "has_keyword": "keyword", "from_decade": "from the",
}


@dataclass(frozen=True)
class EvidencePath:
    nodes: tuple[str, ...]
    relations: tuple[str, ...]
    """relations[i] names the edge nodes[i]–nodes[i + 1] (always in its item → attribute sense)."""

    def describe(self, kg: KnowledgeGraph) -> str:
        """"Arrival (2016) — directed by → Denis Villeneuve ← directed by — Sicario (2015)"."""
        parts = [kg.label(self.nodes[0])]
        for a, relation, b in zip(self.nodes, self.relations, self.nodes[1:]):
            text = _FORWARD_TEXT.get(relation, relation.replace("_", " "))
            arrow = f"— {text} →" if kg.kind(a) == "item" else f"← {text} —"
            parts.append(f"{arrow} {kg.label(b)}")
        return " ".join(parts)


def _relation(kg: KnowledgeGraph, a: str, b: str) -> str:
    relations = kg.relations(a, b)
    return min(relations, key=lambda r: RELATION_ORDER.index(r) if r in RELATION_ORDER else len(RELATION_ORDER))


def _path(kg: KnowledgeGraph, nodes: tuple[str, ...]) -> EvidencePath:
    return EvidencePath(nodes, tuple(_relation(kg, a, b) for a, b in zip(nodes, nodes[1:])))


def evidence_paths(kg: KnowledgeGraph, sources: Iterable[str], target_item_id: str, max_hops: int = 3,
                   limit: int = 3) -> list[EvidencePath]:
    """The `limit` most specific paths of at most max_hops edges from any source node to the target item, at
    most one per (source, node next to the target) so that the paths show different reasons."""
    target = kg.item_node(target_item_id)
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
            if source in adj[target] or kg.kind(source) in ("genre", "decade"):
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


def shared_neighbours(kg: KnowledgeGraph, item_a: str, item_b: str) -> list[str]:
    """Nodes both items link to (their people, keywords, genres, decade), most specific first."""
    a, b = kg.item_node(item_a), kg.item_node(item_b)
    if a not in kg or b not in kg:
        return []
    adj = kg.graph.adj
    shared = [node for node in adj[a] if node in adj[b]]
    return sorted(shared, key=lambda node: (len(adj[node]), node))
