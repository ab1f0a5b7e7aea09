"""`liner eval coldstart` (bench/coldstart.py): linked (seed, film) cases from the shipped catalog, scored through
the real session code."""

from __future__ import annotations

from bench.coldstart import (
    OLDER, RECENT, TOP_K, CaseResult, ColdstartCase, evaluate_coldstart, format_report, linked_cases, summarize,
)
from core.catalog import Catalog


def test_cases_link_each_film_to_a_seed_it_shares_something_with(catalog: Catalog):
    cases = linked_cases(catalog, n=40, seed=3)
    assert cases == linked_cases(catalog, n=40, seed=3)
    assert {c.group for c in cases} == {RECENT, OLDER} and len(cases) == 80
    for case in cases:
        target, seed = catalog.get(case.target), catalog.get(case.seed)
        assert target.item_id != seed.item_id and target.title != seed.title
        assert (target.year >= 2019) == (case.group == RECENT)
        if case.link == "series":
            assert target.series == seed.series == case.shared
        elif case.link == "director":
            assert case.shared in target.people["director"] and case.shared in seed.people["director"]
        else:
            assert case.shared in target.people["star"][:2] and case.shared in seed.people["star"][:2]


def test_the_older_rate_is_reweighted_to_the_recent_links():
    def result(group: str, link: str, hit: bool) -> CaseResult:
        return CaseResult(ColdstartCase("t", "s", link, "x", group), 1 if hit else None, "recommend")

    # Recent: series 1/2, actor 0/2. Older: series 4/4, actor 1/4 (mostly series would flatter them).
    results = [result(RECENT, "series", True), result(RECENT, "series", False),
               result(RECENT, "lead actor", False), result(RECENT, "lead actor", False)]
    results += [result(OLDER, "series", True)] * 4 + [result(OLDER, "lead actor", i == 0) for i in range(4)]
    report = summarize(results, seed=0)
    assert report.rates == {RECENT: 0.25, OLDER: 0.625}
    assert report.older_reweighted == 0.625  # (1.0 * 2 + 0.25 * 2) / 4
    assert report.ratio == 0.4
    assert "misses the goal" in format_report(report)


def test_a_real_session_scores_cases(assistant):
    report = evaluate_coldstart(assistant, n=2, seed=0, progress=False)
    assert len(report.results) == 4
    for outcome in report.results:
        assert outcome.action == "recommend" and 0 < len(outcome.cards) <= TOP_K
        assert outcome.case.seed not in outcome.cards  # the liked film itself is never a card
        assert outcome.rank is None or outcome.cards[outcome.rank - 1] == outcome.case.target
