"""`liner bench`'s own logic: the load test against a real app it starts (browser sessions through gradio_client),
how it reads its settings, and which measurements a default run makes."""

from __future__ import annotations

import pytest

from bench.latency import default_explain_paths
from bench.load import run_load
from core.settings import Settings, SettingsError
from local_services import free_port


def test_load_test_drives_the_page_through_gradio_client(monkeypatch, liner_home, artifacts):
    monkeypatch.setenv("LINER_DATA_DIR", str(liner_home))
    # Reasons off: no model is loaded, the planned lines come with the cards.
    report = run_load(2, overrides={"explain": "false"}, timeout_s=60)
    summary = report.summary()
    assert summary["explain"] is False and summary["door"] == "browser"
    assert (summary["errors"], summary["cross_talk"], summary["lost_feedback"]) == (0, 0, 0), report.to_json()
    for visit in [report.warmup, *report.visits]:
        assert visit.cards_s is not None and visit.fifth_reason_s is not None and visit.feedback_kept
        assert sum(visit.reasons.values()) == 5
    assert summary["cards_p50_s"] <= summary["cards_p95_s"]


def test_the_load_tests_explain_flag_is_read_as_a_setting():
    # "maybe" was read as true by hand; as a setting it stops the run before any app is reached.
    with pytest.raises(SettingsError, match="explain"):
        run_load(1, url=f"http://127.0.0.1:{free_port()}", overrides={"explain": "maybe"}, start_timeout_s=1)


def test_a_default_bench_times_the_configured_explanation_path_and_template():
    assert default_explain_paths(Settings()) == ("rerank", "template")
    assert default_explain_paths(Settings(explain_mode="template")) == ("template",)
    assert default_explain_paths(Settings(explain_mode="grammar")) == ("grammar", "template")
