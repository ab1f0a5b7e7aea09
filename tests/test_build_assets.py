"""The shipped catalog and co-occurrence data as `liner build-assets` makes them from ../shared/data: one entry
per film (entity resolution), the DBpedia audit, every ReDial and MovieLens id resolvable, all train conversations
in the collaborative signals and none from test."""

from __future__ import annotations

import csv
import gzip
import json
from collections import defaultdict
from pathlib import Path

import pytest

from recommender.build_assets import FIRST_TEST_CONVERSATION, build_assets
from recommender.catalog import Catalog, normalize_title
from recommender.cooccurrence import Cooccurrence
from recommender.entity_resolution import DialogueEvidence, FilmFacts, same_film
from recommender.settings import REPO_ROOT, Settings

SHARED = REPO_ROOT.parent / "shared" / "data"
REDIAL = SHARED / "redial"
ASSETS = REPO_ROOT / "assets"


@pytest.fixture(scope="module")
def evidence() -> DialogueEvidence:
    return DialogueEvidence.from_redial(REDIAL)


@pytest.fixture(scope="module")
def cooc_data() -> dict:
    with gzip.open(ASSETS / "cooccurrence.json.gz", "rt", encoding="utf-8") as handle:
        return json.load(handle)


# --- the rule, on small records ---------------------------------------------------------------------------------

def _film(key: str, year: int, title: str = "Independence Day", people: tuple[str, ...] = (),
          imdb: str = "", redial: tuple[str, ...] = ()) -> FilmFacts:
    return FilmFacts(key=key, names=frozenset({normalize_title(title)}), year=year, imdb=imdb,
                     tmdb="", directors=frozenset(people[:1]), people=frozenset(people), redial_ids=redial)


EMMERICH = _film("ml780", 1996, people=("Roland Emmerich", "Will Smith", "Jeff Goldblum"), imdb="tt0116629")
TAMIL = ("A. R. Ramesh", "C. Arunpandian")


def test_dialogues_naming_the_famous_film_merge_a_namesake_record_across_years():
    talk = DialogueEvidence({"1": ["I love Will Smith in @1", "any Will Smith movie like @1", "@1 with Jeff "
                                   "Goldblum", "have you seen @1?"]})
    record = _film("rd1", 2000, people=TAMIL, redial=("1",))
    verdict = same_film(record, EMMERICH, talk)
    assert verdict.same and "3 vs 0" in verdict.reason
    # Two dialogues are not enough to merge records four years apart.
    two = DialogueEvidence({"1": ["I love Will Smith in @1", "any Will Smith movie like @1"]})
    assert same_film(record, EMMERICH, two) is None


def test_dialogues_naming_the_namesakes_people_keep_it_apart():
    talk = DialogueEvidence({"1": ["@1 with C. Arunpandian is great", "Ramesh made @1"]})
    record = _film("rd1", 1997, people=TAMIL, redial=("1",))
    verdict = same_film(record, EMMERICH, talk)
    assert not verdict.same and "own people" in verdict.reason


def test_ids_decide_before_titles_and_years():
    nobody = DialogueEvidence({})
    assert not same_film(_film("a", 1996, imdb="tt1"), _film("b", 1996, imdb="tt2"), nobody).same
    assert same_film(_film("a", 1996, imdb="tt1"), _film("b", 1999, imdb="tt1"), nobody).same
    # A ReDial record one year off with nothing against it is the same film; a remake decades apart is not compared.
    assert same_film(_film("rd1", 1995, title="Heat"), _film("ml6", 1996, title="Heat", imdb="tt9"), nobody).same
    assert same_film(_film("rd1", 1976, title="Carrie"), _film("ml2", 2013, title="Carrie", imdb="tt8"), nobody) is None


# --- the shipped catalog ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kept, merged", [
    ("ml6", "rd199038"),      # Heat (1995) / (1996)
    ("ml111", "rd92667"),     # Taxi Driver (1976) / (1977)
    ("ml48", "rd146845"),     # Pocahontas (1995) / (1994)
    ("ml1127", "rd180648"),   # The Abyss (1989) / (1988)
    ("ml1172", "rd150359"),   # Cinema Paradiso (1989) / (1988)
    ("ml85788", "rd153346"),  # Insidious (2010) / (2011)
    ("ml780", "rd169085"),    # ReDial's "Independence Day (2000)": its dialogues talk of Will Smith
    ("ml6003", "ml144606"),   # Confessions of a Dangerous Mind: two MovieLens ids, one TMDB id
])
def test_duplicates_are_one_entry_and_every_id_resolves(catalog: Catalog, kept: str, merged: str):
    item = catalog.get(merged)
    assert item is catalog.get(kept) and item.item_id == kept
    assert merged not in catalog.by_id
    assert catalog.canonical_id(merged) == kept


