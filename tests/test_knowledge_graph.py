"""The knowledge graph, entity linking, evidence paths and PageRank, on the real shipped catalog."""

from __future__ import annotations

import io
import pickle
import random
from pathlib import Path

import numpy as np
import pytest

from core.catalog import Catalog, load_catalog
from core.ids import NodeId, item_id_of, item_node
from core.settings import REPO_ROOT, Settings
from core.vocabulary import Kind, Relation
from knowledge_graph.aliases import AliasIndex
from knowledge_graph.graph import KnowledgeGraph, KnowledgeGraphError
from knowledge_graph.paths import EvidencePath, evidence_paths
from knowledge_graph.ppr import PersonalizedPageRank


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(REPO_ROOT / "assets" / "catalog.jsonl.gz")


@pytest.fixture(scope="module")
def kg(catalog: Catalog) -> KnowledgeGraph:
    return KnowledgeGraph.build(catalog, progress=False)


@pytest.fixture(scope="module")
def aliases(catalog: Catalog, kg: KnowledgeGraph) -> AliasIndex:
    return AliasIndex.build(catalog, kg)


@pytest.fixture(scope="module")
def ppr(kg: KnowledgeGraph) -> PersonalizedPageRank:
    return PersonalizedPageRank(kg, Settings())


def _id(catalog: Catalog, title: str, year: int | None = None) -> str:
    item = catalog.find_title(title, year)
    assert item is not None, f"{title} ({year}) is not in the shipped catalog"
    return item.item_id


# --- graph --------------------------------------------------------------------------------------------

def test_graph_has_every_kind_and_the_arrival_director_edge(kg: KnowledgeGraph, catalog: Catalog):
    arrival = item_node(_id(catalog, "Arrival", 2016))
    assert kg.kind(arrival) == Kind.ITEM and kg.label(arrival) == "Arrival (2016)"
    assert kg.relations(arrival, "person:Denis Villeneuve") == (Relation.DIRECTED_BY,)
    assert {"person:Denis Villeneuve", "genre:Science Fiction", "decade:2010s"} <= set(kg.neighbours_of(arrival))
    interstellar = item_node(_id(catalog, "Interstellar"))
    assert set(kg.relations(interstellar, "person:Christopher Nolan")) == {"directed_by", "written_by"}
    assert kg.degree("genre:Drama") > 4000
    assert kg.degree("no such node") == 0
    kinds = {kg.kind(node) for node in kg.nodes}
    assert kinds == {"item", "person", "genre", "keyword", "decade", "series"}
    assert sum(1 for _ in kg.nodes_of_kind(Kind.ITEM)) == len(catalog)
    # Every node id is a core NodeId whose kind is the node's kind: nothing cuts ids by hand.
    assert all(NodeId.parse(node).kind == kg.kind(node) for node in kg.nodes)
    assert item_id_of(arrival) == _id(catalog, "Arrival", 2016) and item_id_of("person:Denis Villeneuve") is None


def test_films_of_a_series_share_its_node(kg: KnowledgeGraph, catalog: Catalog):
    series = "series:Toy Story Collection"
    # Collections come from the Movies Dataset file, which covers MovieLens' first 5,000 films (not Toy Story 3).
    for title, year in (("Toy Story", 1995), ("Toy Story 2", 1999)):
        assert kg.relations(item_node(_id(catalog, title, year)), series) == (Relation.IN_SERIES,)
    assert kg.kind(series) == Kind.SERIES and kg.label(series) == "Toy Story Collection"


def test_keyword_nodes_are_shared_by_at_least_two_items(kg: KnowledgeGraph):
    keywords = list(kg.nodes_of_kind(Kind.KEYWORD))
    assert len(keywords) > 1000
    assert min(kg.degree(node) for node in keywords) >= 2
    assert "keyword:duringcreditsstinger" not in kg and "keyword:imax" not in kg


