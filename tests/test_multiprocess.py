"""Several app processes over one profile store, and the reason queue over a server's parallel slots.

Two real `app.py` processes share one database (SQLite in WAL mode, and PostgreSQL when LINER_TEST_POSTGRES_URL
names a server); one visitor's turns and likes go through both, interleaved, beside a second visitor; then the
process that served the visitor first is killed and the other one opens their profile by the browser's token.
Nothing may be lost, duplicated or mixed between the visitors. Driven over HTTP with the calls a browser makes
(bench.load.PageSession); reasons are off, so no model is loaded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from bench.load import PageSession, wait_for_app
from core.profile import Profile
from core.settings import REPO_ROOT

from local_services import free_port


@pytest.fixture
def two_apps(cli_env: dict[str, str], database_url: str, tmp_path: Path) -> Iterator[list[tuple[str, subprocess.Popen]]]:
    """Two app processes on free loopback ports over database_url: [(base url, process)]."""
    apps = []
    for number in range(2):
        port = free_port()
        env = cli_env | {"LINER_DATABASE_URL": database_url, "LINER_PORT": str(port), "LINER_HOST": "127.0.0.1",
                         "LINER_EXPLAIN": "false", "GRADIO_ANALYTICS_ENABLED": "False"}
        log = open(tmp_path / f"app{number}.log", "w", encoding="utf-8")
        process = subprocess.Popen([sys.executable, str(REPO_ROOT / "app.py")], env=env, cwd=REPO_ROOT,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()  # the child keeps its own descriptor
        apps.append((f"http://127.0.0.1:{port}", process))
    try:
        yield apps
    finally:
        for _, process in apps:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


class Tab:
    """One browser tab on one app process."""

    def __init__(self, url: str):
        self.page = PageSession(url, timeout_s=60)
        self.chat = self.page.element("chat")
        self.message = self.page.element("message")
        self.first_card = self.page.element("card-0-body")
        self.export_data = self.page.element("export-data")
        self.identity = self.page.browser_state()
        self.history: list = []

    def open(self, token: str) -> tuple[str, str]:
        """Load the page with the browser's stored token: (token now stored, greeting)."""
        values = self.page.call("start", {self.identity: token})
        self.history = _value(values, self.chat) or []
        return _value(values, self.identity) or "", _text(self.history[-1]["content"])

    def say(self, text: str) -> str:
        """Send a message; the first card's item id."""
        values = self.page.call("turn", {self.message: text, self.chat: self.history})
        self.history = _value(values, self.chat)
        html = _value(values, self.first_card) or ""
        assert 'data-item-id="' in html, f"no cards for {text!r}: {self.history[-1]}"
        return html.split('data-item-id="', 1)[1].split('"', 1)[0]

    def like_first(self) -> None:
        assert "card-mark" in (_value(self.page.call("like_0"), self.first_card) or "")

    def export(self) -> dict[str, Any]:
        return json.loads(_value(self.page.call("export"), self.export_data))


def _text(content: Any) -> str:
    """A chat message's text (Gradio sends content as a string or as a list of typed parts)."""
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def _value(values: dict[int, Any], component_id: int) -> Any:
    value = values.get(component_id)
    return value.get("value") if isinstance(value, dict) and value.get("__type__") == "update" else value


def _liked(export: dict[str, Any]) -> list[str]:
    return [row["item_id"] for row in export["feedback"] if row["kind"] == "like"]


def _messages(export: dict[str, Any]) -> list[str]:
    return [turn["message"] for turn in export["turns"]]


