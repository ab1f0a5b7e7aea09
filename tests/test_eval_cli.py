"""The measuring commands end to end on tiny slices (`eval redial`, `eval explain`, `bench`) through
`cli.main`, plus the ReDial protocol's bookkeeping on a hand-written dialogue."""

from __future__ import annotations

import json
import shutil

import pytest

from bench.latency import match_title, parse_titles
from bench.metrics import bootstrap_interval, paired_bootstrap_difference, success_rate
from bench.redial import (
    MIN_HISTORY,
    RANDOM_TUNE,
    RANDOM_VALIDATION,
    RANDOM_VALIDATION_SIZE,
    TIME_CUT,
    TUNE,
    VALIDATION,
    SignalHistory,
    load_redial,
    random_validation_ids,
    read_dialogues,
    sample_points,
    select_split,
)
from cli import main
from core.errors import FixableError

METRIC_KEYS = {"recall@1", "recall@10", "recall@50", "ndcg@10", "ndcg@50", "mrr@10", "mrr@50", "success_rate",
               "samples", "dialogues", "recall@1_low", "recall@1_high", "recall@10_low", "recall@10_high",
               "recall@50_low", "recall@50_high", "success_rate_low", "success_rate_high"}

HAND_WRITTEN = {
    "conversationId": "1", "initiatorWorkerId": 1, "respondentWorkerId": 2,
    "movieMentions": {"10": "Heat  (1995)", "20": "Alien (1979)"},
    "messages": [
        {"text": "hi", "senderWorkerId": 2, "messageId": 1, "timeOffset": 0},
        {"text": "I loved @10", "senderWorkerId": 1, "messageId": 2, "timeOffset": 1},
        {"text": "and sci-fi &amp; horror", "senderWorkerId": 1, "messageId": 3, "timeOffset": 2},
        {"text": "Try @20 or @10 again", "senderWorkerId": 2, "messageId": 4, "timeOffset": 3},
    ],
    "initiatorQuestions": {}, "respondentQuestions": {},
}


@pytest.fixture
def liner_env(monkeypatch, liner_home, artifacts):
    """In-process CLI runs against the artefacts the session fixture built."""
    monkeypatch.setenv("LINER_DATA_DIR", str(liner_home))
    monkeypatch.setenv("LINER_DATABASE_URL", f"sqlite:///{liner_home / 'eval.sqlite'}")


def test_dialogue_reading_and_sample_points(tmp_path):
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(HAND_WRITTEN) + "\n")
    (dialogue,) = read_dialogues(path, {"10": "Heat (1995)"})
    roles = [turn.role for turn in dialogue.turns]
    assert roles == ["recommender", "seeker", "recommender"]  # the seeker's two messages are joined
    assert dialogue.turns[1].text == "I loved Heat (1995) and sci-fi & horror"
    assert dialogue.turns[2].text == "Try Alien (1979) or Heat (1995) again"
    points = sample_points(dialogue)
    # The opening recommender turn has no context: no sample; the last turn gives one sample per movie.
    assert [(p.turn, p.movie, p.new) for p in points] == [(2, "20", True), (2, "10", False)]
    assert points[0].context_movies == {"10"}


def test_baseline_title_parsing(catalog):
    completion = (' "Contact" (1997) - a thoughtful first-contact story\n2. **The Martian (2015)**: survival\n'
                  "3. Gravity by Alfonso Cuarón\n4. Zorblax Returns - a film that does not exist\nSome chatter")
    titles = parse_titles(completion)
    assert titles == ["Contact (1997)", "The Martian (2015)", "Gravity", "Zorblax Returns"]
    matched = [match_title(t, catalog) for t in titles]
    assert matched[1] is not None and matched[1].title == "The Martian"
    assert matched[3] is None