def test_rows_keep_the_order_edges_were_added_in(kg: KnowledgeGraph, catalog: Catalog):
    """An item's attributes come in catalog order (its director before its genres, as Relation ranks them); an
    attribute's items in catalog order, which is ascending node number (what membership tests search)."""
    interstellar = catalog.by_id[_id(catalog, "Interstellar")]
    neighbours = kg.neighbours_of(item_node(interstellar.item_id))
    assert neighbours[0] == "person:Christopher Nolan"
    assert neighbours.index(f"genre:{interstellar.genres[0]}") > neighbours.index("person:Matthew McConaughey")
    assert kg.relations(item_node(interstellar.item_id), "person:Christopher Nolan") == (Relation.DIRECTED_BY,
                                                                                           Relation.WRITTEN_BY)
    drama = kg.row("genre:Drama")
    assert len(drama) > 4000 and (drama[1:] > drama[:-1]).all()
    assert [catalog.index_of[item_id_of(node)] for node in kg.neighbours_of("person:Denis Villeneuve")] == sorted(
        catalog.index_of[item_id_of(node)] for node in kg.neighbours_of("person:Denis Villeneuve"))


def test_common_neighbours_of_a_person_and_a_hub(kg: KnowledgeGraph):
    villeneuve, drama = kg.index["person:Denis Villeneuve"], kg.index["genre:Drama"]
    both = set(kg.neighbours_of("person:Denis Villeneuve")) & set(kg.neighbours_of("genre:Drama"))
    assert 0 < len(both) < kg.degree("person:Denis Villeneuve")
    for a, b in ((villeneuve, drama), (drama, villeneuve)):
        assert [kg.nodes[n] for n in kg.common_neighbours(a, b).tolist()] == sorted(both, key=kg.index.get)
    assert len(kg.common_neighbours(villeneuve, kg.index["person:Christopher Nolan"])) == 0


def test_save_load_roundtrip(kg: KnowledgeGraph, tmp_path: Path, catalog: Catalog):
    path = tmp_path / "graph.npz"
    kg.save(path)
    loaded = KnowledgeGraph.load(path)
    assert loaded.nodes == kg.nodes
    assert loaded.number_of_edges() == kg.number_of_edges()
    arrival = item_node(_id(catalog, "Arrival", 2016))
    assert loaded.label(arrival) == "Arrival (2016)" and loaded.label("person:Denis Villeneuve") == "Denis Villeneuve"
    assert list(loaded.edges(arrival)) == list(kg.edges(arrival))
    assert loaded.popularity[loaded.index[arrival]] == pytest.approx(catalog.by_id[item_id_of(arrival)].popularity)


def _graph_file_of_another_format() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, format=np.array("liner-notes-kg-0"))
    return buffer.getvalue()


@pytest.mark.parametrize("content", [None, b"not a graph at all", pickle.dumps({"format": "liner-notes-kg-1"}),
                                     _graph_file_of_another_format()])
def test_missing_or_corrupt_graph_file_names_the_file_and_the_fix(tmp_path: Path, kg: KnowledgeGraph,
                                                                  content: bytes | None):
    path = tmp_path / "graph.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(KnowledgeGraphError) as error:
        KnowledgeGraph.load(path)
    assert str(path) in str(error.value) and "liner ingest" in str(error.value)


def test_graph_file_whose_arrays_disagree_is_reported(tmp_path: Path, kg: KnowledgeGraph):
    path = tmp_path / "graph.npz"
    kg.save(path)
    with np.load(path) as data:
        arrays = dict(data)
    arrays["relations"] = arrays["relations"][:-1]
    np.savez(path, **arrays)
    with pytest.raises(KnowledgeGraphError, match="inconsistent"):
        KnowledgeGraph.load(path)


