"""The real GGUF: scoring with prefix reuse, completion, PMI ranking and explanations (marked `llm`), plus the
model-file errors (no model needed)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.catalog import load_catalog
from core.profile import Profile, ProfileEntry
from core.settings import REPO_ROOT, Settings
from explain.evidence import build_evidence
from explain.support_check import check_support
from explain.writer import Explainer
from llm.model import LLM
from llm.text_model import LLMError
from recommender.ranking import NEUTRAL_PREFIX, LLMRanker

PREFIX = "A viewer who loved Interstellar and Arrival and wants thoughtful space science fiction should watch:"
CONTINUATIONS = [" Contact (1997), drama, science fiction about nasa, wormhole",
                 " Mamma Mia! (2008), comedy, musical about greece",
                 " Saw (2004), horror, mystery about sadist"]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(REPO_ROOT / "assets" / "catalog.jsonl.gz")


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return Settings(data_dir=tmp_path_factory.mktemp("llm_home"), n_threads=2)


@pytest.fixture(scope="module")
def llm(settings):
    return LLM(settings)


def test_missing_model_file_names_the_fix(tmp_path):
    with pytest.raises(LLMError, match="LINER_MODEL_PATH"):
        LLM(Settings(data_dir=tmp_path, model_path=str(tmp_path / "absent.gguf")))


def test_corrupt_model_file_names_the_fix(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(LLMError, match="not a GGUF file"):
        LLM(Settings(data_dir=tmp_path, model_path=str(bad)))


def _reference_scores(llm: LLM, prefix: str, continuations: list[str], split: bool) -> list[float]:
    """Independent scores through llama-cpp-python's high-level API (logits_all=True, a fresh evaluation of the
    whole text per continuation). split=True evaluates prefix and continuation as two batches, as reuse does."""
    import llama_cpp

    ref = llama_cpp.Llama(model_path=str(llm._backend.path), n_ctx=128, logits_all=True, n_threads=2,
                          verbose=False)
    prefix_tokens = ref.tokenize(prefix.encode(), add_bos=True)
    scores = []
    for continuation in continuations:
        full = ref.tokenize((prefix + continuation).encode(), add_bos=True)
        assert full[: len(prefix_tokens)] == prefix_tokens
        ref.reset()
        if split:
            ref.eval(full[: len(prefix_tokens)])
            ref.eval(full[len(prefix_tokens):])
        else:
            ref.eval(full)
        logprobs = []
        for i in range(len(prefix_tokens), len(full)):
            row = ref.scores[i - 1].astype(np.float64)
            logprobs.append(row[full[i]] - (row.max() + np.log(np.exp(row - row.max()).sum())))
        scores.append(float(np.mean(logprobs)))
    return scores


@pytest.mark.llm
def test_prefix_reuse_equals_full_reevaluation(llm):
    reused = llm.score_continuations(PREFIX, CONTINUATIONS)
    assert reused == pytest.approx(_reference_scores(llm, PREFIX, CONTINUATIONS, split=True), abs=1e-3)
    # One batch for the whole text takes other kernel paths in llama.cpp: equal up to float noise (~4e-3 seen).
    assert reused == pytest.approx(_reference_scores(llm, PREFIX, CONTINUATIONS, split=False), abs=2e-2)
    # Cached prefix, other order, another prefix in between: the same numbers.
    llm.score_continuations("A viewer should watch:", CONTINUATIONS[:1])
    again = llm.score_continuations(PREFIX, CONTINUATIONS[::-1])[::-1]
    assert again == pytest.approx(reused, abs=1e-5)


@pytest.mark.llm
def test_threads_share_one_model_safely(llm):
    expected = llm.score_continuations(PREFIX, CONTINUATIONS)
    results: list[list[float]] = []
    threads = [threading.Thread(target=lambda p=p: results.append(llm.score_continuations(p, CONTINUATIONS)))
               for p in (PREFIX, PREFIX, PREFIX)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r == pytest.approx(expected, abs=1e-5) for r in results)


@pytest.mark.llm
def test_complete_is_deterministic_across_prefix_cache_hits(llm, monkeypatch):
    shared = ("Film: Sicario (2015); crime, thriller; directed by Denis Villeneuve\n"
              "Line: A tense Denis Villeneuve film.\n\n")
    jaws = shared + "Film: Jaws (1975); thriller; directed by Steven Spielberg\nLine:"
    first = llm.complete(jaws, 16)
    llm.complete(shared + "Film: Heat (1995); crime; directed by Michael Mann\nLine:", 16)
    # Watch what llama.cpp evaluates: the first batch of a completion is the part of the prompt not in its cache.
    writer = llm._backend._writer
    evaluated: list[int] = []
    evaluate = writer.eval
    monkeypatch.setattr(writer, "eval", lambda tokens: (evaluated.append(len(tokens)), evaluate(tokens))[1])
    again = llm.complete(jaws, 16)
    assert first and first == again
    prompt_tokens, shared_tokens = (len(writer.tokenize(text.encode(), add_bos=True)) for text in (jaws, shared))
    assert 0 < evaluated[0] <= prompt_tokens - shared_tokens + 1, "the shared prefix was evaluated again"


@pytest.mark.llm
def test_pmi_ranks_science_fiction_first_for_a_science_fiction_fan(llm, settings, catalog):
    """The sanity probe: sci-fi profile, 8 real candidates of mixed genres."""
    scifi = ["Contact", "Gravity", "The Martian", "Moon"]
    others = ["The Notebook", "Saw", "Mamma Mia!", "The Hangover"]
    items = [catalog.find_title(t) for t in scifi + others]
    profile = Profile("u", [ProfileEntry(f"item:{catalog.find_title(t).item_id}", "item", t, 1, 1.0)
                            for t in ("Interstellar", "Arrival")])
    scores = LLMRanker(llm, settings).rank(items, profile, "thoughtful space science fiction")
    ranks = np.argsort(np.argsort(-np.asarray(scores)))
    assert ranks[:4].mean() < ranks[4:].mean() - 1.5, dict(zip(scifi + others, scores))


@pytest.mark.llm
def test_neutral_scores_are_cached_on_disk(llm, catalog, tmp_path, monkeypatch):
    settings = Settings(data_dir=tmp_path, n_threads=2)
    scored: list[str] = []
    score = llm.score_continuations
    monkeypatch.setattr(llm, "score_continuations",
                        lambda prefix, continuations: scored.append(prefix) or score(prefix, continuations))
    items = [catalog.find_title("Heat"), catalog.find_title("Fargo")]
    profile = Profile("u", [ProfileEntry("genre:Crime", "genre", "Crime", 1, 1.0)])
    first = LLMRanker(llm, settings).rank(items, profile, "")
    assert NEUTRAL_PREFIX in scored and (settings.data_dir / "neutral_scores.json").exists()
    scored.clear()
    # A new ranker (as after a restart) asks the model only for the profile's scores: the neutral ones, with the
    # real model's numbers, come back from the file.
    assert LLMRanker(llm, settings).rank(items, profile, "") == pytest.approx(first, abs=1e-5)
    assert len(scored) == 1 and NEUTRAL_PREFIX not in scored


@pytest.mark.llm
def test_real_explanation_is_grounded_or_falls_back(llm, settings, catalog):
    explainer = Explainer(llm, settings)
    profile = Profile("u", [ProfileEntry(f"item:{catalog.find_title('Arrival').item_id}", "item", "Arrival", 1, 1.0)])
    for title in ("Sicario", "Interstellar", "Blade Runner 2049"):
        item = catalog.find_title(title)
        evidence = build_evidence(item, profile, None, catalog)
        explanation = explainer.explain(item, evidence)
        assert explanation.source in {"rerank", "llm", "template"}
        assert explanation.grounded and check_support(explanation.text, evidence).ok


def test_server_backend_scores_only_the_continuation_tokens(tmp_path):
    """Pure protocol logic against a stub OpenAI-style server (no real server is needed by the tests)."""
    import json
    from http.server import BaseHTTPRequestHandler, HTTPServer

    prefix, continuation = "Watch:", " Heat (1995)"
    seen: list[dict] = []

    class Stub(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            text = body["prompt"]
            # Tokens "Watch:" | " Heat" | " (1995)" | generated " x"; the first prompt token has no log-prob.
            logprobs = {"text_offset": [0, 6, 11, len(text)], "token_logprobs": [None, -1.0, -3.0, -9.0]}
            payload = json.dumps({"choices": [{"text": text + " x", "logprobs": logprobs}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        llm = LLM(Settings(data_dir=tmp_path, llm_server_url=url, model_path="stub-model"))
        assert llm.score_continuations(prefix, [continuation]) == [pytest.approx(-2.0)]
        assert seen[0]["echo"] is True and seen[0]["model"] == "stub-model"
        assert llm.model_id == f"{url}/v1|stub-model"
    finally:
        server.shutdown()


# --- ranking logic on the fake model (no GGUF) ---------------------------------------------------------------
def test_pmi_subtracts_the_neutral_score_computed_once_per_item(fake_model, tmp_path, catalog):
    settings = Settings(data_dir=tmp_path)
    items = [catalog.find_title(t) for t in ("Contact", "Saw", "The Notebook")]
    profile = Profile("u", [ProfileEntry("genre:Science Fiction", "genre", "Science Fiction", 1, 1.0)])
    ranker = LLMRanker(fake_model, settings)
    first = ranker.rank(items, profile, "science fiction about aliens")
    prefixes = [prefix for prefix, _ in fake_model.scored]
    assert prefixes == [prefixes[0], "A viewer should watch:"] and "likes science fiction" in prefixes[0]
    assert np.argmax(first) == 0  # the fake scores by shared words: "science fiction" fits Contact

    fake_model.scored.clear()
    again = LLMRanker(fake_model, Settings(data_dir=tmp_path)).rank(items, profile, "science fiction about aliens")
    assert again == pytest.approx(first)
    assert [prefix for prefix, _ in fake_model.scored] == [prefixes[0]]  # neutral scores came from the disk cache


def test_ranker_without_preferences_asks_the_model_nothing(fake_model, tmp_path, catalog):
    items = [catalog.find_title("Heat")]
    assert LLMRanker(fake_model, Settings(data_dir=tmp_path)).rank(items, Profile("u"), "") == [0.0]
    assert fake_model.scored == []


def test_model_failure_reaches_the_ranker_caller_as_llm_error(fake_model, tmp_path, catalog):
    """The contract: LLMError is the only exception; the engine catches it and keeps the fusion order."""
    fake_model.error = LLMError("LLM server LINER_LLM_SERVER_URL=http://127.0.0.1:9/v1 refused the connection")
    profile = Profile("u", [ProfileEntry("genre:Crime", "genre", "Crime", 1, 1.0)])
    with pytest.raises(LLMError, match="LINER_LLM_SERVER_URL"):
        LLMRanker(fake_model, Settings(data_dir=tmp_path)).rank([catalog.find_title("Heat")], profile, "")
