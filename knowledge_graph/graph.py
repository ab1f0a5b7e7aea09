"""The knowledge graph: items linked to their people (by role), genres, shared keywords and decade.

Node ids are "item:<item_id>", "person:<Full Name>", "genre:<Genre>", "keyword:<keyword>" and "decade:1990s";
every node carries `kind` and `label`, item nodes also `popularity`. Edges join an item to an attribute and carry
`relations`, a tuple of relation names (a person who directed and wrote an item has one edge with both).
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Iterable

import networkx as nx
from tqdm import tqdm

from recommender.catalog import Catalog

log = logging.getLogger(__name__)

ROLE_RELATIONS = {"director": "directed_by", "star": "stars", "writer": "written_by", "composer": "composed_by"}
"""Catalog role -> relation name on the item–person edge."""

RELATION_ORDER = ("directed_by", "written_by", "stars", "composed_by", "has_keyword", "has_genre", "from_decade")
"""Relations from most to least telling, for picking the one relation to show on an edge."""

_NON_CONTENT_KEYWORDS = frozenset({
    # TMDB production tags: they say nothing about what a film is like, so they make poor evidence.
    "duringcreditsstinger", "aftercreditsstinger", "woman director", "3d", "independent film",
})

_FORMAT = "liner-notes-kg-1"


class KnowledgeGraphError(RuntimeError):
    """The graph file is missing or unreadable; the message names the file and the fix."""


class KnowledgeGraph:
    def __init__(self, graph: nx.Graph):
        self.graph = graph

    # --- building and persistence ---------------------------------------------------------------------
    @classmethod
    def build(cls, catalog: Catalog, progress: bool = True) -> "KnowledgeGraph":
        keyword_counts: dict[str, int] = {}
        for item in catalog:
            for keyword in set(item.keywords):
                keyword_counts[keyword] = keyword_counts.get(keyword, 0) + 1
        # A keyword on a single item links nothing to anything: it would only add dead-end nodes.
        shared = {k for k, n in keyword_counts.items() if n >= 2 and k not in _NON_CONTENT_KEYWORDS}

        graph = nx.Graph()
        for item in tqdm(catalog, desc="knowledge graph", unit="item", disable=not progress):
            node = cls.item_node(item.item_id)
            graph.add_node(node, kind="item", label=item.label, popularity=item.popularity)
            edges: dict[str, list[str]] = {}
            for role, name in item.all_people():
                person = f"person:{name}"
                graph.add_node(person, kind="person", label=name)
                edges.setdefault(person, []).append(ROLE_RELATIONS[role])
            for genre in item.genres:
                graph.add_node(f"genre:{genre}", kind="genre", label=genre)
                edges.setdefault(f"genre:{genre}", []).append("has_genre")
            for keyword in item.keywords:
                if keyword in shared:
                    graph.add_node(f"keyword:{keyword}", kind="keyword", label=keyword)
                    edges.setdefault(f"keyword:{keyword}", []).append("has_keyword")
            if item.decade:
                graph.add_node(f"decade:{item.decade}", kind="decade", label=item.decade)
                edges.setdefault(f"decade:{item.decade}", []).append("from_decade")
            for other, relations in edges.items():
                graph.add_edge(node, other, relations=tuple(dict.fromkeys(relations)))
        log.info("knowledge graph: %d nodes, %d edges", graph.number_of_nodes(), graph.number_of_edges())
        return cls(graph)

    def save(self, path: Path) -> None:
        with open(path, "wb") as handle:
            pickle.dump({"format": _FORMAT, "graph": self.graph}, handle, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def load(cls, path: Path) -> "KnowledgeGraph":
        path = Path(path)
        fix = "rebuild it with `liner ingest`"
        if not path.is_file():
            raise KnowledgeGraphError(f"knowledge graph file {path} does not exist: {fix}")
        try:
            with open(path, "rb") as handle:
                data = pickle.load(handle)
        # A truncated or foreign pickle can fail in many ways; all of them mean the same fix.
        except Exception as exc:  # noqa: BLE001
            raise KnowledgeGraphError(
                f"knowledge graph file {path} is corrupt ({exc.__class__.__name__}: {exc}): {fix}"
            ) from exc
        if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("graph"), nx.Graph):
            raise KnowledgeGraphError(f"knowledge graph file {path} is not a {_FORMAT} graph: {fix}")
        return cls(data["graph"])

    # --- lookups --------------------------------------------------------------------------------------
    @staticmethod
    def item_node(item_id: str) -> str:
        return f"item:{item_id}"

    @staticmethod
    def item_id(node: str) -> str | None:
        return node[5:] if node.startswith("item:") else None

    def __contains__(self, node: str) -> bool:
        return node in self.graph

    def label(self, node: str) -> str:
        return self.graph.nodes[node]["label"]

    def kind(self, node: str) -> str:
        return self.graph.nodes[node]["kind"]

    def neighbours(self, node: str, kind: str | None = None) -> list[str]:
        if node not in self.graph:
            return []
        adjacent = self.graph.adj[node]
        if kind is None:
            return list(adjacent)
        nodes = self.graph.nodes
        return [other for other in adjacent if nodes[other]["kind"] == kind]

    def degree(self, node: str) -> int:
        return len(self.graph.adj[node]) if node in self.graph else 0

    def relations(self, a: str, b: str) -> tuple[str, ...]:
        """Relation names on the edge a–b (empty when there is no edge)."""
        data = self.graph.get_edge_data(a, b)
        return data["relations"] if data else ()

    def nodes_of_kind(self, kind: str) -> Iterable[str]:
        return (node for node, k in self.graph.nodes(data="kind") if k == kind)
