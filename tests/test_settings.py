"""core/settings.py: every value is typed and checked when the settings load, from the environment or the command
line, and a bad one is one SettingsError line naming the setting and how to set it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings, SettingsError, load_settings
from core.vocabulary import Relation


def test_an_unknown_explain_mode_fails_at_load_naming_the_variable(monkeypatch):
    monkeypatch.setenv("LINER_EXPLAIN_MODE", "poetry")
    with pytest.raises(SettingsError, match="LINER_EXPLAIN_MODE") as raised:
        load_settings()
    message = str(raised.value)
    assert "'poetry'" in message and "'template'" in message and "--set explain_mode=" in message
    assert "\n" not in message


def test_an_unknown_index_kind_fails_when_the_settings_are_made():
    with pytest.raises(SettingsError, match="LINER_FAISS_APPROXIMATE"):
        Settings(faiss_approximate="annoy")


@pytest.mark.parametrize("text, expected", [("true", True), ("off", False), ("1", True), ("No", False)])
def test_booleans_take_the_usual_words(text, expected):
    assert Settings().with_overrides(explain=text).explain is expected


def test_maybe_is_not_a_boolean(monkeypatch):
    with pytest.raises(SettingsError, match="setting explain: .*'maybe'"):
        Settings().with_overrides(explain="maybe")
    monkeypatch.setenv("LINER_LEARNED_RANKER", "maybe")
    with pytest.raises(SettingsError, match="LINER_LEARNED_RANKER"):
        load_settings()


@pytest.mark.parametrize("name, value", [
    ("cards", "0"), ("ppr_alpha", "1.5"), ("diversity", -0.1), ("port", "70000"), ("llm_read_timeout_s", "0"),
    ("faiss_hnsw_m", 1), ("weight_kg", "-1"), ("min_taste_factor", 0),
])
def test_a_value_out_of_range_fails(name, value):
    with pytest.raises(SettingsError, match=f"setting {name}: input should be .*LINER_{name.upper()}"):
        Settings().with_overrides(**{name: value})


def test_an_unknown_setting_is_named():
    with pytest.raises(SettingsError, match="unknown setting 'no_such_thing'"):
        Settings().with_overrides(no_such_thing=1)


def test_the_environment_is_overridden_by_flags(monkeypatch):
    monkeypatch.setenv("LINER_CARDS", "3")
    monkeypatch.setenv("LINER_RANK_WEIGHT", "0.25")
    loaded = load_settings(cards="7", rank_weight=None)
    assert (loaded.cards, loaded.rank_weight) == (7, 0.25)
    assert load_settings().cards == 3


def test_settings_alone_are_the_defaults_whatever_the_environment(monkeypatch):
    monkeypatch.setenv("LINER_CARDS", "3")
    monkeypatch.setenv("LINER_EXPLAIN_MODE", "poetry")
    assert Settings().cards == 5 and Settings().explain_mode == "rerank"


def test_relation_weights_from_the_environment_are_typed(monkeypatch):
    monkeypatch.setenv("LINER_PPR_RELATION_WEIGHTS", '{"directed_by": 4, "stars": "0.5"}')
    weights = load_settings().ppr_relation_weights
    assert weights == {Relation.DIRECTED_BY: 4.0, Relation.STARS: 0.5}
    assert all(isinstance(key, Relation) and type(value) is float for key, value in weights.items())
    assert Settings().with_overrides(ppr_relation_weights="stars=2, has_genre=0").ppr_relation_weights == {
        Relation.STARS: 2.0, Relation.HAS_GENRE: 0.0}
    with pytest.raises(SettingsError, match="ppr_relation_weights.*'directed'"):
        Settings().with_overrides(ppr_relation_weights='{"directed": 3}')


def test_text_values_are_parsed_and_the_original_is_unchanged():
    defaults = Settings()
    changed = defaults.with_overrides(rank_weight="0.5", cors_origins="https://a.example, https://b.example",
                                      data_dir="~/liner-data", recent_years="4")
    assert changed.rank_weight == 0.5 and changed.recent_years == 4
    assert changed.cors_origins == ("https://a.example", "https://b.example")
    assert changed.data_dir == Path.home() / "liner-data"
    assert defaults == Settings() and defaults.rank_weight == 0.0


def test_the_environment_of_some_settings_loads_them_back(monkeypatch):
    """What bench/latency.py hands a child process: load_settings there gives the same settings."""
    settings = Settings().with_overrides(explain=False, api_keys="shop=0123456789abcdef", ppr_alpha=0.5,
                                         ppr_relation_weights="stars=2", catalog_path="/tmp/catalog.jsonl")
    environment = settings.environment()
    assert set(environment) == {"LINER_EXPLAIN", "LINER_API_KEYS", "LINER_PPR_ALPHA", "LINER_PPR_RELATION_WEIGHTS",
                                "LINER_CATALOG_PATH"}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert load_settings() == settings
