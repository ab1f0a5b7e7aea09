"""Retrieval building blocks with the real components: the packaged MiniLM encoder, FAISS, the shipped
co-occurrence data, the artifact cache and catalog import."""

from __future__ import annotations

import csv
import gzip
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from core.catalog import Catalog, CatalogError, load_catalog, write_catalog
from core.settings import REPO_ROOT, Settings
from pipelines.catalog_import import convert_catalog
from recommender.cooccurrence import Cooccurrence
from recommender.embedding_asset import catalog_vectors, text_hashes, write_embedding_asset
from recommender.encoder import PACKAGED_MODEL_ID, Encoder, EncoderError
from recommender.vector_index import IndexSpec, VectorIndex, VectorIndexError

COOC_PATH = REPO_ROOT / "assets" / "cooccurrence.json.gz"


@pytest.fixture(scope="module")
def full_catalog() -> Catalog:
    return load_catalog(REPO_ROOT / "assets" / "catalog.jsonl.gz")


@pytest.fixture(scope="module")
def popular_slice(full_catalog) -> Catalog:
    """The 150 most popular movies: varied genres, small enough to encode in a few seconds."""
    return Catalog(sorted(full_catalog.items, key=lambda item: -item.popularity)[:150])


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder(Settings())


@pytest.fixture(scope="module")
def slice_vectors(encoder, popular_slice) -> np.ndarray:
    return encoder.encode([encoder.item_text(item) for item in popular_slice])


# --- encoder ---------------------------------------------------------------------------------------------

def test_encoder_vectors_are_normalized_float32(slice_vectors, popular_slice):
    assert slice_vectors.shape == (len(popular_slice), 384)
    assert slice_vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(slice_vectors, axis=1), 1.0, atol=1e-4)


def test_item_text_holds_facts_and_a_truncated_description(encoder, full_catalog):
    matrix = full_catalog.by_id["ml2571"]
    text = encoder.item_text(matrix)
    assert text.startswith("The Matrix (1999).")
    assert "Science Fiction" in text and "Lana Wachowski" in text and "Keanu Reeves" in text
    long_item = max(full_catalog.items, key=lambda item: len(item.description))
    assert len(long_item.description) >= 1000
    text = encoder.item_text(long_item)
    assert len(text) < len(long_item.description) and text.endswith("…")


def test_encode_query_is_cached_and_read_only(encoder):
    first = encoder.encode_query("a heist movie with a twist")
    assert encoder.encode_query("a heist movie with a twist") is first
    assert not first.flags.writeable
    np.testing.assert_allclose(first, encoder.encode(["a heist movie with a twist"])[0], atol=1e-5)


def test_missing_model_path_names_the_setting(tmp_path):
    with pytest.raises(EncoderError, match="LINER_EMBEDDING_MODEL_PATH"):
        Encoder(Settings(embedding_model_path=str(tmp_path / "nowhere")))


# --- vector index ------------------------------------------------------------------------------------------

def test_space_query_finds_science_fiction(encoder, slice_vectors, popular_slice):
    index = VectorIndex.build(slice_vectors, Settings())
    hits = index.search(encoder.encode_query("space exploration science fiction"), 10)
    assert len(hits) == 10
    scores = [score for _, score in hits]
    assert scores == sorted(scores, reverse=True)
    genres = [popular_slice.items[row].genres for row, _ in hits]
    assert sum("Science Fiction" in g for g in genres) >= 7, [popular_slice.items[r].label for r, _ in hits]


def test_index_save_load_roundtrip(tmp_path, slice_vectors):
    index = VectorIndex.build(slice_vectors, Settings())
    path = tmp_path / "index.faiss"
    index.save(path)
    loaded = VectorIndex.load(path)
    queries = slice_vectors[:5]
    assert loaded.search_many(queries, 20) == index.search_many(queries, 20)
    # Each vector finds itself first.
    assert [hits[0][0] for hits in loaded.search_many(queries, 1)] == [0, 1, 2, 3, 4]


def test_index_k_larger_than_catalog(slice_vectors):
    index = VectorIndex.build(slice_vectors[:7], Settings())
    assert len(index.search(slice_vectors[0], 50)) == 7


