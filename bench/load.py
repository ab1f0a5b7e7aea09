"""Load test of the app: N visitors at once over loopback HTTP, against an app it starts (app.py in a subprocess, on
a throwaway database) or one already running. Two doors: the browser page, through gradio_client (the page's own
events, each visitor a session of its own), or the JSON API (`api=True`: what a product's server calls,
webui/api.py).

Each visitor opens the page (or is started with an API key), names a different film, waits for the cards and the
fifth reason, likes the first card and exports their data. Reported: time to cards and to the fifth reason (p50 /
p95), errors, cross-talk (a visitor's export or cards holding another visitor's words or films) and lost feedback
(a like missing from the export).
"""

from __future__ import annotations

import json
import logging
import functools
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx
import numpy as np
from gradio_client import Client

from core.errors import FixableError
from core.settings import REPO_ROOT, load_settings

log = logging.getLogger(__name__)

FILMS = ("The Matrix (1999)", "Toy Story (1995)", "Titanic (1997)", "Alien (1979)", "The Godfather (1972)",
         "Finding Nemo (2003)", "Jaws (1975)", "Casablanca (1942)", "Groundhog Day (1993)", "Heat (1995)",
         "Amélie (2001)", "Inception (2010)", "Fargo (1996)", "Rocky (1976)", "Up (2009)", "Psycho (1960)",
         "Gladiator (2000)")
"""One film per visitor, each a different taste, so that cross-talk shows as another visitor's title."""
PENDING_MARK = "card-reason pending"
START_TIMEOUT_S = 600.0
"""A first start may build the artefacts (embeddings, index, graph) before the page is served."""
API_PATH = "/api/v1"
"""Where the app serves the JSON API (webui.api.API_PATH; bench does not import webui)."""
REASON_POLL_S = 0.25
UPDATE_POLL_S = 0.01
"""How often a browser session looks for the next streamed update of an event (the resolution of its timings)."""


class LoadError(FixableError):
    """The app could not be started or reached; the message says how to fix it."""


@dataclass
class Visit:
    """What one visitor saw."""

    visitor: int
    film: str
    cards_s: float | None = None
    """From sending the message to the first card on screen."""
    fifth_reason_s: float | None = None
    """From sending the message to the fifth card's reason (LLM line or template) on screen."""
    reasons: dict[str, int] = field(default_factory=dict)
    """How the shown reasons were written: llm / rerank / grammar / cache / template."""
    errors: list[str] = field(default_factory=list)
    cross_talk: list[str] = field(default_factory=list)
    feedback_kept: bool = False


@dataclass
class LoadReport:
    visitors: int
    explain: bool
    door: str
    """browser (Gradio's queue API) or api (the JSON API)."""
    warmup: Visit
    visits: list[Visit]
    wall_s: float

    def summary(self) -> dict[str, Any]:
        cards_p50, cards_p95 = _p50_p95([v.cards_s for v in self.visits if v.cards_s is not None])
        fifth_p50, fifth_p95 = _p50_p95([v.fifth_reason_s for v in self.visits if v.fifth_reason_s is not None])
        sources: dict[str, int] = {}
        for visit in self.visits:
            for source, count in visit.reasons.items():
                sources[source] = sources.get(source, 0) + count
        return {
            "visitors": self.visitors,
            "door": self.door,
            "explain": self.explain,
            "cards_p50_s": cards_p50, "cards_p95_s": cards_p95,
            "fifth_reason_p50_s": fifth_p50, "fifth_reason_p95_s": fifth_p95,
            "errors": sum(len(v.errors) for v in self.visits),
            "cross_talk": sum(len(v.cross_talk) for v in self.visits),
            "lost_feedback": sum(not v.feedback_kept for v in self.visits),
            "reason_sources": sources,
            "wall_s": round(self.wall_s, 3),
        }

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "warmup": asdict(self.warmup), "visits": [asdict(v) for v in self.visits]}


def _p50_p95(seconds: list[float]) -> tuple[float | None, float | None]:
    return tuple(np.percentile(seconds, [50, 95]).round(3).tolist()) if seconds else (None, None)


