"""Evidence, grounding check, template lines, ranking helpers: real catalog, a tiny real networkx graph, no LLM."""

from __future__ import annotations

import json
from types import SimpleNamespace

import networkx as nx
import pytest

from recommender.catalog import load_catalog
from recommender.evidence import build_evidence
from recommender.explain import Explainer, check_grounding, evidence_block, template_line
from recommender.profile import Profile, ProfileEntry
from recommender.ranking import NeutralCache, blend, candidate_text, preference_prefix
from recommender.settings import REPO_ROOT, Settings

GRAPH_TITLES = ["Arrival", "Sicario", "Interstellar", "The Martian", "Saw", "The Notebook", "Gravity"]
ROLE_RELATIONS = {"director": "directed_by", "star": "stars", "writer": "written_by", "composer": "composed_by"}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(REPO_ROOT / "assets" / "catalog.jsonl.gz")


@pytest.fixture(scope="module")
def kg(catalog):
    """A few real items as a graph with the shared node conventions (what knowledge_graph/ builds)."""
    graph = nx.Graph()

    def link(item_node: str, node: str, kind: str, label: str, relation: str) -> None:
        graph.add_node(node, kind=kind, label=label)
        old = graph.edges[item_node, node]["relations"] if graph.has_edge(item_node, node) else ()
        graph.add_edge(item_node, node, relations=tuple(dict.fromkeys(old + (relation,))))

    for title in GRAPH_TITLES:
        item = catalog.find_title(title)
        node = f"item:{item.item_id}"
        graph.add_node(node, kind="item", label=item.label)
        for role, name in item.all_people():
            link(node, f"person:{name}", "person", name, ROLE_RELATIONS[role])
        for genre in item.genres:
            link(node, f"genre:{genre}", "genre", genre, "has_genre")
        for keyword in item.keywords:
            link(node, f"keyword:{keyword}", "keyword", keyword, "has_keyword")
        link(node, f"decade:{item.decade}", "decade", item.decade, "from_decade")
    return SimpleNamespace(graph=graph)


def liked_item(catalog, title: str, polarity: int = 1) -> ProfileEntry:
    item = catalog.find_title(title)
    return ProfileEntry(f"item:{item.item_id}", "item", item.label, polarity, 1.0)


def entry(kind: str, label: str, polarity: int = 1) -> ProfileEntry:
    return ProfileEntry(f"{kind}:{label}", kind, label, polarity, 1.0)


# --- evidence ----------------------------------------------------------------------------------------
def test_evidence_finds_the_shared_director_in_the_graph(catalog, kg):
    profile = Profile("u", [liked_item(catalog, "Arrival")])
    evidence = build_evidence(catalog.find_title("Sicario"), profile, kg, catalog)
    first = evidence.matches[0]
    assert (first.kind, first.label, first.relation, first.because, first.via_title) == (
        "person", "Denis Villeneuve", "directed by", "Arrival", True)
    assert "denis villeneuve" in evidence.allowed_terms() and "2015" in evidence.allowed_terms()


def test_evidence_links_liked_people_genres_and_cautions(catalog, kg):
    profile = Profile("u", [entry("person", "Matt Damon"), entry("genre", "Science Fiction"),
                            entry("genre", "Drama", -1), entry("decade", "1990s")])
    evidence = build_evidence(catalog.find_title("The Martian"), profile, kg, catalog)
    assert [(m.kind, m.label) for m in evidence.matches] == [("person", "Matt Damon"), ("genre", "Science Fiction")]
    assert any("Drama" in c for c in evidence.cautions)
    assert any("1990s" in c for c in evidence.cautions)


def test_evidence_without_a_graph_node_uses_the_catalog(catalog, kg):
    profile = Profile("u", [liked_item(catalog, "Forrest Gump")])
    evidence = build_evidence(catalog.find_title("Cast Away"), profile, kg, catalog)  # neither is in the graph
    assert {"Tom Hanks", "Robert Zemeckis"} <= {m.label for m in evidence.matches}


def test_disliked_item_sharing_a_director_is_a_caution(catalog, kg):
    profile = Profile("u", [liked_item(catalog, "Arrival", polarity=-1)])
    evidence = build_evidence(catalog.find_title("Sicario"), profile, kg, catalog)
    assert evidence.cautions and "Denis Villeneuve" in evidence.cautions[0]


# --- grounding check -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sicario_evidence(catalog, kg):
    return build_evidence(catalog.find_title("Sicario"), Profile("u", [liked_item(catalog, "Arrival")]), kg, catalog)


@pytest.mark.parametrize("line", [
    "Because you loved Arrival: another Denis Villeneuve film, a tense FBI thriller with Emily Blunt.",
    "Villeneuve again, with Benicio del Toro and Josh Brolin in a 2015 thriller.",
    "Expect a tense drug war story from the director of Arrival.",
])
def test_grounded_lines_pass(line, sicario_evidence):
    assert check_grounding(line, sicario_evidence) == []


@pytest.mark.parametrize("line, offending", [
    ("Because you loved Arrival: a thriller starring James Camerón.", "James Camerón"),
    ("A tense 2012 thriller from Denis Villeneuve.", "2012"),
    ("Steven Spielberg's darkest thriller, with Emily Blunt.", "Steven Spielberg"),
    ('Critics called it "the best film of the decade".', "the best film of the decade"),
])
def test_invented_names_numbers_and_quotes_are_rejected(line, offending, sicario_evidence):
    assert offending in check_grounding(line, sicario_evidence)