def _overlap(found: list[list[tuple[int, float]]], expected: list[list[tuple[int, float]]], k: int) -> float:
    return float(np.mean([len({r for r, _ in f} & {r for r, _ in e}) / k for f, e in zip(found, expected)]))


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_index_above_threshold_has_high_recall(slice_vectors, kind):
    exact = VectorIndex.build(slice_vectors, Settings())
    # 4 cells, 3 searched: the IVF must find neighbours outside the query's own cell to pass.
    settings = Settings(faiss_exact_below=100, faiss_approximate=kind, faiss_ivf_nlist=4, faiss_ivf_nprobe=3)
    approximate = VectorIndex.build(slice_vectors, settings)
    assert approximate.kind == kind and exact.kind == "flat"
    queries = slice_vectors[::10]
    assert _overlap(approximate.search_many(queries, 10), exact.search_many(queries, 10), 10) >= 0.9


def test_index_kind_follows_the_catalog_size():
    settings = Settings(faiss_exact_below=1000)
    assert IndexSpec.choose(999, settings).kind == "flat"
    assert IndexSpec.choose(1000, settings).kind == "hnsw"
    ivf = IndexSpec.choose(1_000_000, Settings(faiss_approximate="ivf"))
    assert ivf.kind == "ivf" and ivf.nlist == 4096 and ivf.file_name == "index-ivf4096-sq8.faiss"


def test_ivf_scores_are_exact_after_the_rerank(tmp_path, slice_vectors):
    """The 8-bit codes only pick candidates: the returned scores are the true inner products, best first, and a
    saved index searches the same with memory-mapped vectors."""
    settings = Settings(faiss_exact_below=100, faiss_approximate="ivf", faiss_ivf_nlist=4, faiss_ivf_nprobe=4)
    index = VectorIndex.build(slice_vectors, settings)
    query = slice_vectors[7]
    hits = index.search(query, 20)
    np.testing.assert_allclose([score for _, score in hits], slice_vectors[[r for r, _ in hits]] @ query, rtol=1e-6)
    assert [score for _, score in hits] == sorted((score for _, score in hits), reverse=True)
    assert hits[0][0] == 7
    np.save(tmp_path / "vectors.npy", slice_vectors)
    index.save(tmp_path / "index.faiss", build_s=0.5)
    assert VectorIndex.recorded_spec(tmp_path / "index.faiss") == index.spec
    mapped = np.load(tmp_path / "vectors.npy", mmap_mode="r")
    loaded = VectorIndex.load(tmp_path / "index.faiss", settings, vectors=mapped)
    assert loaded.kind == "ivf" and loaded.search(query, 20) == hits


def test_index_choice_is_recorded_and_rebuilt_when_the_setting_changes(small_settings, tmp_path):
    from recommender.artifacts import load_artifacts

    approximate = small_settings.with_overrides(faiss_exact_below=10, data_dir=tmp_path / "data")
    built = load_artifacts(approximate, progress=False)
    record = json.loads((built.cache_dir / "index-hnsw32.json").read_text())
    assert built.index.kind == "hnsw" and record["kind"] == "hnsw" and record["count"] == 60
    assert record["ef_search"] == approximate.faiss_hnsw_ef_search and record["build_s"] >= 0
    index_file = built.cache_dir / "index-hnsw32.faiss"
    written = index_file.stat().st_mtime_ns
    # A wider search is a search setting: the same file is loaded with it, not rebuilt.
    wider = load_artifacts(approximate.with_overrides(faiss_hnsw_ef_search=400), progress=False)
    assert wider.index.spec.ef_search == 400 and index_file.stat().st_mtime_ns == written
    # Another kind is another build, in its own file.
    ivf = load_artifacts(approximate.with_overrides(faiss_approximate="ivf"), progress=False)
    assert ivf.index.kind == "ivf" and (built.cache_dir / f"{ivf.index.spec.file_name}").is_file()
    assert ivf.index.search(built.item_vectors[3], 1)[0][0] == 3