# --- one browser session through gradio_client ---------------------------------------------------------------
class PageSession:
    """One browser tab: a gradio_client Client, which holds its own session on the server (the page's gr.State
    lives there, as for a tab), submitting the page's named events and reading their streamed updates."""

    def __init__(self, base_url: str, timeout_s: float):
        self.base = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.client = Client(self.base, verbose=False, download_files=False, analytics_enabled=False,
                             httpx_kwargs={"timeout": httpx.Timeout(timeout_s, connect=10.0)})
        self._components = self.client.config["components"]

    def close(self) -> None:
        self.client.close()

    def element(self, elem_id: str) -> int:
        """The component id of the element with this elem_id."""
        for component in self._components:
            if component.get("props", {}).get("elem_id") == elem_id:
                return component["id"]
        raise LoadError(f"the page has no element #{elem_id}: is {self.base} a Liner Notes app?")

    def browser_state(self) -> int:
        return next(c["id"] for c in self._components if c.get("type") == "browserstate")

    def call(self, api_name: str, inputs: dict[int, Any] | None = None,
             on_update: Callable[[dict[int, Any]], None] | None = None) -> dict[int, Any]:
        """Run one event as a browser would, with these input values (by component id; the page's gr.State
        values live in the session); returns the final value of each output component (by id), calling
        on_update with the values after every streamed update."""
        endpoint = next((e for e in self.client.endpoints.values() if e.api_name == f"/{api_name}"), None)
        if endpoint is None:
            raise LoadError(f"the app has no event named {api_name!r}")
        inputs = inputs or {}
        dependency = endpoint.dependency
        # The client passes no state and returns no state or layout block: the other inputs and outputs, in order.
        args = [inputs.get(component_id) for component_id, kind in zip(dependency["inputs"],
                                                                        endpoint.input_component_types)
                if not kind.is_state]
        shown = [component_id for component_id, kind in zip(dependency["outputs"], endpoint.output_component_types)
                 if not kind.skip]
        job = self.client.submit(*args, api_name=f"/{api_name}")
        deadline = time.monotonic() + self.timeout_s
        values: dict[int, Any] = {}
        read = 0
        while True:
            finished = job.done()  # read before the outputs, so that none streamed before the end is missed
            streamed = job.outputs()
            for output in streamed[read:]:
                _merge_outputs(values, shown, output)
                if on_update is not None:
                    on_update(values)
            read = len(streamed)
            if finished:
                break
            if time.monotonic() > deadline:
                job.cancel()
                raise TimeoutError(f"{api_name} took over {self.timeout_s:.0f} s")
            time.sleep(UPDATE_POLL_S)
        _merge_outputs(values, shown, job.result())  # raises the server's error (gradio_client.exceptions.AppError)
        return values


def _merge_outputs(values: dict[int, Any], shown: list[int], output: Any) -> None:
    for component_id, value in zip(shown, output if len(shown) > 1 else (output,)):
        _merge(values, component_id, value)


def _merge(values: dict[int, Any], component_id: int, value: Any) -> None:
    """An output's new value: a plain value replaces; an update dict changes only the properties it carries."""
    if isinstance(value, dict) and value.get("__type__") == "update":
        current = values.get(component_id)
        current = dict(current) if isinstance(current, dict) and current.get("__type__") == "update" else \
            {"__type__": "update", "value": current}
        current.update({k: v for k, v in value.items() if k != "__type__"})
        values[component_id] = current
    else:
        values[component_id] = value


def _value(values: dict[int, Any], component_id: int) -> Any:
    value = values.get(component_id)
    return value.get("value") if isinstance(value, dict) and value.get("__type__") == "update" else value


# --- one visitor ----------------------------------------------------------------------------------------------
def visit(base_url: str, index: int, film: str, others: list[str], timeout_s: float, cards: int) -> Visit:
    """Open the page, name a film, wait for cards and reasons, like the first card, export; never raises."""
    result = Visit(index, film)
    session = None
    try:
        session = PageSession(base_url, timeout_s)
        _visit(session, result, others, cards)
    except Exception as exc:  # noqa: BLE001 - a failed visit is a measured error, not the end of the run
        result.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        if session is not None:
            session.close()
    return result


