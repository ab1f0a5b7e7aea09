"""`liner eval coldstart`: can a film with no interaction history reach the cards from its content alone?

Recent films (2019 on) have no ReDial co-mentions and no MovieLens ratings, so they are the honest test of item
cold start (issue 22). For a sample of recent films and of older films, take a seed film from the catalog that
shares a director, a lead actor (one of the first two billed) or a series with it, say "I loved <seed>" to a fresh
session, and count how often the film is among the ten cards. The two rates are compared per kind of link, and the
older films' rate is also reweighted to the recent films' mix of links, so that a difference is not just a
different mix of easy (series) and hard (actor) links.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from core.catalog import Catalog
from core.files import atomic_write_text
from core.item import Item
from pipelines.film_sources import FIRST_RECENT_YEAR

if TYPE_CHECKING:
    from conversation.session import Assistant
    from core.settings import Settings

TOP_K = 10
LEADS = 2
"""A "lead actor" is one of the first two names of the cast (billing order where the catalog has it)."""
RECENT, OLDER = "recent", "older"
TARGET_RATIO = 0.7
"""Issue 22: recent films should reach the top 10 at >= 70 % of the rate of older films."""


@dataclass(frozen=True)
class ColdstartCase:
    target: str
    seed: str
    link: str
    """How seed and target are linked: "series", "director" or "lead actor" (the first that holds, in that
    order: the most specific link)."""
    shared: str
    """The director, actor or series they share."""
    group: str
    """RECENT (target from 2019 on) or OLDER."""


@dataclass
class CaseResult:
    case: ColdstartCase
    rank: int | None
    """1-based place of the target among the cards; None when it is not in the top TOP_K."""
    action: str
    cards: list[str] = field(default_factory=list)


@dataclass
class ColdstartReport:
    rates: dict[str, float]
    """Hit rate @TOP_K per group."""
    by_link: dict[str, dict[str, dict[str, float | int]]]
    """group -> link -> {"cases", "hits", "rate"}."""
    older_reweighted: float
    """The older films' rate with their links weighted as the recent films' are."""
    ratio: float
    """Recent rate / reweighted older rate (issue 22's goal: >= TARGET_RATIO)."""
    results: list[CaseResult]
    seed: int

    def to_json(self) -> dict:
        return {"rates": self.rates, "by_link": self.by_link, "older_reweighted": self.older_reweighted,
                "ratio": self.ratio, "target_ratio": TARGET_RATIO, "top_k": TOP_K, "seed": self.seed,
                "results": [asdict(r) for r in self.results]}


def _group(item: Item) -> str | None:
    if not item.year:
        return None
    return RECENT if item.year >= FIRST_RECENT_YEAR else OLDER


def _leads(item: Item) -> tuple[str, ...]:
    return item.people.get("star", ())[:LEADS]


def linked_cases(catalog: Catalog, n: int, seed: int = 0) -> list[ColdstartCase]:
    """Up to n cases per group: a random sample of the films that have a linked seed, each with its best-known
    linked film (the one a person would most likely name) as the seed. Deterministic for a seed."""
    by_series: dict[str, list[Item]] = defaultdict(list)
    by_director: dict[str, list[Item]] = defaultdict(list)
    by_lead: dict[str, list[Item]] = defaultdict(list)
    for item in catalog:
        if item.series:
            by_series[item.series].append(item)
        for name in item.people.get("director", ()):
            by_director[name].append(item)
        for name in _leads(item):
            by_lead[name].append(item)
    cases: dict[str, list[ColdstartCase]] = {RECENT: [], OLDER: []}
    for item in catalog:
        group = _group(item)
        if group is None:
            continue
        ways = [("series", name, by_series[name]) for name in ([item.series] if item.series else [])]
        ways += [("director", name, by_director[name]) for name in item.people.get("director", ())]
        ways += [("lead actor", name, by_lead[name]) for name in _leads(item)]
        for link, shared, films in ways:
            # The same film under another entry (a remake keeps its own) is no seed: titles must differ.
            seeds = [f for f in films if f.item_id != item.item_id and f.title != item.title]
            if seeds:
                best = max(seeds, key=lambda f: (f.popularity, f.item_id))
                cases[group].append(ColdstartCase(item.item_id, best.item_id, link, shared, group))
                break
    rng = random.Random(seed)
    return [case for group in (RECENT, OLDER) for case in rng.sample(cases[group], min(n, len(cases[group])))]


def score_case(assistant: Assistant, case: ColdstartCase) -> CaseResult:
    catalog = assistant.engine.catalog
    session = assistant.session()
    reply = session.handle(f"I loved {catalog.get(case.seed).label}", explain=False, n_cards=TOP_K, rank=False)
    cards = [c.item_id for c in reply.cards][:TOP_K] if reply.action == "recommend" else []
    rank = cards.index(case.target) + 1 if case.target in cards else None
    return CaseResult(case, rank, reply.action, cards)


def summarize(results: list[CaseResult], seed: int) -> ColdstartReport:
    by_link: dict[str, dict[str, dict[str, float | int]]] = {RECENT: {}, OLDER: {}}
    counts: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for result in results:
        counter = counts[(result.case.group, result.case.link)]
        counter["cases"] += 1
        counter["hits"] += result.rank is not None
    for (group, link), counter in sorted(counts.items()):
        by_link[group][link] = {"cases": counter["cases"], "hits": counter["hits"],
                                "rate": round(counter["hits"] / counter["cases"], 4)}
    rates = {}
    for group in (RECENT, OLDER):
        cases = sum(v["cases"] for v in by_link[group].values())
        rates[group] = round(sum(v["hits"] for v in by_link[group].values()) / cases, 4) if cases else 0.0
    recent_cases = sum(v["cases"] for v in by_link[RECENT].values())
    # The older films' rate per link, weighted by how often the recent films have that link.
    older_reweighted = sum(by_link[OLDER].get(link, {}).get("rate", 0.0) * v["cases"]
                           for link, v in by_link[RECENT].items()) / recent_cases if recent_cases else 0.0
    ratio = rates[RECENT] / older_reweighted if older_reweighted else 0.0
    return ColdstartReport(rates, by_link, round(older_reweighted, 4), round(ratio, 4), results, seed)


def evaluate_coldstart(assistant: Assistant, n: int, seed: int = 0, progress: bool = True) -> ColdstartReport:
    cases = linked_cases(assistant.engine.catalog, n, seed)
    results = [score_case(assistant, case)
               for case in tqdm(cases, desc="eval coldstart", unit="case", disable=not progress)]
    return summarize(results, seed)


def format_report(report: ColdstartReport) -> str:
    lines = [f"film in the top {TOP_K} after \"I loved <a film that shares a series, director or lead actor>\":"]
    for group in (RECENT, OLDER):
        parts = [f"{link} {v['hits']}/{v['cases']} = {v['rate']:.3f}" for link, v in report.by_link[group].items()]
        lines.append(f"  {group + ' (2019+)' if group == RECENT else group + ' (before 2019)':<22} "
                     f"{report.rates[group]:.3f}   ({'; '.join(parts)})")
    lines.append(f"  older, reweighted to the recent films' links: {report.older_reweighted:.3f}")
    verdict = "meets" if report.ratio >= TARGET_RATIO else "misses"
    lines.append(f"  recent / older = {report.ratio:.2f} ({verdict} the goal of {TARGET_RATIO:.2f})")
    return "\n".join(lines)


def run(settings: Settings, *, n: int, seed: int, json_out: Path | None) -> int:
    """`liner eval coldstart`: score n cases per group with a fresh in-memory store, print, write JSON."""
    from conversation.session import Assistant
    from store.profile_store import ProfileStore

    # One message and straight to cards: no onboarding question, no reasons, no LLM ranking (as --no-llm).
    settings = settings.with_overrides(onboarding_questions=0, explain=False, llm_rank=False)
    assistant = Assistant(settings, store=ProfileStore("sqlite://"))
    report = evaluate_coldstart(assistant, n, seed)
    print(format_report(report))
    if json_out:
        atomic_write_text(Path(json_out), json.dumps(report.to_json(), indent=1, ensure_ascii=False))
        print(f"wrote {json_out}")
    return 0