def test_scale_bench_keeps_the_real_vectors_and_measures_recall(tmp_path):
    from bench.scale import run_scale, synthetic_catalog

    settings = Settings(data_dir=tmp_path, faiss_exact_below=2000)
    with np.load(settings.embeddings_path) as data:
        real = data["vectors"].astype(np.float32)
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    vectors = synthetic_catalog(real[:500], 3000, tmp_path / "v.npy", seed=3)
    np.testing.assert_allclose(vectors[:500], real[:500])
    # Each copy stays near the real item it copies (cosine about 0.8), far nearer than a random item.
    nearest = (np.asarray(vectors[500:]) @ real[:500].T).max(axis=1)
    assert 0.6 < float(np.median(nearest)) < 0.95
    report = run_scale(settings, 3000, queries=50, sweep=False)
    assert report.index["kind"] == "hnsw" and report.items == 3000
    assert report.recall_at_100 >= 0.9 and 0 < report.query_ms_p50 <= report.query_ms_p95
    assert report.index_mb > 0 and report.rss_mb > 0
    assert not list(tmp_path.glob("scale-*")), "the synthetic vectors are removed afterwards"


def test_nan_vectors_are_refused_with_the_fix(tmp_path, slice_vectors):
    broken = slice_vectors[:10].copy()
    broken[3, 7] = np.nan
    with pytest.raises(VectorIndexError, match=r"NaN or infinite values in 1 rows \(first: \[3\]\).*liner ingest"):
        VectorIndex.build(broken, Settings())
    # An index file holding a NaN vector (written by something else) is refused on load too.
    import faiss

    raw = faiss.IndexFlatIP(broken.shape[1])
    raw.add(broken)
    faiss.write_index(raw, str(tmp_path / "nan.faiss"))
    with pytest.raises(VectorIndexError, match=r"nan\.faiss holds? NaN.*liner ingest"):
        VectorIndex.load(tmp_path / "nan.faiss")


def test_missing_or_corrupt_index_names_file_and_fix(tmp_path):
    missing = tmp_path / "absent.faiss"
    with pytest.raises(VectorIndexError, match=r"absent\.faiss.*liner ingest"):
        VectorIndex.load(missing)
    corrupt = tmp_path / "corrupt.faiss"
    corrupt.write_bytes(b"not an index at all")
    with pytest.raises(VectorIndexError, match=r"corrupt\.faiss.*liner ingest"):
        VectorIndex.load(corrupt)


# --- co-occurrence -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cooc(full_catalog, settings) -> Cooccurrence:
    return Cooccurrence.load(COOC_PATH, full_catalog, settings)


def test_matrix_neighbours_are_plausible(cooc, full_catalog):
    scores = cooc.scores({"ml2571": 1.0}, top_k=20)
    assert len(scores) == 20
    assert "ml2571" not in scores
    # Terminator 2, The Terminator, Alien, Blade Runner, The Matrix Reloaded, Star Wars, Fight Club, Inception.
    expected = {"ml589", "ml1240", "ml1214", "ml541", "ml6365", "ml260", "ml2959", "ml79132"}
    assert len(expected & set(scores)) >= 4, [full_catalog.by_id[i].label for i in scores]
    sci_fi = sum("Science Fiction" in full_catalog.by_id[i].genres for i in list(scores)[:10])
    assert sci_fi >= 5


def test_scores_exclude_every_seed(cooc):
    seeds = {"ml2571": 1.0, "ml260": 0.5, "ml1196": 1.0}
    scores = cooc.scores(seeds, top_k=100)
    assert not set(seeds) & set(scores)
    assert len(scores) == 100


def test_excluding_conversations_removes_their_comentions(full_catalog, cooc):
    data = json.loads(gzip.open(COOC_PATH, "rt", encoding="utf-8").read())
    with_matrix = [c["conversation"] for c in data["redial_conversations"] if "ml2571" in c["items"]]
    assert len(with_matrix) > 5
    left_out = cooc.without(with_matrix)
    assert cooc.redial.get("ml2571")
    assert "ml2571" not in left_out.redial
    assert left_out.movielens == cooc.movielens
    assert left_out.scores({"ml2571": 1.0}) != cooc.scores({"ml2571": 1.0})
    # Excluding one conversation lowers the co-mention of a pair it holds.
    first = next(c for c in data["redial_conversations"] if "ml2571" in c["items"])
    other = next(i for i in first["items"] if i != "ml2571" and i in full_catalog.by_id)
    one_less = cooc.without([first["conversation"]])
    assert one_less.redial.get("ml2571", {}).get(other, 0.0) < cooc.redial["ml2571"][other]
    assert one_less.conversation_counts["ml2571"] == cooc.conversation_counts["ml2571"] - 1