def _visit(session: PageSession, result: Visit, others: list[str], n_cards: int) -> None:
    chat, message = session.element("chat"), session.element("message")
    bodies = [session.element(f"card-{i}-body") for i in range(n_cards)]
    export_data = session.element("export-data")
    opened = session.call("start", {session.browser_state(): ""})
    history = _value(opened, chat) or []
    text = f"I loved {result.film}"
    started = time.perf_counter()

    def seen(values: dict[int, Any]) -> None:
        shown = [_value(values, body) or "" for body in bodies]
        if result.cards_s is None and shown[0]:
            result.cards_s = time.perf_counter() - started
        if result.fifth_reason_s is None and all(shown) and not any(PENDING_MARK in html for html in shown):
            result.fifth_reason_s = time.perf_counter() - started

    final = session.call("turn", {message: text, chat: history}, on_update=seen)
    seen(final)
    shown = [_value(final, body) or "" for body in bodies]
    for html in shown:
        source = html.split('data-source="', 1)[1].split('"', 1)[0] if 'data-source="' in html else "none"
        result.reasons[source] = result.reasons.get(source, 0) + 1
    liked = session.call("like_0")
    if "card-mark" not in (_value(liked, bodies[0]) or ""):
        result.errors.append("the liked card was not marked")
    exported = _value(session.call("export"), export_data) or ""
    data = json.loads(exported) if exported else {}
    text_seen = json.dumps(data, ensure_ascii=False) + json.dumps(_value(final, chat), ensure_ascii=False)
    result.cross_talk = [other for other in others if f"I loved {other}" in text_seen]
    liked_item = shown[0].split('data-item-id="', 1)[1].split('"', 1)[0] if 'data-item-id="' in shown[0] else ""
    result.feedback_kept = any(row.get("kind") == "like" and row.get("item_id") == liked_item
                               for row in data.get("feedback", []))
    if not any(turn.get("message") == text for turn in data.get("turns", [])):
        result.errors.append("the visitor's own message is missing from their export")


# --- one visitor through the JSON API ------------------------------------------------------------------------
def api_visit(base_url: str, api_key: str, index: int, film: str, others: list[str], timeout_s: float,
              cards: int) -> Visit:
    """Start a visitor with the key, name a film, follow the reasons, like the first card, export; never raises."""
    result = Visit(index, film)
    with httpx.Client(base_url=base_url.rstrip("/") + API_PATH, headers={"X-API-Key": api_key},
                      timeout=httpx.Timeout(timeout_s, connect=10.0)) as http:
        try:
            _api_visit(http, result, others, cards)
        except Exception as exc:  # noqa: BLE001 - a failed visit is a measured error, not the end of the run
            result.errors.append(f"{type(exc).__name__}: {exc}")
    return result


def _api_visit(http: httpx.Client, result: Visit, others: list[str], n_cards: int) -> None:
    started = http.post("/visitors")
    started.raise_for_status()
    http.headers["Authorization"] = f"Bearer {started.json()['token']}"
    sent = time.perf_counter()
    reply = http.post("/visitor/messages", json={"text": f"I loved {result.film}"})
    reply.raise_for_status()
    shown = reply.json()["cards"]
    if not shown:
        raise RuntimeError(f"no cards after naming a film: {reply.json()['text']!r}")
    result.cards_s = time.perf_counter() - sent
    pending = reply.json()["reasons_pending"]
    while pending:
        time.sleep(REASON_POLL_S)
        now = http.get("/visitor/cards")
        now.raise_for_status()
        shown, pending = now.json()["cards"], now.json()["reasons_pending"]
    result.fifth_reason_s = time.perf_counter() - sent
    for card in shown[:n_cards]:
        result.reasons[card["reason_state"] or "none"] = result.reasons.get(card["reason_state"] or "none", 0) + 1
    liked = http.post(f"/visitor/cards/{shown[0]['item_id']}/feedback", json={"kind": "like"})
    liked.raise_for_status()
    if liked.json()["card"]["mark"] != "like":
        result.errors.append("the liked card was not marked")
    exported = http.get("/visitor/export")
    exported.raise_for_status()
    films = {_folded(f"{f['title']} ({f['year']})"): f["item_id"] for f in exported.json()["liked_films"]}
    result.feedback_kept = shown[0]["item_id"] in films.values()
    # Another visitor's film in this profile, other than the card liked here, came from their conversation.
    result.cross_talk = [other for other in others
                         if films.get(_folded(other), shown[0]["item_id"]) != shown[0]["item_id"]]
    if _folded(result.film) not in films:
        result.errors.append("the visitor's own film is missing from their export")
    if http.get("/visitor/profile").json()["turns"] != 1:
        result.errors.append("the visitor's profile does not hold exactly their one turn")


def _folded(label: str) -> str:
    """A title as compared here: the catalog may spell "Amélie" as "Amelie"."""
    return "".join(c for c in unicodedata.normalize("NFKD", label) if not unicodedata.combining(c)).casefold()