@pytest.mark.parametrize("line", [
    "I've seen this Denis Villeneuve film three times.",
    "My favourite Denis Villeneuve film.",
    "Do you like Denis Villeneuve films?",
    "Sicario (2015).",
    "",
    "A Denis Villeneuve film " + "with a long and winding plot " * 5 + "for you.",
    "Emily Blunt, whom you love, in a tense thriller.",
    "A tense thriller with Emily Blunt and Josh Brolin",
])
def test_off_voice_lines_are_rejected(line, sicario_evidence):
    assert check_grounding(line, sicario_evidence)


def test_templates_are_always_grounded(catalog):
    profiles = [
        Profile("cold"),
        Profile("u", [liked_item(catalog, "The Dark Knight"), entry("genre", "Comedy")]),
        Profile("u", [entry("person", "Tom Hanks"), entry("genre", "Science Fiction")]),
        Profile("u", [entry("decade", "1990s"), entry("keyword", "time travel")]),
        Profile("u", [liked_item(catalog, "Toy Story"), liked_item(catalog, "Heat")]),
    ]
    items = sorted(catalog.items, key=lambda i: -i.popularity)[:150]
    failures = []
    for profile in profiles:
        for item in items:
            evidence = build_evidence(item, profile, None, catalog)
            line = template_line(evidence)
            if check_grounding(line, evidence):
                failures.append((item.label, line, check_grounding(line, evidence)))
    assert failures == []


def test_golden_examples_are_grounded_and_match_the_current_evidence_format(catalog):
    golden = json.loads((REPO_ROOT / "assets" / "golden_explanations.json").read_text())
    assert len(golden) >= 8
    for example in golden:
        entries = []
        for node in example["liked"]:
            kind, label = node.split(":", 1)
            if kind == "item":
                entries.append(ProfileEntry(node, kind, catalog.by_id[label].label, 1, 1.0))
            else:
                entries.append(entry(kind, label))
        evidence = build_evidence(catalog.by_id[example["item_id"]], Profile("u", entries), None, catalog)
        assert evidence_block(evidence) == example["evidence"]
        assert check_grounding(example["line"], evidence) == [], example["line"]
        assert len(example["line"].split()) <= 25


def test_explainer_without_llm_uses_templates_then_its_cache(catalog, kg, tmp_path):
    explainer = Explainer(None, Settings(data_dir=tmp_path))
    profile = Profile("u", [liked_item(catalog, "Arrival")])
    pairs = [(catalog.find_title(t), build_evidence(catalog.find_title(t), profile, kg, catalog))
             for t in ("Sicario", "Interstellar")]
    first = list(explainer.explain_many(pairs))
    assert [e.source for e in first] == ["template", "template"]
    assert all(e.grounded for e in first)
    assert "Denis Villeneuve" in first[0].text
    again = explainer.explain(*pairs[0])
    assert (again.source, again.text) == ("cache", first[0].text)


# --- ranking helpers -------------------------------------------------------------------------------
def test_candidate_text_is_short_and_descriptive(catalog):
    text = candidate_text(catalog.find_title("Contact"))
    assert text.startswith(" Contact (1997), drama, science fiction about ")
    assert "based on novel" not in text and len(text.split()) <= 16


def test_preference_prefix(catalog):
    profile = Profile("u", [liked_item(catalog, "Interstellar"), liked_item(catalog, "Arrival"),
                            entry("genre", "Horror", -1)])
    assert preference_prefix(profile, "something thoughtful") == (
        'A viewer who loved Interstellar and Arrival, dislikes horror and asked for "something thoughtful" '
        'should watch:')
    assert preference_prefix(Profile("cold"), "  ") is None


def test_blend_z_normalizes_both_scores():
    # fusion z = [-1.2247, 0, 1.2247]; llm z = [1.2247, 0, -1.2247]
    mixed = blend([1.0, 2.0, 3.0], [30.0, 20.0, 10.0], 0.25)
    assert mixed == pytest.approx([-0.6124, 0.0, 0.6124], abs=1e-4)
    assert blend([1.0, 2.0], [5.0, 5.0], 0.5) == pytest.approx([-0.5, 0.5])
    with pytest.raises(ValueError):
        blend([1.0], [1.0, 2.0], 0.5)


def test_neutral_cache_persists_per_model(tmp_path):
    path = tmp_path / "neutral.json"
    NeutralCache(path, "model-a:1").put_many({" Heat (1995)": -2.5})
    assert NeutralCache(path, "model-a:1").get_many([" Heat (1995)", " Saw (2004)"]) == {" Heat (1995)": -2.5}
    assert NeutralCache(path, "model-b:2").get_many([" Heat (1995)"]) == {}


def test_a_line_that_loops_is_rejected():
    from recommender.explain import _repeats

    assert _repeats("A horror film, with a killer, a killer, a killer.")
    assert not _repeats("You like Tom Hanks, and this is starring Tom Hanks.")
    assert not _repeats("Because you loved Arrival: another Denis Villeneuve puzzle about time and language.")
