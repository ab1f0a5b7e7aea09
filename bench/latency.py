"""`liner bench`: per-turn latency by stage over fixed scripted conversations, memory, the warm start time, and
explanation paths (explain/writer.py) timed on the same five cards of every turn: by default the configured one and
`template`, a few minutes on 2 cores. Opt-in, as each takes minutes there: a first start that builds the artifacts,
a naive baseline (the same GGUF model asked to write five recommendations itself) on the same turns, and the
`free` (the old free-writing path) and `grammar` paths."""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from conversation.session import Assistant, ChatSession
from core.catalog import Catalog, normalize_title, split_title_year
from core.errors import FixableError
from core.item import Item
from core.profile import Profile
from core.settings import REPO_ROOT, Settings
from explain.writer import Explainer
from store.profile_store import ProfileStore

log = logging.getLogger(__name__)

SCRIPT = Path(__file__).with_name("scripted_conversations.json")
STAGES = ("understand", "store", "retrieve", "kg", "filter", "rank", "cards", "explain", "total")
BASELINE_INSTRUCTION = "Based on these preferences, recommend 5 movies with explanations."
BASELINE_MAX_TOKENS = 200
"""Enough for five numbered titles with a sentence each from a small model."""
BASELINE_STOP = ("\n6.", "\n\n\n")
"""Five items asked: a base model that goes on to a sixth is cut there."""

# Start-up as a user sees it: a fresh interpreter, imports included, until the assistant and its LLM are ready.
_START_SCRIPT = (
    "from conversation.session import Assistant\n"
    "from core.settings import load_settings\n"
    "Assistant(load_settings()).engine.llm\n"
)


@dataclass
class BenchReport:
    cards_ms: dict[str, float]
    explained_ms: dict[str, float]
    stages_ms: dict[str, dict[str, float]]
    baseline_ms: dict[str, float] | None
    baseline_out_of_catalog: float | None
    peak_rss_mb: float
    first_start_s: float | None
    warm_start_s: float
    turns: int
    baseline_already_named: float | None = None
    """Share of the baseline's titles that the user had named themselves (a recommender should not echo)."""
    baseline_titles: list[dict] = field(default_factory=list)
    """Every title the baseline wrote, with the catalog item it matched (None = not in the catalog)."""
    first_line_ms: dict[str, float] = field(default_factory=dict)
    """From the cards being shown to the first explanation line (the configured path)."""
    explain_paths_ms: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    """Per explanation path: the five lines of a turn ("five_lines") and the first of them ("first_line"), on
    the same cards, each path with an empty cache."""
    load_mb: dict[str, float] = field(default_factory=dict)
    """Resident memory each phase of loading the artefacts added to the benchmark's process (catalog, index,
    knowledge graph, aliases, ...), in MB: what one app process holds for them."""

    def to_json(self) -> dict:
        return {
            "cards_ms": self.cards_ms, "explained_ms": self.explained_ms, "stages_ms": self.stages_ms,
            "baseline_ms": self.baseline_ms, "baseline_out_of_catalog": self.baseline_out_of_catalog,
            "peak_rss_mb": self.peak_rss_mb, "first_start_s": self.first_start_s,
            "warm_start_s": self.warm_start_s, "turns": self.turns,
            "baseline_already_named": self.baseline_already_named, "baseline_titles": self.baseline_titles,
            "first_line_ms": self.first_line_ms, "explain_paths_ms": self.explain_paths_ms, "load_mb": self.load_mb,
        }


def load_script(path: Path = SCRIPT) -> list[list[str]]:
    return json.loads(path.read_text(encoding="utf-8"))["conversations"]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"median": float("nan"), "p95": float("nan")}
    return {"median": round(float(np.median(values)), 1), "p95": round(float(np.percentile(values, 95)), 1)}


# --- start-up -----------------------------------------------------------------------------------------------
def _settings_env(settings: Settings, **changes: str) -> dict[str, str]:
    """The environment that makes a child process load exactly these settings."""
    env = dict(os.environ) | settings.environment()
    env.update({f"LINER_{k.upper()}": v for k, v in changes.items()})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    return env


def time_start(settings: Settings, data_dir: Path, scratch: Path) -> float:
    """Seconds for a fresh process to get a ready assistant (LLM loaded) with data_dir as its data dir; its
    profile database goes to scratch so a measurement never touches a user's profiles."""
    env = _settings_env(settings, data_dir=str(data_dir), database_url=f"sqlite:///{scratch / 'bench.sqlite'}")
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _START_SCRIPT], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise FixableError(f"start-up measurement with data dir {data_dir} failed:\n{proc.stderr[-2000:]}")
    return round(elapsed, 2)


# --- the naive baseline -------------------------------------------------------------------------------------
def baseline_prompt(messages: list[str]) -> str:
    said = "\n".join(f"- {m}" for m in messages)
    return f"A movie fan said:\n{said}\n{BASELINE_INSTRUCTION}\n1."


