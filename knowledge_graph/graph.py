"""The knowledge graph: items linked to their people (by role), genres, shared keywords, decade and series.

Node ids are core.ids strings: "item:<item_id>", "person:<Full Name>", "genre:<Genre>", "keyword:<keyword>",
"decade:1990s" and "series:<collection>" (a TMDb collection, "Toy Story Collection"); every node carries `kind`
(a core.vocabulary.Kind value) and `label`, item nodes also `popularity`.
Edges join an item to an attribute and carry `relations`, a tuple of core.vocabulary.Relation values (a person who
directed and wrote an item has one edge with both).
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Iterable

import networkx as nx
from tqdm import tqdm

from core.errors import FixableError
from core.ids import item_node, node_id
from core.item import Item
from core.vocabulary import PRODUCTION_KEYWORDS, Kind, Relation

log = logging.getLogger(__name__)

_FORMAT = "liner-notes-kg-1"


class KnowledgeGraphError(FixableError):
    """The graph file is missing or unreadable; the message names the file and the fix."""


class KnowledgeGraph:
    def __init__(self, graph: nx.Graph):
        self.graph = graph

    # --- building and persistence ---------------------------------------------------------------------
    @classmethod
    def build(cls, items: Iterable[Item], progress: bool = True) -> "KnowledgeGraph":
        items = list(items)
        keyword_counts: dict[str, int] = {}
        for item in items:
            for keyword in set(item.keywords):
                keyword_counts[keyword] = keyword_counts.get(keyword, 0) + 1
        # A keyword on a single item links nothing to anything: it would only add dead-end nodes.
        shared = {k for k, n in keyword_counts.items() if n >= 2 and k not in PRODUCTION_KEYWORDS}

        graph = nx.Graph()
        for item in tqdm(items, desc="knowledge graph", unit="item", disable=not progress):
            node = item_node(item.item_id)
            graph.add_node(node, kind=Kind.ITEM.value, label=item.label, popularity=item.popularity)
            edges: dict[str, list[str]] = {}
            attributes = [(Relation.for_role(role), name) for role, name in item.all_people()]
            attributes += [(Relation.HAS_GENRE, genre) for genre in item.genres]
            attributes += [(Relation.HAS_KEYWORD, keyword) for keyword in item.keywords if keyword in shared]
            if item.decade:
                attributes.append((Relation.FROM_DECADE, item.decade))
            # The films of one series are few and closely alike: the most specific link after the people.
            if item.series:
                attributes.append((Relation.IN_SERIES, item.series))
            for relation, label in attributes:
                other = node_id(relation.target, label)
                graph.add_node(other, kind=relation.target.value, label=label)
                edges.setdefault(other, []).append(relation.value)
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
    def __contains__(self, node: str) -> bool:
        return node in self.graph

    def label(self, node: str) -> str:
        return self.graph.nodes[node]["label"]

    def kind(self, node: str) -> str:
        return self.graph.nodes[node]["kind"]

    def degree(self, node: str) -> int:
        return len(self.graph.adj[node]) if node in self.graph else 0

    def relations(self, a: str, b: str) -> tuple[str, ...]:
        """Relation names on the edge a–b (empty when there is no edge)."""
        data = self.graph.get_edge_data(a, b)
        return data["relations"] if data else ()

    def nodes_of_kind(self, kind: Kind) -> Iterable[str]:
        return (node for node, k in self.graph.nodes(data="kind") if k == kind)