def test_namesake_facts_are_not_attached_to_the_famous_film(catalog: Catalog):
    taxi_driver = catalog.get("ml111")
    assert taxi_driver.people["director"] == ("Martin Scorsese",)
    assert catalog.get("ml1127").people["director"] == ("James Cameron",)
    independence_day = catalog.get("rd169085")
    assert independence_day.year == 1996 and "Will Smith" in independence_day.people["star"]
    # The Malayalam and Tamil namesakes' facts came only through ReDial's wrong years: no entry carries them.
    people = {name for item in catalog for _, name in item.all_people()}
    assert not {"P. N. Menon", "A. R. Ramesh", "André Delvaux"} & people
    assert catalog.find_title("Heat", 1996).item_id == "ml6"


@pytest.mark.parametrize("one, other", [
    ("ml780", "rd95881"),     # Independence Day (1996) and the 1983 drama by Robert Mandel
    ("ml838", "ml26958"),     # Emma (1996): the film and the TV film (different IMDb ids)
    ("ml34048", "ml64997"),   # War of the Worlds (2005): Spielberg's and The Asylum's
    ("ml8957", "ml148671"),   # Saw (2004) and the 2003 short
    ("rd151390", "rd118748"),  # The Choice (2015, Michele Placido) and (2016, Ross Katz)
])
def test_namesakes_stay_apart(catalog: Catalog, one: str, other: str):
    a, b = catalog.get(one), catalog.get(other)
    assert a is not None and b is not None and a is not b
    assert normalize_title(a.title) == normalize_title(b.title)


def test_no_two_shipped_entries_are_the_same_film(catalog: Catalog, evidence: DialogueEvidence):
    by_name: dict[str, list] = defaultdict(list)
    for item in catalog:
        facts = FilmFacts.of_item(item)
        for name in facts.names:
            by_name[name].append(facts)
    same = set()
    for group in by_name.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                verdict = same_film(a, b, evidence)
                if verdict and verdict.same:
                    same.add((a.key, b.key, verdict.reason))
    assert not same, sorted(same)[:10]


def test_every_redial_and_movielens_id_resolves(catalog: Catalog):
    with open(REDIAL / "movies_with_mentions.csv", encoding="utf-8") as handle:
        redial = {row["movieId"]: row["movieName"] for row in csv.DictReader(handle)}
    with open(SHARED / "movielens_small" / "movies.csv", encoding="utf-8") as handle:
        movielens = [row["movieId"] for row in csv.DictReader(handle)]
    assert len(redial) == 6924
    unresolved = {m: name for m, name in redial.items() if catalog.get(f"rd{m}") is None}
    # ReDial lists two movies by a year alone (" (2015)", " (2007)"); no train dialogue mentions them.
    assert unresolved == {"103034": " (2015)", "182022": " (2007)"}
    assert [m for m in movielens if catalog.get(f"ml{m}") is None] == []


def test_merge_report_lists_merges_kept_apart_and_fixes():
    report = (ASSETS / "merge_report.md").read_text(encoding="utf-8")
    assert "| ml6 Heat (1995) | rd199038 Heat (1996) |" in report
    assert "ml838 Emma (1996)" in report and "Taxi_Driver_(1977_film)" in report
    assert "Independence_Day_(2000_film)" in report
    readme = (ASSETS / "README.md").read_text(encoding="utf-8")
    assert "merge_report.md" in readme


# --- train conversations in the collaborative signals ------------------------------------------------------------

def test_all_train_conversations_and_no_test_ones(cooc_data: dict, catalog: Catalog):
    conversations = cooc_data["redial_conversations"]
    ids = [c["conversation"] for c in conversations]
    assert len(ids) == len(set(ids))
    assert len(ids) > 9800
    assert max(int(i) for i in ids) < FIRST_TEST_CONVERSATION
    assert sum(c["source"] == "dialogue" for c in conversations) == 1401
    for conv in conversations:
        assert sorted(item for item, _ in conv["sequence"]) == conv["items"]
        assert all(catalog.get(item) is not None and liked in (0, 1, 2) for item, liked in conv["sequence"])


def test_an_extra_conversation_can_be_left_out(cooc_data: dict, catalog: Catalog, settings: Settings):
    cooc = Cooccurrence.load(ASSETS / "cooccurrence.json.gz", catalog, settings)
    extra = next(c for c in cooc_data["redial_conversations"] if c["source"] == "extra" and len(c["items"]) >= 3)
    left_out = cooc.without([extra["conversation"]])
    for item in extra["items"]:
        assert left_out.conversation_counts[item] == cooc.conversation_counts[item] - 1
    a, b = extra["items"][:2]
    assert left_out.redial.get(a, {}).get(b, 0.0) < cooc.redial[a][b]


def test_build_reproduces_the_shipped_catalog_and_cooccurrence(tmp_path: Path):
    counts = build_assets(SHARED, tmp_path, Settings(), embeddings=False)
    assert counts["merged"] > 80 and counts["items"] == counts["source_records"] - counts["merged"]
    for name in ("catalog.jsonl.gz", "cooccurrence.json.gz", "merge_report.md"):
        assert (tmp_path / name).read_bytes() == (ASSETS / name).read_bytes(), name