_NUMBERED = re.compile(r"^\s*\d{1,2}\s*[.)]\s*(.+)$")
_YEAR_TITLE = re.compile(r"^(.*?\(\d{4}\))")
_SEPARATORS = re.compile(r"\s+[-–—]\s+|:\s+|\s+by\s+|,\s+")


def parse_titles(completion: str) -> list[str]:
    """The titles of a numbered list ("1. Contact (1997) - because ..."), the prompt's "1." included."""
    titles = []
    for line in ("1." + completion).splitlines():
        match = _NUMBERED.match(line)
        if not match:
            continue
        text = re.sub(r"[*_\"“”]", "", match.group(1)).strip()
        year_title = _YEAR_TITLE.match(text)
        title = (year_title.group(1) if year_title else _SEPARATORS.split(text, maxsplit=1)[0]).strip()
        if title:
            titles.append(title)
    return titles


def match_title(title: str, catalog: Catalog) -> Item | None:
    """Generous on purpose (also the part before a colon): it can only lower the baseline's miss rate."""
    name, year = split_title_year(title)
    item = catalog.find_title(name, year) or catalog.find_title(name)
    if item is None and ":" in name:
        item = catalog.find_title(name.split(":", 1)[0])
    return item


# --- the run ------------------------------------------------------------------------------------------------
EXPLAIN_PATHS = ("free", "rerank", "grammar", "template")
"""Timed in this order; "free" is the old path (few-shot free writing, up to explain_samples samples)."""


def default_explain_paths(settings: Settings) -> tuple[str, ...]:
    """The configured path and `template` (no LLM): the figures a default run reports, in EXPLAIN_PATHS order."""
    return tuple(p for p in EXPLAIN_PATHS if p in {settings.explain_mode, "template"})


def run_benchmark(settings: Settings, *, turns: int | None = None, first_start: bool = False,
                  baseline: bool = False, explain_paths: tuple[str, ...] | None = None) -> BenchReport:
    """The scripted turns (the first `turns`) timed by stage; with first_start, also a start from an empty data
    dir; with baseline, the naive LLM baseline; explain_paths (default: default_explain_paths) on the same cards."""
    explain_paths = default_explain_paths(settings) if explain_paths is None else explain_paths
    first_start_s = None
    if first_start:
        with tempfile.TemporaryDirectory(prefix="liner-first-start-") as empty:
            log.info("timing a first start into the empty data dir %s", empty)
            first_start_s = time_start(settings, Path(empty), Path(empty))

    # Scripted turns state a taste every time: onboarding questions would only add turns without cards.
    settings = settings.with_overrides(onboarding_questions=0)
    assistant = Assistant(settings, store=ProfileStore("sqlite://"))
    assistant.engine.llm  # load the model now so the first timed turn does not pay for it
    with tempfile.TemporaryDirectory(prefix="liner-warm-start-") as scratch:
        # The assistant above has built (or found) the artifacts in settings.data_dir: a start there is warm.
        warm_start_s = time_start(settings, settings.data_dir, Path(scratch))

    conversations = load_script()
    plan = [(c, t) for c, messages in enumerate(conversations) for t in range(len(messages))]
    plan = plan[:turns] if turns else plan

    # Untimed, and not one of the scripted messages (explanations are cached): first-use costs (prompt prefix).
    assistant.warm_up(explain=True)

    cards_ms, explained_ms, baseline_ms, first_line_ms = [], [], [], []
    shown: list[tuple[list[Item], Profile]] = []
    stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
    sessions: dict[int, ChatSession] = {}
    titles: list[dict] = []
    for conv, turn in tqdm(plan, desc="bench", unit="turn"):
        session = sessions.setdefault(conv, assistant.session())
        message = conversations[conv][turn]
        started = time.perf_counter()
        reply, cards_at = None, None
        for index, reply in enumerate(session.handle_stream(message)):
            if index == 0:
                cards_at = time.perf_counter()
                cards_ms.append((cards_at - started) * 1000)
            elif index == 1 and reply.cards and reply.cards[0].explanation:
                first_line_ms.append((time.perf_counter() - cards_at) * 1000)
        explained_ms.append((time.perf_counter() - started) * 1000)
        if reply is not None and reply.cards:
            shown.append(([assistant.engine.catalog.get(c.item_id) for c in reply.cards[: settings.cards]],
                          session.profile()))
        if reply is not None and reply.action != "recommend":
            log.warning("scripted turn %r got %s instead of cards", message, reply.action)
        for stage, value in (reply.timings_ms if reply else {}).items():
            stages.setdefault(stage, []).append(value)

    # The baseline runs after the system's turns: sharing the model's writing context turn by turn would evict the
    # explanations' cached prompt prefix and slow the system down for a reason that is not its own.
    if baseline:
        for conv, turn in tqdm(plan, desc="bench baseline", unit="turn"):
            prompt = baseline_prompt(conversations[conv][: turn + 1])
            started = time.perf_counter()
            completion = assistant.engine.llm.complete(prompt, max_tokens=BASELINE_MAX_TOKENS,
                                                       stop=BASELINE_STOP)
            baseline_ms.append((time.perf_counter() - started) * 1000)
            said = normalize_title(" ".join(conversations[conv][: turn + 1]))
            for title in parse_titles(completion):
                item = match_title(title, assistant.engine.catalog)
                titles.append({"turn": conversations[conv][turn], "title": title,
                               "item_id": item.item_id if item else None,
                               "already_named": bool(item) and f" {normalize_title(item.title)} " in f" {said} "})

    paths = time_explain_paths(assistant, shown, settings, explain_paths)

    out_of_catalog = (sum(t["item_id"] is None for t in titles) / len(titles)) if titles else None
    already_named = (sum(t["already_named"] for t in titles) / len(titles)) if titles else None
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux reports kilobytes
    return BenchReport(
        cards_ms=summary(cards_ms), explained_ms=summary(explained_ms),
        stages_ms={stage: summary(values) for stage, values in stages.items() if values},
        baseline_ms=summary(baseline_ms) if baseline else None,
        baseline_out_of_catalog=round(out_of_catalog, 4) if out_of_catalog is not None else None,
        baseline_already_named=round(already_named, 4) if already_named is not None else None,
        peak_rss_mb=round(peak_kb / 1024, 1), first_start_s=first_start_s, warm_start_s=warm_start_s,
        turns=len(plan), baseline_titles=titles, first_line_ms=summary(first_line_ms), explain_paths_ms=paths,
        load_mb={phase: round(mb, 1) for phase, mb in assistant.engine.artifacts.memory_mb.items()},
    )


