"""The knowledge graph: items linked to their people (by role), genres, shared keywords, decade and series.

Node ids are core.ids strings: "item:<item_id>", "person:<Full Name>", "genre:<Genre>", "keyword:<keyword>",
"decade:1990s" and "series:<collection>" (a TMDb collection, "Toy Story Collection"). Every node has a kind (a
core.vocabulary.Kind) and a label: an item's is its catalog label ("Arrival (2016)"), any other node's is the key of
its id. Item nodes also carry the item's popularity.
Edges join an item to an attribute and carry relations, core.vocabulary.Relation values (a person who directed and
wrote an item has one edge with both), listed most telling first.

The graph is held as compressed sparse rows (numpy arrays: row offsets, neighbour numbers, a relation bit set per
entry), not as a networkx graph: on a synthetic catalog of 100,000 items networkx's dict of dicts held 4.9 KB an
item (about 5 GB at a million, in every app process), these arrays with the node index 0.5 KB. Each row keeps the
order its edges were added in: an item's attributes in catalog order (people by role first), an attribute's items
in catalog order, which is also ascending node number, so membership in an attribute's row is a binary search.
"""

from __future__ import annotations

import logging
import zipfile
from array import array
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from tqdm import tqdm

from core.errors import FixableError
from core.ids import item_node, node_id
from core.item import Item
from core.vocabulary import PRODUCTION_KEYWORDS, Kind, Relation

log = logging.getLogger(__name__)

_FORMAT = "liner-notes-kg-2"
KINDS: tuple[Kind, ...] = tuple(Kind)
"""A node's kind is stored as its position here."""
RELATIONS: tuple[Relation, ...] = tuple(Relation)
"""An edge's relations are stored as a bit set: bit i is RELATIONS[i] (most telling first, as Relation lists)."""
_KIND_CODE = {kind: code for code, kind in enumerate(KINDS)}
_ITEM = _KIND_CODE[Kind.ITEM]
_BIT = {relation: 1 << i for i, relation in enumerate(RELATIONS)}


_ARRAYS = ("kinds", "popularity", "indptr", "neighbours", "relations")
"""The arrays a graph file holds under the constructor's names (besides the node ids and item labels)."""


class KnowledgeGraphError(FixableError):
    """The graph file is missing or unreadable; the message names the file and the fix."""


def _decode(bits: int) -> tuple[Relation, ...]:
    return tuple(relation for i, relation in enumerate(RELATIONS) if bits >> i & 1)


RELATIONS_OF = tuple(_decode(bits) for bits in range(1 << len(RELATIONS)))
"""The relations of each bit set value."""