# --- artifacts ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_settings(tmp_path_factory, popular_slice) -> Settings:
    """A 60-item catalog file and an empty data dir, shared by the artifact tests (the first one builds). No
    shipped embeddings: these tests go through the encoding path."""
    tmp_path = tmp_path_factory.mktemp("artifacts")
    path = tmp_path / "small.jsonl.gz"
    write_catalog(popular_slice.items[:60], path)
    return Settings(catalog_path=path, data_dir=tmp_path / "data", embeddings_path=tmp_path / "none.npz")


def test_artifacts_build_then_warm_start(small_settings):
    from recommender.artifacts import load_artifacts

    cold = load_artifacts(small_settings, progress=False)
    assert cold.item_vectors.shape == (60, 384)
    assert len(cold.index) == 60
    assert {p.name for p in cold.cache_dir.iterdir()} == {"vectors.npy", "index-flat.faiss", "index-flat.json",
                                                          "graph.npz"}
    assert isinstance(cold.item_vectors, np.memmap), "vectors are mapped, not copied into each process"

    warm = load_artifacts(small_settings, progress=False)
    assert warm.cache_dir == cold.cache_dir
    np.testing.assert_array_equal(warm.item_vectors, cold.item_vectors)
    assert warm.index.search(cold.item_vectors[3], 5) == cold.index.search(cold.item_vectors[3], 5)
    assert warm.kg.number_of_nodes() == cold.kg.number_of_nodes()
    # The warm start read the cached vectors instead of encoding (how long either took is the benchmark's job).
    assert "embeddings (cached)" in warm.timings and "embeddings (cached)" not in cold.timings


@pytest.mark.parametrize("damage", ["garbage", "nan"])
def test_corrupt_cache_files_are_rebuilt(small_settings, caplog, damage):
    from recommender.artifacts import load_artifacts

    first = load_artifacts(small_settings, progress=False)
    # A copy: the damage below rewrites the file that first.item_vectors maps (the app itself only ever
    # replaces cache files by renaming, which leaves a mapping intact).
    expected = np.array(first.item_vectors)
    if damage == "garbage":
        (first.cache_dir / "vectors.npy").write_bytes(b"\x93NUMPY garbage")
    else:
        broken = expected.copy()
        broken[5] = np.inf
        np.save(first.cache_dir / "vectors.npy", broken)
    (first.cache_dir / "graph.npz").write_bytes(b"truncated")
    with caplog.at_level(logging.WARNING, logger="recommender.artifacts"):
        second = load_artifacts(small_settings, progress=False)
    assert "vectors.npy is unreadable" in caplog.text
    assert damage != "nan" or "NaN or infinite values in 1 rows" in caplog.text
    assert "graph.npz is unreadable" in caplog.text
    np.testing.assert_allclose(second.item_vectors, expected, atol=1e-5)
    assert second.kg.number_of_nodes() == first.kg.number_of_nodes()
    # The rebuilt files are whole again: a third start reads them without warnings.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="recommender.artifacts"):
        load_artifacts(small_settings, progress=False)
    assert "unreadable" not in caplog.text
    assert not [p for p in first.cache_dir.iterdir() if p.name.endswith(".tmp")]


# --- shipped embeddings -----------------------------------------------------------------------------------------

def test_shipped_embeddings_cover_the_shipped_catalog(full_catalog, encoder):
    path = Settings().embeddings_path
    assert path.stat().st_size < 15_000_000  # 16,654 films in float16; keeps the clone small
    with np.load(path, allow_pickle=False) as data:
        assert str(data["model"]) == PACKAGED_MODEL_ID
        assert str(data["catalog_fingerprint"]) == full_catalog.fingerprint()
        assert data["vectors"].shape == (len(full_catalog), 384) and data["vectors"].dtype == np.float16
        shipped = set(data["text_hashes"].tolist())
    hashes = text_hashes([encoder.item_text(item) for item in full_catalog])
    assert set(hashes.tolist()) <= shipped