def time_explain_paths(assistant: Assistant, shown: list[tuple[list[Item], Profile]], settings: Settings,
                       modes: tuple[str, ...] = EXPLAIN_PATHS) -> dict[str, dict[str, dict[str, float]]]:
    """Each explanation path on the same five cards of every scripted turn, with a fresh (empty) cache."""
    engine = assistant.engine
    evidence = [[(item, engine.evidence(item, profile)) for item in items if item is not None]
                for items, profile in shown]
    results = {}
    for mode in modes:
        explainer = Explainer(engine.llm, settings.with_overrides(explain_mode=mode))
        if explainer.mode != mode:
            log.info("explanation path %s is not available with this model: not timed", mode)
            continue
        five, first = [], []
        for pairs in tqdm(evidence, desc=f"bench explain {mode}", unit="turn"):
            started = time.perf_counter()
            for index, _ in enumerate(explainer.explain_many(pairs)):
                if index == 0:
                    first.append((time.perf_counter() - started) * 1000)
            five.append((time.perf_counter() - started) * 1000)
        results[mode] = {"five_lines": summary(five), "first_line": summary(first)}
    return results


def format_report(report: BenchReport) -> str:
    lines = [f"{report.turns} scripted turns", f"{'':<28}{'median ms':>12}{'p95 ms':>12}"]
    rows = [("message → cards ranked", report.cards_ms), ("message → 5 explained cards", report.explained_ms)]
    rows += [(f"  stage {stage}", value) for stage, value in report.stages_ms.items()]
    if report.baseline_ms:
        rows.append(("naive LLM baseline (5 recs)", report.baseline_ms))
    if report.first_line_ms:
        rows.append(("cards → first line", report.first_line_ms))
    for mode, figures in report.explain_paths_ms.items():
        label = "old path: free" if mode == "free" else mode
        rows += [(f"  {label}: 5 lines", figures["five_lines"]), (f"  {label}: first line", figures["first_line"])]
    for name, value in rows:
        lines.append(f"{name:<28}{value['median']:>12.1f}{value['p95']:>12.1f}")
    if report.baseline_out_of_catalog is not None:
        lines.append(f"baseline titles not in the catalog: {report.baseline_out_of_catalog:.1%} "
                     f"of {len(report.baseline_titles)} (Liner Notes: 0% by construction)")
        lines.append(f"baseline titles the user had named themselves: {report.baseline_already_named:.1%}")
    lines.append(f"peak RSS: {report.peak_rss_mb:.0f} MB")
    if report.load_mb:
        held = " · ".join(f"{phase} {mb:+,.0f} MB" for phase, mb in report.load_mb.items())
        lines.append(f"loading the artefacts: {held}")
    if report.first_start_s is not None:
        lines.append(f"first start (artifacts built from nothing): {report.first_start_s:.1f} s")
    lines.append(f"warm start (artifacts cached): {report.warm_start_s:.1f} s")
    return "\n".join(lines)