def test_one_visitor_through_two_processes_loses_and_mixes_nothing(two_apps) -> None:
    (url_a, process_a), (url_b, process_b) = two_apps
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda app: wait_for_app(app[0], 300, app[1]), two_apps))

    tab_a = Tab(url_a)
    token, _ = tab_a.open("")
    assert token
    liked = []
    liked_first = tab_a.say("I loved The Matrix (1999)")
    tab_a.like_first()
    liked.append(liked_first)

    # The same browser on the other process (a balancer sent it there): the same profile, by its token.
    tab_b = Tab(url_b)
    assert tab_b.open(token)[0] == token
    tab_b.say("I loved Alien (1979)")
    tab_b.like_first()
    liked.append(_liked(tab_b.export())[-1])

    # Meanwhile another visitor on both processes, at the same time as the first one's next turns.
    other_a, other_b = Tab(url_a), Tab(url_b)
    other_token, _ = other_a.open("")

    def other_visitor() -> None:
        other_a.say("I loved Toy Story (1995)")
        other_b.open(other_token)
        other_b.say("Something for the kids")

    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(other_visitor)
        tab_a.say("Something funny please")  # process A reads what process B stored
        tab_b.say("More like Heat (1995)")
        running.result()

    expected = ["I loved The Matrix (1999)", "I loved Alien (1979)", "Something funny please", "More like Heat (1995)"]
    for tab in (tab_a, tab_b):
        export = tab.export()
        assert sorted(_messages(export)) == sorted(expected), "a turn lost, doubled or from someone else"
        assert sorted(_liked(export)) == sorted(liked)
    other = other_b.export()
    assert sorted(_messages(other)) == ["I loved Toy Story (1995)", "Something for the kids"]
    assert not _liked(other)

    # The process that served the visitor first dies; a reload lands on the other one, profile intact.
    os.killpg(process_a.pid, signal.SIGKILL)
    process_a.wait(timeout=30)
    reloaded = Tab(url_b)
    stored, greeting = reloaded.open(token)
    assert stored == token and "Welcome back" in greeting
    reloaded.say("Something scary")
    export = reloaded.export()
    assert sorted(_messages(export)) == sorted(expected + ["Something scary"])
    assert sorted(_liked(export)) == sorted(liked)


# --- the reason queue over a server's parallel slots ------------------------------------------------------------

class _HeldServer:
    """An OpenAI-style completion server on loopback that holds every request until `release` is set, and records
    how many requests it holds at once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    outer.in_flight += 1
                    outer.most_in_flight = max(outer.most_in_flight, outer.in_flight)
                outer.release.wait(timeout=120)  # bounded, so a failing test cannot leave a thread behind
                with outer.lock:
                    outer.in_flight -= 1
                body = json.dumps({"choices": [{"text": " not a supported line at all"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def holding(self) -> int:
        with self.lock:
            return self.in_flight


def _wait_until(condition: Callable[[], bool], within_s: float = 60.0) -> bool:
    """Poll `condition` until it holds or `within_s` (a generous bound) passes; whether it held."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("slots", [1, 4])
def test_reason_queue_keeps_every_server_slot_busy(settings, artifacts, engine, slots) -> None:
    from recommender.engine import RecommenderEngine
    from webui.reasons import ReasonWriter

    server = _HeldServer()
    try:
        # A read timeout beyond the test's own bounds: only the test releases the held requests.
        served = settings.with_overrides(llm_server_url=server.url, llm_server_slots=slots, model_path="fake",
                                         explain_mode="free", explain_samples=1, llm_rank=False,
                                         llm_read_timeout_s=300.0)
        writer = ReasonWriter(RecommenderEngine(served, artifacts=artifacts))
        items = [engine.catalog.find_title(title) for title in
                 ("The Matrix", "Alien", "Heat", "Fargo", "Jaws", "Rocky", "Psycho", "Up")]
        jobs = [(item, engine.evidence(item, Profile("nobody"))) for item in items]
        with ThreadPoolExecutor(len(jobs)) as pool:
            running = [pool.submit(writer.write, item, evidence, time.monotonic() + 300) for item, evidence in jobs]
            # Every slot holds a request and the other reasons wait in the writer's queue: no more can be asked.
            filled = _wait_until(lambda: server.holding() == slots and writer.waiting() == len(jobs) - slots)
            server.release.set()
            reasons = [future.result() for future in running]
        writer.close()
    finally:
        server.release.set()
        server.httpd.shutdown()
    assert filled, (server.holding(), writer.waiting())
    assert len(reasons) == len(items) and all(reason.text for reason in reasons)
    assert server.most_in_flight == slots
