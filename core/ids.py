"""Node ids: "<kind>:<key>" strings on the graph, in profiles and in the store, read and written only here."""

from __future__ import annotations

from dataclasses import dataclass

from core.vocabulary import Kind


@dataclass(frozen=True, slots=True)
class NodeId:
    """A node of the knowledge graph or a preference target: "item:ml2571" is NodeId(Kind.ITEM, "ml2571")."""

    kind: Kind
    key: str
    """The item id, the person's full name, the genre, keyword or decade label, or the mood word."""

    def __str__(self) -> str:
        return node_id(self.kind, self.key)

    @classmethod
    def parse(cls, text: str) -> "NodeId":
        """"person:Denis Villeneuve" -> NodeId(Kind.PERSON, "Denis Villeneuve"); ValueError for anything else."""
        kind, sep, key = text.partition(":")
        if sep and key and kind in _KIND_NAMES:
            return cls(Kind(kind), key)
        raise ValueError(f"{text!r} is not a node id (<kind>:<key>, kind one of {', '.join(_KIND_NAMES)})")


_KIND_NAMES = tuple(kind.value for kind in Kind)


def node_id(kind: Kind, key: str) -> str:
    """The id string of a node: node_id(Kind.GENRE, "Horror") == "genre:Horror"."""
    return f"{kind.value}:{key}"


def item_node(item_id: str) -> str:
    """The graph node of a catalog item: "ml2571" -> "item:ml2571"."""
    return node_id(Kind.ITEM, item_id)


_ITEM_PREFIX = node_id(Kind.ITEM, "")


def item_id_of(node: str) -> str | None:
    """The catalog item id of an item node id, None for a node of another kind."""
    return node[len(_ITEM_PREFIX):] if node.startswith(_ITEM_PREFIX) else None