def test_eval_redial_on_three_dialogues(tmp_path, liner_env, shared_data):
    sample = tmp_path / "redial" / "three.jsonl"
    sample.parent.mkdir()
    with open(shared_data / "redial" / "train_data_subset.jsonl", encoding="utf-8") as handle:
        sample.write_text("".join(next(handle) for _ in range(3)), encoding="utf-8")
    shutil.copy(shared_data / "redial" / "movies_with_mentions.csv", sample.parent)
    out = tmp_path / "redial.json"

    assert main(["eval", "redial", str(sample), "--no-llm", "--json", str(out)]) == 0

    report = json.loads(out.read_text())
    assert set(report["all"]) == METRIC_KEYS and set(report["new"]) == METRIC_KEYS
    assert 0 < report["new"]["samples"] <= report["all"]["samples"] == len(report["per_sample"])
    for split in ("all", "new"):
        metrics = report[split]
        assert all(0.0 <= metrics[k] <= 1.0 for k in METRIC_KEYS - {"samples", "dialogues"})
        assert metrics["recall@1"] <= metrics["recall@10"] <= metrics["recall@50"]
        assert metrics["recall@10_low"] <= metrics["recall@10"] <= metrics["recall@10_high"]
        assert metrics["mrr@10"] <= metrics["mrr@50"] <= metrics["recall@50"]
    same = report["sameness"]
    assert 0 < same["distinct_top5"] <= 5 * same["turns"] and 0.0 < same["top20_share"] <= 1.0
    assert 0.0 <= same["mean_popularity_top5"] <= 1.0
    assert 0.5 < report["coverage"] <= 1.0
    for sample_result in report["per_sample"]:
        assert sample_result["rank"] is None or 1 <= sample_result["rank"] <= 50
        assert sample_result["action"] == "recommend"
        # A ground truth already named in the context can never be found: context items are removed.
        if not sample_result["new"]:
            assert sample_result["rank"] is None


@pytest.fixture(scope="module")
def train_dialogues(shared_data):
    return load_redial(shared_data / "redial" / "train_data_subset.jsonl")[0]


def test_validation_is_later_dialogues_by_workers_never_seen_before(train_dialogues, shared_data):
    validation = select_split(train_dialogues, VALIDATION)
    tune = select_split(train_dialogues, TUNE)
    earlier_workers = {w for d in train_dialogues if d.number < TIME_CUT for w in d.workers}
    assert 250 <= len(validation) <= 330 and 700 <= len(tune) <= 900
    assert all(d.number >= TIME_CUT and not d.workers & earlier_workers for d in validation)
    assert all(MIN_HISTORY <= d.number < TIME_CUT for d in tune)
    # --limit takes the first N of the split, never changing which dialogues are held out.
    limited, _ = load_redial(shared_data / "redial" / "train_data_subset.jsonl", limit=5, split=VALIDATION)
    assert [d.conversation_id for d in limited] == [d.conversation_id for d in validation[:5]]
    # The old random split stays as a labelled comparison, fixed by the ids alone.
    ids = [d.conversation_id for d in train_dialogues]
    held_out = random_validation_ids(ids)
    assert len(held_out) == RANDOM_VALIDATION_SIZE and held_out == random_validation_ids(list(reversed(ids)))
    assert {d.conversation_id for d in select_split(train_dialogues, RANDOM_VALIDATION)} == held_out
    assert not held_out & {d.conversation_id for d in select_split(train_dialogues, RANDOM_TUNE)}
    with pytest.raises(FixableError, match="--split"):
        select_split(train_dialogues, "test")


def test_signals_never_hold_what_the_scored_people_said(train_dialogues, artifacts):
    cooc = artifacts.cooc
    validation = select_split(train_dialogues, VALIDATION)
    seen = SignalHistory(cooc, VALIDATION).for_dialogue(validation[0])
    assert seen.conversations and max(c.number for c in seen.conversations) < TIME_CUT
    assert sum(seen.conversation_counts.values()) < sum(cooc.conversation_counts.values())
    # A tune dialogue: only conversations before its block of time, and none of its own workers'.
    dialogue = next(d for d in select_split(train_dialogues, TUNE)
                    if any(d.workers & w for c, w in cooc.workers().items() if int(c) < d.number - 1000))
    signals = SignalHistory(cooc, TUNE).for_dialogue(dialogue)
    kept = {c.conversation_id for c in signals.conversations}
    assert all(c.number < dialogue.number for c in signals.conversations)
    assert not any(dialogue.workers & cooc.workers().get(c, set()) for c in kept)
    shared = next(c for c, w in cooc.workers().items() if dialogue.workers & w and int(c) < dialogue.number - 1000)
    items = next(c.items for c in cooc.conversations if c.conversation_id == shared)
    assert all(signals._counts.mention_count(i) < cooc.before(dialogue.number)._counts.mention_count(i) + 1e-9
               for i in items)