def test_shipped_rows_are_reused_and_changed_items_encoded(tmp_path, encoder, popular_slice, slice_vectors, caplog):
    small = Catalog(popular_slice.items[:20])
    asset = tmp_path / "item_embeddings.npz"
    write_embedding_asset(slice_vectors[:20], [encoder.item_text(i) for i in small], encoder, small, asset)
    with caplog.at_level(logging.INFO, logger="recommender.embedding_asset"):
        reused = catalog_vectors(small, encoder, asset, progress=False)
    assert "reusing 20 shipped item vectors" in caplog.text and "encoding 0" in caplog.text
    np.testing.assert_allclose(reused, slice_vectors[:20], atol=2e-3)
    np.testing.assert_allclose(np.linalg.norm(reused, axis=1), 1.0, atol=1e-5)
    # One item's description changed (as after `liner ingest` of an edited catalog): only it is encoded.
    from dataclasses import replace

    edited = Catalog([replace(small.items[0], description="A completely different story.")] + small.items[1:])
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="recommender.embedding_asset"):
        mixed = catalog_vectors(edited, encoder, asset, progress=False)
    assert "reusing 19 shipped item vectors" in caplog.text and "encoding 1" in caplog.text
    np.testing.assert_allclose(mixed[0], encoder.encode([encoder.item_text(edited.items[0])])[0], atol=1e-5)


def test_shipped_embeddings_of_another_model_or_with_nan_are_not_used(tmp_path, encoder, popular_slice,
                                                                      slice_vectors, caplog):
    small = Catalog(popular_slice.items[:5])
    texts = [encoder.item_text(i) for i in small]
    other = tmp_path / "other.npz"
    np.savez(other, vectors=slice_vectors[:5].astype(np.float16), text_hashes=text_hashes(texts),
             model=np.array("some-other-model"), catalog_fingerprint=np.array(small.fingerprint()))
    with caplog.at_level(logging.INFO, logger="recommender.embedding_asset"):
        vectors = catalog_vectors(small, encoder, other, progress=False)
    assert "are from some-other-model" in caplog.text
    np.testing.assert_allclose(vectors, slice_vectors[:5], atol=1e-5)
    broken = slice_vectors[:5].copy()
    broken[2] = np.nan
    nan_file = tmp_path / "nan.npz"
    np.savez(nan_file, vectors=broken.astype(np.float16), text_hashes=text_hashes(texts),
             model=np.array(encoder.model_id), catalog_fingerprint=np.array(small.fingerprint()))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="recommender.embedding_asset"):
        vectors = catalog_vectors(small, encoder, nan_file, progress=False)
    assert "NaN or infinite values in 1 rows" in caplog.text and "encoding 1" in caplog.text
    assert np.isfinite(vectors).all()
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not a zip")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="recommender.embedding_asset"):
        catalog_vectors(small, encoder, garbage, progress=False)
    assert "garbage.npz are unreadable" in caplog.text and "liner build-assets" in caplog.text


# --- catalog files -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"\x1f\x8b\x08\x00garbage after a gzip header", b"not gzip at all", "truncated"])
def test_corrupt_gzip_catalog_names_the_file_and_the_rebuild(tmp_path, content):
    path = tmp_path / "catalog.jsonl.gz"
    if content == "truncated":
        path.write_bytes((REPO_ROOT / "assets" / "catalog.jsonl.gz").read_bytes()[:5000])
    else:
        path.write_bytes(content)
    with pytest.raises(CatalogError, match=r"catalog\.jsonl\.gz is corrupt.*liner build-assets"):
        load_catalog(path)