def _strings(blob: np.ndarray, offsets: np.ndarray) -> list[str]:
    text = blob.tobytes()
    return [text[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def _blob(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of all strings and their offsets (strings may hold any character, so no separator)."""
    encoded = [s.encode("utf-8") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


class KnowledgeGraph:
    def __init__(self, nodes: list[str], kinds: np.ndarray, item_labels: dict[int, str], popularity: np.ndarray,
                 indptr: np.ndarray, neighbours: np.ndarray, relations: np.ndarray):
        """The graph of `nodes` (ids by node number); the arrays are as the attributes below say."""
        self.nodes = nodes
        """Node ids by node number."""
        self.index = {node: i for i, node in enumerate(nodes)}
        self.kinds = kinds
        """uint8 position in KINDS, by node number."""
        self._item_labels = item_labels
        self.popularity = popularity
        """float32 by node number (0 for attributes)."""
        self.indptr = indptr
        """Row i's entries are neighbours[indptr[i]:indptr[i + 1]] (int64, length nodes + 1)."""
        self.neighbours = neighbours
        """int32 node numbers; every edge appears in both its ends' rows."""
        self.relation_bits = relations
        """uint8 relation bit set of each entry of `neighbours`."""
        self.degrees = np.diff(indptr).astype(np.int32)
        """Number of neighbours, by node number."""

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

        index: dict[str, int] = {}
        kinds = array("B")
        item_labels: dict[int, str] = {}
        popularity: dict[int, float] = {}
        # One entry per edge, in the order edges are added (compact arrays: a million items make ~20M edges).
        starts, ends, bits = array("i"), array("i"), array("B")

        def number(node: str, kind: Kind) -> int:
            found = index.get(node)
            if found is None:
                found = index[node] = len(kinds)
                kinds.append(_KIND_CODE[kind])
            return found

        for item in tqdm(items, desc="knowledge graph", unit="item", disable=not progress):
            row = number(item_node(item.item_id), Kind.ITEM)
            item_labels[row] = item.label
            popularity[row] = item.popularity
            attributes = [(Relation.for_role(role), name) for role, name in item.all_people()]
            attributes += [(Relation.HAS_GENRE, genre) for genre in item.genres]
            attributes += [(Relation.HAS_KEYWORD, keyword) for keyword in item.keywords if keyword in shared]
            if item.decade:
                attributes.append((Relation.FROM_DECADE, item.decade))
            # The films of one series are few and closely alike: the most specific link after the people.
            if item.series:
                attributes.append((Relation.IN_SERIES, item.series))
            edges: dict[int, int] = {}
            for relation, label in attributes:
                other = number(node_id(relation.target, label), relation.target)
                edges[other] = edges.get(other, 0) | _BIT[relation]
            for other, relations in edges.items():
                starts.append(row)
                ends.append(other)
                bits.append(relations)
        kg = cls._from_edges(list(index), np.frombuffer(kinds, dtype=np.uint8), item_labels, popularity,
                            np.frombuffer(starts, dtype=np.int32), np.frombuffer(ends, dtype=np.int32),
                            np.frombuffer(bits, dtype=np.uint8))
        log.info("knowledge graph: %d nodes, %d edges", kg.number_of_nodes(), kg.number_of_edges())
        return kg

    @classmethod
    def _from_edges(cls, nodes: list[str], kinds: np.ndarray, item_labels: dict[int, str],
                   popularity: dict[int, float], starts: np.ndarray, ends: np.ndarray,
                   bits: np.ndarray) -> "KnowledgeGraph":
        """The graph of edges starts[e]–ends[e] (item first) with relation bit sets bits[e]."""
        rows = np.concatenate([starts, ends])
        # A stable sort by row keeps each row's entries in the order their edges were added.
        order = np.argsort(rows, kind="stable")
        indptr = np.zeros(len(nodes) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(nodes)), out=indptr[1:])
        neighbours = np.concatenate([ends, starts])[order].astype(np.int32)
        relations = np.concatenate([bits, bits])[order].astype(np.uint8)
        prior = np.zeros(len(nodes), dtype=np.float32)
        prior[list(popularity)] = list(popularity.values())
        return cls(nodes, np.asarray(kinds, dtype=np.uint8), item_labels, prior, indptr, neighbours, relations)

    def save(self, path: Path) -> None:
        node_blob, node_offsets = _blob(self.nodes)
        label_rows = np.array(sorted(self._item_labels), dtype=np.int64)
        label_blob, label_offsets = _blob([self._item_labels[row] for row in label_rows.tolist()])
        with open(path, "wb") as handle:
            np.savez(handle, format=np.array(_FORMAT), node_blob=node_blob, node_offsets=node_offsets,
                     label_rows=label_rows, label_blob=label_blob, label_offsets=label_offsets, kinds=self.kinds,
                     popularity=self.popularity, indptr=self.indptr, neighbours=self.neighbours,
                     relations=self.relation_bits)

    @classmethod
    def load(cls, path: Path) -> "KnowledgeGraph":
        path = Path(path)
        fix = "rebuild it with `liner ingest`"
        if not path.is_file():
            raise KnowledgeGraphError(f"knowledge graph file {path} does not exist: {fix}")
        try:
            with np.load(path, allow_pickle=False) as data:
                if "format" not in data or str(data["format"]) != _FORMAT:
                    raise KnowledgeGraphError(f"knowledge graph file {path} is not a {_FORMAT} graph: {fix}")
                arrays = {name: data[name] for name in _ARRAYS}
                nodes = _strings(data["node_blob"], data["node_offsets"])
                labels = dict(zip(data["label_rows"].tolist(), _strings(data["label_blob"], data["label_offsets"])))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise KnowledgeGraphError(
                f"knowledge graph file {path} is corrupt ({exc.__class__.__name__}: {exc}): {fix}") from exc
        sizes = {name: len(values) for name, values in arrays.items()}
        if sizes != {"kinds": len(nodes), "popularity": len(nodes), "indptr": len(nodes) + 1,
                     "neighbours": sizes["neighbours"], "relations": sizes["neighbours"]} \
                or arrays["indptr"][-1] != sizes["neighbours"]:
            raise KnowledgeGraphError(f"knowledge graph file {path} is inconsistent (array sizes {sizes} for "
                                      f"{len(nodes)} nodes): {fix}")
        return cls(nodes, item_labels=labels, **arrays)

    # --- lookups --------------------------------------------------------------------------------------
    def __contains__(self, node: str) -> bool:
        return node in self.index

    def number_of_nodes(self) -> int:
        return len(self.nodes)

    def number_of_edges(self) -> int:
        return len(self.neighbours) // 2

    def label(self, node: str) -> str:
        row = self.index[node]
        return self._item_labels.get(row) or node.partition(":")[2]

    def kind(self, node: str) -> Kind:
        return KINDS[self.kinds[self.index[node]]]

    def degree(self, node: str) -> int:
        row = self.index.get(node)
        return 0 if row is None else int(self.degrees[row])

    def row(self, node: str) -> np.ndarray:
        """Node numbers of node's neighbours, in the order their edges were added (empty for an unknown node)."""
        row = self.index.get(node)
        return self.neighbours[:0] if row is None else self.row_at(row)

    def row_at(self, number: int) -> np.ndarray:
        """The row of the node numbered `number`."""
        return self.neighbours[self.indptr[number]:self.indptr[number + 1]]

    def neighbours_of(self, node: str) -> list[str]:
        """Node ids of node's neighbours (an item's attributes in catalog order, an attribute's items likewise)."""
        return [self.nodes[i] for i in self.row(node).tolist()]

    def edges(self, node: str) -> Iterator[tuple[str, tuple[Relation, ...]]]:
        """(neighbour, relations) for each edge of node, in the order of neighbours_of."""
        row = self.index.get(node)
        if row is None:
            return
        start, stop = int(self.indptr[row]), int(self.indptr[row + 1])
        for other, bits in zip(self.neighbours[start:stop].tolist(), self.relation_bits[start:stop].tolist()):
            yield self.nodes[other], RELATIONS_OF[bits]

    def relations(self, a: str, b: str) -> tuple[Relation, ...]:
        """Relations on the edge a–b, most telling first (empty when there is no edge)."""
        position = self._entry(self.index.get(a), self.index.get(b))
        return () if position is None else RELATIONS_OF[self.relation_bits[position]]

    def adjacent(self, a: int, b: int) -> bool:
        """Whether the nodes numbered a and b are joined."""
        return self._entry(a, b) is not None

    def _entry(self, a: int | None, b: int | None) -> int | None:
        """Position in `neighbours` of b in a's row, or of a in b's row; None when they are not joined."""
        if a is None or b is None or (self.kinds[a] == _ITEM) == (self.kinds[b] == _ITEM):
            return None  # every edge joins an item to an attribute
        if self.kinds[b] == _ITEM:
            a, b = b, a
        # a is the item: its row is short (its people, genres, keywords) and in attribute order, so scan it.
        start, stop = int(self.indptr[a]), int(self.indptr[a + 1])
        hits = np.flatnonzero(self.neighbours[start:stop] == b)
        return start + int(hits[0]) if len(hits) else None

    def common_neighbours(self, a: int, b: int) -> np.ndarray:
        """The items joined to both attributes numbered a and b, in ascending node order: each of the shorter row's
        entries binary-searched in the longer (attribute rows are sorted), so a hub costs a log, not its length."""
        small, large = sorted((self.row_at(a), self.row_at(b)), key=len)
        if not len(large):
            return large
        found = np.minimum(np.searchsorted(large, small), len(large) - 1)
        return small[large[found] == small]

    def nodes_of_kind(self, kind: Kind) -> Iterator[str]:
        return (self.nodes[i] for i in np.flatnonzero(self.kinds == _KIND_CODE[Kind(kind)]).tolist())
