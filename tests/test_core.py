"""The domain core: node ids, the vocabulary as enums, the shared Item and Mention types, and the small helpers."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from core.cache import LRUCache
from core.catalog import article_first, normalize_title
from core.files import atomic_write, atomic_write_text
from core.ids import NodeId, item_id_of, item_node, node_id
from core.item import Item
from core.stats import percentile_ranks, share_at_or_below
from core.text import join_words, strip_control
from core.vocabulary import (
    DECADE_PHRASE,
    DECADE_WORDS,
    GENERIC_KEYWORDS,
    PRODUCTION_KEYWORDS,
    ROLES,
    UNINFORMATIVE_KEYWORDS,
    VOCABULARY_PATH,
    Kind,
    Relation,
    VocabularyError,
    decade_phrases,
    decade_start,
    _load,
)


def test_node_ids_round_trip_and_reject_what_is_not_one():
    assert NodeId.parse("person:Denis Villeneuve") == NodeId(Kind.PERSON, "Denis Villeneuve")
    assert str(NodeId(Kind.KEYWORD, "time travel: loops")) == "keyword:time travel: loops"
    assert NodeId.parse("keyword:time travel: loops").key == "time travel: loops"  # only the first colon cuts
    assert node_id(Kind.GENRE, "Horror") == "genre:Horror" and item_node("ml2571") == "item:ml2571"
    assert item_id_of("item:ml2571") == "ml2571" and item_id_of("person:Item Person") is None
    for bad in ("ml2571", "film:ml2571", "item:", ":x", ""):
        with pytest.raises(ValueError, match="not a node id"):
            NodeId.parse(bad)


def test_relations_carry_phrase_role_target_and_order_from_the_data_file():
    data = json.loads(VOCABULARY_PATH.read_text(encoding="utf-8"))
    names = [name for name in data["relations"] if not name.startswith("_")]
    assert names == [relation.value for relation in sorted(Relation, key=lambda r: r.order)]
    assert Relation.STARS.phrase == "starring" and Relation.HAS_KEYWORD.phrase == "about"
    assert Relation.for_role("director") is Relation.DIRECTED_BY and Relation.HAS_GENRE.role is None
    assert Relation.COMPOSED_BY.target is Kind.PERSON and Relation.FROM_DECADE.target is Kind.DECADE
    assert ROLES == ("director", "star", "writer", "composer")
    # The edge of someone who wrote and starred shows the writing; unknown names are skipped.
    assert Relation.most_telling(["stars", "written_by", "produced_by"]) is Relation.WRITTEN_BY
    with pytest.raises(ValueError):
        Relation.most_telling(["produced_by"])
    assert f"{Kind.ITEM}" == "item" and Kind.GENRE.link_precedence < Kind.ITEM.link_precedence


def test_a_broken_vocabulary_file_names_itself(tmp_path: Path):
    broken = tmp_path / "vocabulary.json"
    broken.write_text('{"kinds": ')
    with pytest.raises(VocabularyError, match=f"{broken}.*git checkout"):
        _load(broken)


def test_keyword_lists_and_decade_words():
    assert {"duringcreditsstinger", "3d"} <= PRODUCTION_KEYWORDS and "sequel" in GENERIC_KEYWORDS
    assert UNINFORMATIVE_KEYWORDS == PRODUCTION_KEYWORDS | GENERIC_KEYWORDS
    assert DECADE_WORDS["twenties"] == 1920 and DECADE_WORDS["nineties"] == 1990 and len(DECADE_WORDS) == 8


@pytest.mark.parametrize("phrase, start", [("80s", 1980), ("80's", 1980), ("the eighties", 1980), ("1980s", 1980),
                                           ("00s", 2000), ("10s", 2010), ("2020s", 2020), ("twenties", 1920),
                                           ("20s", None), ("the 20s", None), ("eighty", None)])
def test_one_reading_of_decades(phrase, start):
    """The linker's decade aliases and the message reader's decade mentions read a phrase the same way: "20s"
    names two decades, so neither takes it for one."""
    assert decade_start(phrase) == start
    if start is not None:
        assert all(decade_start(form) == start for form in decade_phrases(start))
        assert DECADE_PHRASE.fullmatch(phrase.removeprefix("the "))



@pytest.mark.parametrize("filed, said", [("Matrix, The", "The Matrix"), ("Ours, L'", "L'Ours"),
                                         ("Cité des enfants perdus, La", "La Cité des enfants perdus"),
                                         ("Heat", "Heat"), ("Me, Myself and Irene", "Me, Myself and Irene")])
def test_article_first_and_one_title_key(filed, said):
    """One reading of titles filed under their article, for the asset build and the runtime key alike: an elided
    article joins its word ("L'Ours", not "L' Ours")."""
    assert article_first(filed) == said
    assert normalize_title(filed) == normalize_title(said)

def test_item_json_round_trip_and_people_in_role_order():
    item = Item("x1", "Heat", 1995, genres=("Crime",), people={"star": ("Al Pacino",), "director": ("Michael Mann",)})
    assert Item.from_json(json.loads(json.dumps(item.to_json()))) == item
    assert item.all_people() == [("director", "Michael Mann"), ("star", "Al Pacino")]
    assert item.label == "Heat (1995)" and item.decade == "1990s"


def test_text_helpers():
    assert join_words([]) == "" and join_words(["Heat"]) == "Heat"
    assert join_words(["Heat", "Alien", "Heat", "Up"]) == "Heat, Alien and Up"
    assert strip_control("a\x00b\tc\r\nd\x1b[31m\ud800") == "ab\tc\nd[31m"


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path):
    path = tmp_path / "sub" / "out.json"
    atomic_write_text(path, "first")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, broken)
    assert path.read_text() == "first" and [p.name for p in path.parent.iterdir()] == ["out.json"]


def test_lru_cache_drops_the_least_recently_used():
    cache: LRUCache[str, int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the oldest
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3 and len(cache) == 2
    threads = [threading.Thread(target=lambda n=n: [cache.put(f"{n}-{i}", i) for i in range(500)]) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 2


def test_percentile_ranks_span_zero_to_one():
    assert percentile_ranks({"a": 10.0, "b": 0.5, "c": 3.0}) == {"b": 0.0, "c": 0.5, "a": 1.0}


def test_share_at_or_below_gives_ties_one_score():
    share = share_at_or_below([3.0, 1.0, 3.0, 7.0])
    assert [share(v) for v in (0.5, 1.0, 3.0, 5.0, 7.0)] == [0.0, 0.25, 0.75, 0.75, 1.0]
    with pytest.raises(ValueError):
        share_at_or_below([])