def test_corrupt_catalog_gives_one_line_not_a_traceback(tmp_path):
    import os
    import subprocess
    import sys

    path = tmp_path / "catalog.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage after a gzip header")
    env = dict(os.environ, LINER_CATALOG_PATH=str(path), LINER_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-m", "cli", "catalog", "get", "ml1"], capture_output=True,
                          text=True, env=env, cwd=REPO_ROOT, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert str(path) in done.stderr and "liner build-assets" in done.stderr


# --- catalog import -------------------------------------------------------------------------------------------------

def _write_books_csv(path: Path) -> None:
    rows = [
        {"name": "Dune", "published": "1965-08-01", "category": "Science Fiction|Adventure",
         "blurb": "A desert planet and its spice.", "author": "Frank Herbert", "ratings": "900"},
        {"name": "Emma", "published": "1815", "category": "Romance, Comedy",
         "blurb": "", "author": "Jane Austen", "ratings": "300"},
        {"name": "", "published": "2000", "category": "", "blurb": "no title", "author": "", "ratings": ""},
        {"name": "Solaris", "published": "1961", "category": "Science Fiction",
         "blurb": "An ocean that thinks.", "author": "Stanisław Lem", "ratings": ""},
    ]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_convert_csv_catalog(tmp_path):
    src = tmp_path / "books.csv"
    _write_books_csv(src)
    mapping = {"title": "name", "year": "published", "genres": "category", "description": "blurb",
               "director": "author", "popularity": "ratings"}
    out = tmp_path / "books.jsonl.gz"
    assert convert_catalog(src, out, mapping) == 3
    catalog = load_catalog(out)
    dune = catalog.find_title("Dune")
    assert dune.year == 1965 and dune.genres == ("Science Fiction", "Adventure")
    assert dune.people == {"director": ("Frank Herbert",)} and dune.has_overview
    emma = catalog.find_title("Emma")
    assert emma.genres == ("Romance", "Comedy") and not emma.has_overview
    assert dune.popularity > emma.popularity > 0
    assert catalog.find_title("Solaris").popularity == 0.0
    # Ids are stable across re-imports.
    convert_catalog(src, tmp_path / "again.jsonl.gz", mapping)
    assert [i.item_id for i in load_catalog(tmp_path / "again.jsonl.gz")] == [i.item_id for i in catalog]


def test_convert_errors_name_the_missing_column(tmp_path):
    src = tmp_path / "books.csv"
    _write_books_csv(src)
    with pytest.raises(CatalogError, match=r"year='release_year'.*columns are: name, published"):
        convert_catalog(src, tmp_path / "out.jsonl.gz", {"title": "name", "year": "release_year"})
    with pytest.raises(CatalogError, match=r"no 'title' column.*--map title="):
        convert_catalog(src, tmp_path / "out.jsonl.gz", {})


def test_convert_jsonl_with_ids_and_lists(tmp_path):
    src = tmp_path / "albums.jsonl"
    records = [
        {"sku": "a1", "title": "Kind of Blue", "year": 1959, "genres": ["Jazz"], "stars": ["Miles Davis"]},
        {"sku": "a2", "title": "Blue Train", "year": 1958, "genres": ["Jazz", "Hard bop"]},
    ]
    src.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    out = tmp_path / "albums.jsonl.gz"
    assert convert_catalog(src, out, {"id": "sku"}) == 2
    catalog = load_catalog(out)
    assert catalog.by_id["a1"].people == {"star": ("Miles Davis",)}
    assert catalog.by_id["a2"].genres == ("Jazz", "Hard bop")


# --- PageRank at scale -------------------------------------------------------------------------------------------

def test_pruned_pagerank_walk_matches_the_exact_walk(artifacts):
    """The pruned series (Settings.ppr_prune_below) keeps the exact walk's top items; with no pruning it is the
    plain power iteration."""
    import scipy.sparse as sp

    from knowledge_graph.ppr import PersonalizedPageRank

    seeds = {"item:ml2571": 1.0, "person:Denis Villeneuve": 0.5, "genre:Horror": 0.2}
    exact = PersonalizedPageRank(artifacts.kg, Settings(ppr_prune_below=0.0))
    pruned = PersonalizedPageRank(artifacts.kg, Settings())
    alpha = exact.default_alpha
    # The walk's column-stochastic matrix, formed whole (the class only ever multiplies by it).
    matrix = exact.adjacency @ sp.diags(exact.inverse_strength)
    restart = np.zeros(matrix.shape[0], dtype=np.float32)
    for node, weight in seeds.items():
        restart[exact.index[node]] += weight
    restart /= restart.sum()
    rank = restart.copy()
    for _ in range(20):
        rank = (1 - alpha) * (matrix @ rank) + alpha * restart
    item_scores = rank[exact.item_rows] * exact.item_norm
    item_scores[restart[exact.item_rows] > 0] = 0
    power = {exact.item_ids[i] for i in np.argsort(-item_scores)[:50]}
    exact_scores = exact.scores(seeds, top_k=50)
    assert set(exact_scores) == power
    pruned_scores = pruned.scores(seeds, top_k=50)
    assert len(set(pruned_scores) & set(exact_scores)) >= 48
    best = max(exact_scores, key=exact_scores.get)
    assert max(pruned_scores, key=pruned_scores.get) == best