def test_bootstrap_intervals_by_hand():
    assert bootstrap_interval([[1.0], [1.0], [1.0]]) == (1.0, 1.0)
    low, high = bootstrap_interval([[0.0, 0.0], [1.0, 1.0]] * 20)
    assert low < 0.5 < high and high - low < 0.5
    mean, low, high = paired_bootstrap_difference([[1.0, 1.0]] * 30, [[0.0, 1.0]] * 30)
    assert mean == pytest.approx(0.5) and low == high == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same groups"):
        paired_bootstrap_difference([[1.0]], [[1.0, 0.0]])


def test_success_rate_by_hand():
    # dialogue 1: a hit at rank 1 on its second turn; dialogue 2: ranks 2 and None; dialogue 3: nothing scored
    assert success_rate([[None, 1], [2, None], []]) == pytest.approx(1 / 3)


def test_eval_redial_names_the_missing_movie_list(tmp_path, liner_env, capsys):
    lonely = tmp_path / "lonely.jsonl"
    lonely.write_text(json.dumps(HAND_WRITTEN) + "\n")
    assert main(["eval", "redial", str(lonely), "--no-llm"]) == 1
    assert "movies_with_mentions.csv" in capsys.readouterr().err


def test_a_missing_redial_file_is_named_with_the_default(tmp_path, liner_env, capsys):
    assert main(["train-ranker", str(tmp_path / "nowhere.jsonl"), "--out", str(tmp_path / "r.txt")]) == 1
    err = capsys.readouterr().err
    assert "nowhere.jsonl not found" in err and "train_data_subset.jsonl" in err


@pytest.mark.llm
def test_eval_explain_on_five_pairs(tmp_path, liner_env):
    out = tmp_path / "explain.json"
    assert main(["eval", "explain", "--n", "5", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["pairs"] == len(report["per_pair"]) == 5
    for key in ("supported", "fallback_rate", "distinct_line_ratio"):
        assert 0.0 <= report[key] <= 1.0
    assert report["supported"] == 1.0  # a shown line is always fully supported (else the planned line stands in)
    assert report["role_errors"] == 0
    assert report["length_words"]["min"] >= 1
    assert all(p["text"].strip() and p["source"] in {"rerank", "grammar", "llm", "template", "cache"}
               for p in report["per_pair"])


@pytest.mark.llm
def test_bench_on_two_turns(tmp_path, liner_env):
    out = tmp_path / "bench.json"
    # By default no first start, no baseline, and only the configured explanation path and template (free and
    # grammar decoding take minutes on CPU): --baseline opts in; --skip-first-start (README's spelling) still parses.
    assert main(["bench", "--turns", "2", "--skip-first-start", "--baseline", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    for key in ("cards_ms", "explained_ms", "baseline_ms"):
        assert 0 < report[key]["median"] <= report[key]["p95"]
    assert report["cards_ms"]["median"] <= report["explained_ms"]["median"]
    assert {"understand", "retrieve", "kg", "store"} <= set(report["stages_ms"])
    assert 0.0 <= report["baseline_out_of_catalog"] <= 1.0
    assert report["peak_rss_mb"] > 100
    assert report["first_start_s"] is None and report["warm_start_s"] > 0
    assert set(report["explain_paths_ms"]) == {"rerank", "template"}


@pytest.mark.llm
def test_bench_turns_at_scale_serve_from_a_process_of_their_own(tmp_path, liner_env):
    """`liner bench --scale N --turns T`: the build's figures per phase, then the turns served by a fresh process
    that starts warm from what was built (its peak RSS is an app process's, not the build's)."""
    out = tmp_path / "scale.json"
    assert main(["bench", "--scale", "400", "--turns", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["items"] == 400
    assert {"catalog", "index", "knowledge graph", "aliases", "pagerank"} <= set(report["build_s"])
    assert report["rss_after_build_mb"] > 0
    served = report["bench"]
    assert served["turns"] == 1 and 0 < served["cards_ms"]["median"] <= served["explained_ms"]["median"]
    assert served["peak_rss_mb"] > 100 and served["warm_start_s"] > 0
    # The serving process read what the build wrote: its load has the cached phases, and says what each holds.
    assert {"embeddings (cached)", "knowledge graph", "aliases"} <= set(served["load_mb"])
