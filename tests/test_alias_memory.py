"""The alias index's compact tables (issue 18) link as lists did: a key's one target stored alone or several as a
tuple, typo candidates likewise, and the shorter prefixes of long titles kept in the keys' own table, so that a
scan goes on through them but never links one."""

from __future__ import annotations

import pickle

import pytest

from core.item import Item
from knowledge_graph.aliases import AliasIndex
from knowledge_graph.graph import KnowledgeGraph

CATALOG = [
    Item("z1", "Zorblax Quintor", 1990, popularity=0.7),
    Item("z2", "Zorblax Quintor Returns Again", 1995, popularity=0.7),
    Item("v1", "Vantablack Orchard", 2001, popularity=0.5),
    Item("v2", "Vantablack Orchard", 2010, popularity=0.4),
    Item("v3", "Vantablock Meadow", 2012, popularity=0.5),
]


@pytest.fixture(scope="module")
def aliases() -> AliasIndex:
    return AliasIndex.build(CATALOG, KnowledgeGraph.build(CATALOG, progress=False))


def _films(aliases: AliasIndex, text: str) -> list[tuple[str, str]]:
    return [(m.node_id, m.surface) for m in aliases.link(text) if m.kind == "item"]


@pytest.mark.parametrize("text, films", [
    ("i loved zorblax quintor returns again", [("item:z2", "zorblax quintor returns again")]),
    ("i loved zorblax quintor", [("item:z1", "zorblax quintor")]),
    # "zorblax quintor returns" only starts the longer title: the shorter one links, the start links nothing.
    ("i loved zorblax quintor returns", [("item:z1", "zorblax quintor")]),
    ("i loved zorblax", []),
])
def test_a_title_that_starts_a_longer_one(aliases: AliasIndex, text: str, films: list[tuple[str, str]]):
    assert _films(aliases, text) == films


@pytest.mark.parametrize("text, node", [
    ("Vantablack Orchard (2001)", "item:v1"),
    ("Vantablack Orchard 2010", "item:v2"),
    ("vantablack orchard", "item:v1"),  # no year: the better known of the two
])
def test_one_key_for_two_films(aliases: AliasIndex, text: str, node: str):
    assert [film for film, _ in _films(aliases, text)] == [node]


def test_a_typo_two_alias_words_share(aliases: AliasIndex):
    # "vantablck" is one letter short of both "vantablack" and "vantablock": the phrase around it decides.
    assert _films(aliases, "what about vantablck orchard") == [("item:v1", "vantablck orchard")]
    assert _films(aliases, "what about vantablck meadow") == [("item:v3", "vantablck meadow")]


def test_the_compact_index_pickles(aliases: AliasIndex):
    text = "zorblax quintor returns again, then vantablck meadow and Vantablack Orchard (2010)"
    assert pickle.loads(pickle.dumps(aliases)).link(text) == aliases.link(text)