# --- the app under test ---------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_app(base_url: str, timeout_s: float, process: subprocess.Popen | None = None,
                 log_path: Path | None = None) -> None:
    """Returns once the app serves its page's config."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-10:] if log_path else []
            raise LoadError(f"the app exited with code {process.returncode} before serving; its last lines:\n"
                            + "\n".join(tail))
        try:
            response = httpx.get(f"{base_url.rstrip('/')}/config", timeout=5)
            if response.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise LoadError(f"no app answered at {base_url} within {timeout_s:.0f} s: start it with `liner app`, or leave "
                    "--url out to let the load test start one")


def start_app(overrides: dict[str, str], folder: Path) -> tuple[str, subprocess.Popen]:
    """app.py in a subprocess on a free loopback port, with a throwaway profile database."""
    port = _free_port()
    env = dict(os.environ)
    env.update({f"LINER_{key.upper()}": str(value) for key, value in overrides.items()})
    env.update({"LINER_HOST": "127.0.0.1", "LINER_PORT": str(port), "PYTHONPATH": str(REPO_ROOT),
                "LINER_DATABASE_URL": f"sqlite:///{folder / 'load.sqlite'}", "GRADIO_ANALYTICS_ENABLED": "False"})
    with open(folder / "app.log", "w", encoding="utf-8") as logfile:  # the child keeps its own descriptor
        process = subprocess.Popen([sys.executable, str(REPO_ROOT / "app.py")], env=env, stdout=logfile,
                                   stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    return f"http://127.0.0.1:{port}", process


def run_load(visitors: int, *, url: str | None = None, overrides: dict[str, str] | None = None,
             timeout_s: float = 120.0, cards: int = 5, start_timeout_s: float = START_TIMEOUT_S, api: bool = False,
             api_key: str | None = None) -> LoadReport:
    """Measure `visitors` simultaneous visits (after one warm-up visit) against `url`, or against an app started
    here with these setting overrides; through the JSON API when `api` (`api_key` is needed with a `url`; an app
    started here gets a key of its own, with a rate limit that a load test does not reach)."""
    if visitors < 1 or visitors > len(FILMS) - 1:
        raise FixableError(f"--load takes 1 to {len(FILMS) - 1} visitors, got {visitors}")
    overrides = dict(overrides or {})
    if api and url is None:
        api_key = secrets.token_urlsafe(24)
        overrides.update(api_keys=f"bench={api_key}", api_rate_per_key="1000000")
    elif api and not api_key:
        raise LoadError("the API load test of a running app needs one of its API keys: --api-key (or "
                        "LINER_BENCH_API_KEY)")
    # The app started here reads the same settings (a running app at --url: what --set says it runs with).
    explain = load_settings(**overrides).explain
    with tempfile.TemporaryDirectory(prefix="liner-load-") as folder:
        process = None
        if url is None:
            url, process = start_app(overrides, Path(folder))
        try:
            wait_for_app(url, start_timeout_s, process, Path(folder) / "app.log")
            one_visit = functools.partial(api_visit, url, api_key or "") if api else functools.partial(visit, url)
            warmup = one_visit(0, FILMS[-1], [], timeout_s, cards)
            films = FILMS[:visitors]
            barrier = threading.Barrier(visitors)

            def one(index: int) -> Visit:
                barrier.wait(timeout=timeout_s)
                return one_visit(index + 1, films[index], [f for f in films if f != films[index]], timeout_s, cards)

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=visitors) as pool:
                visits = list(pool.map(one, range(visitors), timeout=timeout_s * 4))
            wall = time.perf_counter() - started
        finally:
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
    return LoadReport(visitors, explain, "api" if api else "browser", warmup, visits, wall)


def format_report(report: LoadReport) -> str:
    s = report.summary()

    def secs(value: float | None) -> str:
        return f"{value:.2f} s" if value is not None else "-"

    lines = [f"load: {s['visitors']} visitors at once through the {s['door']}, explanations "
             f"{'on' if s['explain'] else 'off'}, {s['wall_s']:.1f} s wall",
             f"{'':26}{'p50':>10}{'p95':>10}",
             f"{'time to cards':26}{secs(s['cards_p50_s']):>10}{secs(s['cards_p95_s']):>10}",
             f"{'time to the fifth reason':26}{secs(s['fifth_reason_p50_s']):>10}{secs(s['fifth_reason_p95_s']):>10}",
             f"errors {s['errors']} · cross-talk {s['cross_talk']} · lost feedback {s['lost_feedback']}",
             "reasons: " + ", ".join(f"{k} {v}" for k, v in sorted(s["reason_sources"].items())),
             f"warm-up visit alone: cards {secs(report.warmup.cards_s)}, fifth reason "
             f"{secs(report.warmup.fifth_reason_s)}"]
    for v in report.visits:
        if v.errors or v.cross_talk:
            lines.append(f"  visitor {v.visitor} ({v.film}): errors {v.errors} cross-talk {v.cross_talk}")
    return "\n".join(lines)
