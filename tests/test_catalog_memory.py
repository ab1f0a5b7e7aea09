"""A loaded catalog holds one copy of what its items share, and the compact layout reads exactly as before."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from core.catalog import Catalog, CatalogError, load_catalog, write_catalog
from core.item import Item

HEAT = Item("ml6", "Heat", 1995, genres=("Action", "Crime"), people={"director": ("Michael Mann",)},
            keywords=("heist",), description="A career thief and the detective who hunts him.", popularity=0.9,
            sources={"movielens": "6", "redial": "199038", "imdb": "tt0113277", "facts.director": "tmdb_movies_10866"},
            language="en")
COLLATERAL = Item("ml8", "Collateral", 2004, genres=("Action", "Crime"), people={"director": ("Michael Mann",)},
                  keywords=("heist", "taxi"), description="A cab driver takes a hitman around Los Angeles.",
                  sources={"movielens": "8", "redial": "77", "imdb": "tt0369339",
                           "facts.director": "tmdb_movies_10866"}, language="en")
THIEF = Item("rd77", "Thief", 1995, sources={"redial": "5"})
"""Its own id is also Collateral's ReDial record id: the item's own id wins."""


@pytest.fixture
def written(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.jsonl.gz"
    write_catalog([HEAT, COLLATERAL, THIEF], path)
    return path


def test_items_share_repeated_names_genres_keys_and_dataset_names(written: Path):
    heat, collateral, thief = load_catalog(written)
    assert heat.people["director"][0] is collateral.people["director"][0]
    assert heat.genres is collateral.genres and heat.keywords[0] is collateral.keywords[0]
    assert heat.year is thief.year and heat.language is collateral.language
    assert next(iter(heat.sources)) is next(iter(collateral.sources))
    assert heat.sources["facts.director"] is collateral.sources["facts.director"]
    assert not hasattr(heat, "__dict__")


def test_a_loaded_catalog_reads_and_writes_back_exactly(written: Path, tmp_path: Path):
    catalog = load_catalog(written)
    assert catalog.items == [HEAT, COLLATERAL, THIEF]
    assert [item.to_json() for item in catalog] == [item.to_json() for item in (HEAT, COLLATERAL, THIEF)]
    again = tmp_path / "again" / written.name  # the gzip header names the file
    again.parent.mkdir()
    write_catalog(catalog.items, again)
    assert again.read_bytes() == written.read_bytes()
    assert catalog.fingerprint() == Catalog([HEAT, COLLATERAL, THIEF]).fingerprint()


def test_ids_and_merged_record_ids_resolve_with_the_items_own_id_first(written: Path):
    catalog = load_catalog(written)
    assert catalog.get("rd199038") == HEAT and catalog.get("ml8") == COLLATERAL
    assert catalog.get("rd77") == THIEF and catalog.get("rd5") == THIEF
    assert catalog.get("ml7") is None
    assert list(catalog.by_id) == ["ml6", "ml8", "rd77"] and len(catalog.by_id) == 3
    assert "rd77" in catalog.by_id and "rd199038" not in catalog.by_id
    assert catalog.by_id["ml8"] == COLLATERAL and catalog.by_id.get("nope") is None
    assert dict(catalog.by_id.items()) == {"ml6": HEAT, "ml8": COLLATERAL, "rd77": THIEF}
    assert catalog.index_of == {"ml6": 0, "ml8": 1, "rd77": 2}
    with pytest.raises(KeyError):
        catalog.by_id["rd199038"]


def test_titles_find_the_namesake_by_year_or_popularity():
    remake = Item("ml9", "Heat", 1986, popularity=0.2)
    catalog = Catalog([remake, HEAT, COLLATERAL])
    assert catalog.find_title("heat") == HEAT and catalog.find_title("Heat", 1986) == remake
    assert catalog.find_title("Heat", 1996) == HEAT and catalog.find_title("Heat", 2010) is None
    assert catalog.find_title("Nothing") is None


@pytest.mark.parametrize("enabled", [True, False])
def test_a_load_leaves_the_garbage_collector_as_it_found_it(written: Path, tmp_path: Path, enabled: bool):
    corrupt = tmp_path / "corrupt.jsonl"
    corrupt.write_text('{"item_id": "x1", "title": "Fine", "year": 1999}\n{"item_id": \n')
    (gc.enable if enabled else gc.disable)()
    try:
        load_catalog(written)
        assert gc.isenabled() is enabled
        with pytest.raises(CatalogError):
            load_catalog(corrupt)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()