def test_truncated_graph_file_is_reported(tmp_path: Path, kg: KnowledgeGraph):
    path = tmp_path / "graph.npz"
    kg.save(path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(KnowledgeGraphError, match="corrupt"):
        KnowledgeGraph.load(path)


# --- entity linking -----------------------------------------------------------------------------------

def _links(aliases: AliasIndex, text: str) -> list[tuple[str, str]]:
    return [(m.node_id, text[m.start:m.end]) for m in aliases.link(text)]


def test_link_item_person_and_genre_with_spans(aliases: AliasIndex, catalog: Catalog):
    text = "I loved Arrival and anything by Denis Villeneuve but not horror"
    mentions = aliases.link(text)
    assert [(m.kind, text[m.start:m.end]) for m in mentions] == [
        ("item", "Arrival"), ("person", "Denis Villeneuve"), ("genre", "horror")]
    assert mentions[0].node_id == f"item:{_id(catalog, 'Arrival', 2016)}"
    assert mentions[1].node_id == "person:Denis Villeneuve"
    assert mentions[2].node_id == "genre:Horror"
    assert all(m.surface == text[m.start:m.end] for m in mentions)


@pytest.mark.parametrize("text", [
    "it was up to her", "It was great", "I want something good", "Get out of here",
    "we watched it together at home", "yes i have seen it, it was funny", "i like to drive",
    "Hi there! I'm looking for a good movie to watch tonight.", "love actually is nice",
])
def test_everyday_words_link_no_title(aliases: AliasIndex, text: str):
    assert [m for m in aliases.link(text) if m.kind in ("item", "person")] == []


@pytest.mark.parametrize("text, title, year", [
    ("Movies like Her, please", "Her", 2013),
    ("I watched Up with the kids", "Up", 2009),
    ('"Up" is great', "Up", 2009),
    ("I loved Get Out", "Get Out", 2017),
    ("what about Drive?", "Drive", 2011),
    ("i watched interstellar", "Interstellar", 2014),
    ("maybe inception", "Inception", 2010),
    ("amelie", "Amelie", 2001),
    ("Se7en was great", "Seven", 1995),
    ("I loved the dark knight", "The Dark Knight", 2008),
    ("Have you seen The Hangover  (2009)?", "The Hangover", 2009),
    ("THE MATRIX", "The Matrix", 1999),
])
def test_titles_link_with_a_cue_or_when_rare(aliases: AliasIndex, catalog: Catalog, text: str, title: str,
                                             year: int):
    assert [node for node, _ in _links(aliases, text) if node.startswith("item:")] == [
        f"item:{_id(catalog, title, year)}"]


def test_year_picks_the_namesake_and_an_unknown_year_links_nothing(aliases: AliasIndex, catalog: Catalog):
    heat = f"item:{_id(catalog, 'Heat', 1995)}"
    assert _links(aliases, "Heat (1995)") == [(heat, "Heat (1995)")]
    assert _links(aliases, "heat (1995)") == [(heat, "heat (1995)")]
    assert _links(aliases, "I liked Heat") == [(heat, "Heat")]
    assert _links(aliases, "Heat (1986)") == []
    namesakes = [item for item in catalog if item.title == "The Thing"]
    assert len(namesakes) >= 2, "the catalog should hold several films called The Thing"
    for item in namesakes:
        assert aliases.link(f"Have you seen The Thing ({item.year})?")[0].node_id == f"item:{item.item_id}"
    most_popular = max(namesakes, key=lambda item: item.popularity)
    assert aliases.link("I loved The Thing")[0].node_id == f"item:{most_popular.item_id}"


@pytest.mark.parametrize("text, title", [
    ("Interstelar", "Interstellar"), ("the dark knigth", "The Dark Knight"),
    ("I loved the shawshank redemtion", "The Shawshank Redemption"),
])
def test_typos_in_long_titles(aliases: AliasIndex, catalog: Catalog, text: str, title: str):
    mentions = aliases.link(text)
    assert [m.node_id for m in mentions] == [f"item:{_id(catalog, title)}"]
    assert 0.8 < mentions[0].score < 1.0


def test_people_full_names_typos_and_surnames(aliases: AliasIndex):
    assert _links(aliases, "leonardo dicaprio") == [("person:Leonardo DiCaprio", "leonardo dicaprio")]
    assert _links(aliases, "denis villenueve")[0][0] == "person:Denis Villeneuve"
    assert _links(aliases, "I'm a fan of Christopher Nolan's work")[0][0] == "person:Christopher Nolan"
    assert _links(aliases, "Nolan is the best") == [("person:Christopher Nolan", "Nolan")]
    assert _links(aliases, "Spielberg and Tarantino") == [
        ("person:Steven Spielberg", "Spielberg"), ("person:Quentin Tarantino", "Tarantino")]
    assert _links(aliases, "nolan") == []
    # Several prominent Lees and Andersons: a surname alone is no one in particular.
    assert _links(aliases, "Lee and Anderson") == []


@pytest.mark.parametrize("text, nodes", [
    ("sci-fi", ["genre:Science Fiction"]), ("scifi please", ["genre:Science Fiction"]),
    ("science fiction movies", ["genre:Science Fiction"]), ("rom-com", ["genre:Romance", "genre:Comedy"]),
    ("horror movies", ["genre:Horror"]), ("cartoons", ["genre:Animation"]), ("animated films", ["genre:Animation"]),
    ("documentaries", ["genre:Documentary"]), ("not a fan of musicals or westerns", ["genre:Musical", "genre:Western"]),
    ("superhero movies", ["keyword:superhero"]), ("I like zombies", ["keyword:zombie"]),
    ("family movies with my family", ["genre:Family"]),
    ("the 90s", ["decade:1990s"]), ("1980s", ["decade:1980s"]), ("80's stuff", ["decade:1980s"]),
    ("anything from the seventies?", ["decade:1970s"]),
])
def test_genres_keywords_and_decades(aliases: AliasIndex, text: str, nodes: list[str]):
    assert [m.node_id for m in aliases.link(text)] == nodes


def test_mentions_do_not_overlap_and_come_in_text_order(aliases: AliasIndex):
    text = "I enjoyed The Lord of the Rings: The Return of the King and The Dark Knight Rises, not The Dark Knight"
    mentions = aliases.link(text)
    assert [text[m.start:m.end] for m in mentions] == [
        "The Lord of the Rings: The Return of the King", "The Dark Knight Rises", "The Dark Knight"]
    assert all(a.end <= b.start for a, b in zip(mentions, mentions[1:]))


def test_link_reads_every_copy_of_a_long_message_alike(aliases: AliasIndex):
    # How fast linking is, is the benchmark's to measure (`liner bench`: the "understand" stage).
    rng = random.Random(0)
    words = ("I loved Arrival and the dark knight by Christopher Nolan in the 90s heat up Interstelar sci-fi "
             "movies with Denis Villeneuve zombie , . it was great but not horror").split()
    message = " ".join(rng.choice(words) for _ in range(600))[:2000]
    surfaces = [message[m.start:m.end] for m in aliases.link(message)]
    assert len(surfaces) > 50
    big = (message + " ") * 50
    assert [big[m.start:m.end] for m in aliases.link(big)] == surfaces * 50


def test_alias_index_pickles(aliases: AliasIndex):
    text = "I loved Arrival and anything by Denis Villeneuve but not horror"
    assert pickle.loads(pickle.dumps(aliases)).link(text) == aliases.link(text)


# --- evidence paths -----------------------------------------------------------------------------------

def test_evidence_path_from_the_director_and_from_a_liked_film(kg: KnowledgeGraph, catalog: Catalog):
    arrival, sicario = _id(catalog, "Arrival", 2016), _id(catalog, "Sicario", 2015)
    paths = evidence_paths(kg, ["person:Denis Villeneuve", f"item:{arrival}"], sicario)
    assert paths[0] == EvidencePath(("person:Denis Villeneuve", f"item:{sicario}"), ("directed_by",))
    assert EvidencePath((f"item:{arrival}", "person:Denis Villeneuve", f"item:{sicario}"),
                        ("directed_by", "directed_by")) in paths
    only_film = evidence_paths(kg, [f"item:{arrival}"], sicario)
    # The least connected person the two films share comes first: since Villeneuve's Dune films joined the
    # catalog, that is their composer.
    assert only_film[0].describe(kg) == (
        "Arrival (2016) — music by → Jóhann Jóhannsson ← music by — Sicario (2015)")
    assert "Arrival (2016) — directed by → Denis Villeneuve ← directed by — Sicario (2015)" in {
        path.describe(kg) for path in only_film}


def test_a_liked_film_the_graph_knows_nothing_about_is_no_path(kg: KnowledgeGraph, catalog: Catalog):
    """A liked item with no people, genres, shared keywords or year is a node without edges: the "why?" view used
    to fail on it (log of degree 0) for every card."""
    paterson, sicario = _id(catalog, "Paterson"), _id(catalog, "Sicario", 2015)
    assert kg.degree(item_node(paterson)) == 0
    paths = evidence_paths(kg, [item_node(paterson), "person:Denis Villeneuve"], sicario)
    assert [path.nodes[0] for path in paths] == ["person:Denis Villeneuve"]
    assert evidence_paths(kg, [item_node(paterson)], sicario) == []


def test_evidence_paths_prefer_specific_nodes_over_hubs(kg: KnowledgeGraph, catalog: Catalog):
    sicario = _id(catalog, "Sicario", 2015)
    paths = evidence_paths(kg, ["genre:Drama", f"item:{_id(catalog, 'Arrival', 2016)}"], sicario, limit=2)
    assert all("genre:Drama" not in path.nodes for path in paths)
    # Three hops: a liked person to a film that shares a specific attribute with one of theirs.
    dark_knight = _id(catalog, "The Dark Knight", 2008)
    paths = evidence_paths(kg, ["person:Denis Villeneuve"], dark_knight)
    assert paths and len(paths[0].nodes) == 4 and paths[0].nodes[0] == "person:Denis Villeneuve"
    assert evidence_paths(kg, ["person:Denis Villeneuve"], dark_knight, max_hops=2) == []


def test_evidence_paths_with_hub_sources_run_from_a_source_to_the_target(kg: KnowledgeGraph, catalog: Catalog):
    sources = ["genre:Drama", "genre:Comedy", "decade:2000s", "person:Hans Zimmer",
               f"item:{_id(catalog, 'Inception')}"]
    for title in ("The Dark Knight", "Toy Story", "Amelie", "Heat", "Titanic"):
        target = _id(catalog, title)
        paths = evidence_paths(kg, sources, target)
        assert paths, title
        assert all(path.nodes[0] in sources and path.nodes[-1] == item_node(target) for path in paths), title


# --- personalized PageRank ----------------------------------------------------------------------------

def test_pagerank_from_interstellar_finds_nolan_and_science_fiction(ppr: PersonalizedPageRank,
                                                                    catalog: Catalog, kg: KnowledgeGraph):
    interstellar = _id(catalog, "Interstellar")
    scores = ppr.scores({f"item:{interstellar}": 1.0}, alpha=0.25, top_k=100)
    ranked = sorted(scores, key=scores.get, reverse=True)
    assert interstellar not in scores and all(not i.startswith("item:") for i in ranked)
    nolan = {item_id_of(n) for n in kg.neighbours_of("person:Christopher Nolan")} - {interstellar}
    assert len(nolan & set(ranked[:20])) >= 4
    # Half of the top 50 is science fiction, against a catalog base rate under 10 %.
    scifi = sum("Science Fiction" in catalog.by_id[i].genres for i in ranked[:50])
    assert scifi >= 15 > 0.1 * 50


def test_pagerank_seeds_of_any_kind(ppr: PersonalizedPageRank, catalog: Catalog, kg: KnowledgeGraph):
    scores = ppr.scores({"person:Denis Villeneuve": 1.0, "genre:Horror": 0.2})
    top = sorted(scores, key=scores.get, reverse=True)[:5]
    villeneuve = {item_id_of(n) for n in kg.neighbours_of("person:Denis Villeneuve")}
    assert set(top) <= villeneuve and _id(catalog, "Prisoners") in top
    assert ppr.scores({"person:Nobody At All": 1.0}) == {}
    assert len(ppr.scores({"genre:Drama": 1.0}, top_k=7)) == 7
    seeds = {f"item:{_id(catalog, t)}": 1.0 for t in ("Arrival", "Heat", "Amelie", "Toy Story", "Se7en")}
    several = ppr.scores(seeds)
    assert several and not {item_id_of(seed) for seed in seeds} & set(several)
