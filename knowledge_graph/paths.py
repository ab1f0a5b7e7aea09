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

import numpy as np

from core.ids import item_node
from core.vocabulary import Kind, Relation
from knowledge_graph.graph import KINDS, KnowledgeGraph


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


def _path(kg: KnowledgeGraph, nodes: tuple[int, ...]) -> EvidencePath:
    names = tuple(kg.nodes[n] for n in nodes)
    return EvidencePath(names, tuple(_relation(kg, a, b) for a, b in zip(names, names[1:])))


def evidence_paths(kg: KnowledgeGraph, sources: Iterable[str], target_item_id: str, max_hops: int = 3,
                   limit: int = 3) -> list[EvidencePath]:
    """The `limit` most specific paths of at most max_hops edges from any source node to the target item, at
    most one per (source, node next to the target) so that the paths show different reasons."""
    target = kg.index.get(item_node(target_item_id))
    if target is None or max_hops < 1 or limit < 1:
        return []
    degree = kg.degrees
    # A source with no edges (an item the catalog knows nothing about) leads nowhere.
    sources = [row for row in dict.fromkeys(kg.index.get(s) for s in sources)
               if row is not None and row != target and degree[row] > 0]
    around = kg.row_at(target).tolist()
    cost = {n: math.log(degree[n]) for n in (*around, *sources)}
    # Cheapest middle nodes first: once `limit` paths are found, nothing through a hub can beat them.
    middles = sorted(around, key=cost.__getitem__)
    found: dict[tuple[int, int], tuple[float, tuple[int, ...]]] = {}

    def keep(key: tuple[int, int], path_cost: float, nodes: tuple[int, ...]) -> None:
        found[key] = (path_cost, nodes)
        if len(found) > limit:
            del found[max(found, key=lambda k: found[k][0])]

    def worst() -> float:
        return max(c for c, _ in found.values()) if len(found) >= limit else math.inf

    # A liked source counts by its own specificity too: "you like Drama" explains little.
    for source in sources:
        if kg.adjacent(source, target):
            keep((source, source), cost[source], (source, target))
        elif max_hops >= 2:
            for middle in middles:
                if kg.adjacent(source, middle):
                    keep((source, middle), cost[source] + cost[middle], (source, middle, target))
    if max_hops >= 3:
        for source in sources:
            # Through a genre or decade every film is three hops from every other: only direct links count. No
            # path of three edges joins two items (every edge joins an item to an attribute).
            if kg.adjacent(source, target) or KINDS[kg.kinds[source]] in (Kind.ITEM, Kind.GENRE, Kind.DECADE):
                continue
            for middle in middles:
                # A 3-hop path costs at least its ends plus a bridge of degree >= 1.
                bound = cost[source] + cost[middle]
                if bound >= worst():
                    break
                if kg.adjacent(source, middle) or (source, middle) in found:
                    continue
                bridge = _best_bridge(kg, source, middle, target)
                if bridge is not None and bound + math.log(degree[bridge]) < worst():
                    keep((source, middle), bound + math.log(degree[bridge]), (source, bridge, middle, target))
    best = sorted(found.values(), key=lambda entry: (entry[0], len(entry[1])))[:limit]
    return [_path(kg, nodes) for _, nodes in best]


def _best_bridge(kg: KnowledgeGraph, source: int, middle: int, target: int) -> int | None:
    """The lowest-degree node adjacent to both source and middle (the most specific link between them); the
    first in node order among equals."""
    common = kg.common_neighbours(source, middle)
    common = common[common != target]
    return int(common[np.argmin(kg.degrees[common])]) if len(common) else None
