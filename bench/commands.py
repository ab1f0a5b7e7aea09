"""What `liner eval`, `liner bench` and `liner train-ranker` run and print; the measuring lives beside (redial,
explain_quality, latency, load, ranker_training), the argument parsing in the top-level cli.py."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from core.files import atomic_write_text
from core.settings import REPO_ROOT, Settings

DEFAULT_REDIAL = REPO_ROOT.parent / "shared" / "data" / "redial" / "train_data_subset.jsonl"
"""The ReDial training dialogues shipped beside the repository (the only ReDial data tuned on)."""


def _write_json(path: Path | None, data: dict) -> None:
    if path:
        atomic_write_text(Path(path), json.dumps(data, indent=1, ensure_ascii=False))
        print(f"wrote {path}")


def eval_redial(settings: Settings, path: Path, *, limit: int | None, split: str, llm: bool, ablation: bool,
                json_out: Path | None) -> int:
    from bench.redial import evaluate_redial, format_report, load_redial
    from conversation.session import Assistant
    from store.profile_store import ProfileStore

    if ablation and not llm:
        raise ValueError("--ablation compares with the LLM ranking: drop --no-llm")
    _require_redial(path)
    dialogues, movie_names = load_redial(path, limit, split=split)
    # Evaluation dialogues are not onboarding: every seeker turn is answered with cards.
    settings = settings.with_overrides(onboarding_questions=0, explain=False, llm_rank=settings.llm_rank and llm)
    assistant = Assistant(settings, store=ProfileStore("sqlite://"))
    report = evaluate_redial(assistant, dialogues, movie_names, llm=llm, ablation=ablation, split=split)
    print(format_report(report))
    _write_json(json_out, report.to_json())
    return 0


def eval_explain(settings: Settings, *, n: int, seed: int, redial: Path | None, json_out: Path | None) -> int:
    from bench.explain_quality import evaluate_explanations, format_report
    from recommender.engine import RecommenderEngine

    redial = redial or DEFAULT_REDIAL
    report = evaluate_explanations(RecommenderEngine(settings), n=n, seed=seed,
                                   redial_path=redial if redial.is_file() else None)
    print(format_report(report, seed=seed))
    _write_json(json_out, report.to_json())
    return 0


def bench_latency(settings: Settings, *, turns: int | None, first_start: bool, baseline: bool,
                  explain_paths: tuple[str, ...] | None, json_out: Path | None) -> int:
    """explain_paths None: bench.latency.default_explain_paths."""
    from bench.latency import format_report, run_benchmark

    report = run_benchmark(settings, turns=turns, first_start=first_start, baseline=baseline,
                           explain_paths=explain_paths)
    print(format_report(report))
    _write_json(json_out, report.to_json())
    return 0


def bench_load(visitors: int, *, url: str | None, overrides: dict[str, str], timeout_s: float,
               json_out: Path | None, api: bool = False, api_key: str | None = None) -> int:
    """Exit 1 when any visit saw an error or another visitor's data."""
    from bench.load import LoadError, format_report, run_load

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would drown the report
    try:
        report = run_load(visitors, url=url, overrides=overrides, timeout_s=timeout_s, api=api, api_key=api_key)
    except LoadError as exc:
        print(f"liner bench --load: {exc}", file=sys.stderr)
        return 1
    print(format_report(report))
    _write_json(json_out, report.to_json())
    summary = report.summary()
    return 0 if summary["errors"] == 0 and summary["cross_talk"] == 0 else 1


def bench_scale(settings: Settings, items: int, *, queries: int, turns: int | None, json_out: Path | None) -> int:
    """The index at `items` items, or with turns, whole turns over a synthetic catalog that size."""
    from dataclasses import asdict

    from bench import scale

    if turns:
        turn_report = scale.run_scale_turns(settings, items, turns=turns)
        print(scale.format_turn_report(turn_report))
        _write_json(json_out, asdict(turn_report))
        return 0
    report = scale.run_scale(settings, items, queries=queries)
    print(scale.format_report(report))
    _write_json(json_out, report.to_json())
    return 0


def _require_redial(path: Path) -> None:
    if not path.is_file():
        hint = ("pass the path of ReDial's train_data_subset.jsonl as the command's argument"
                if path == DEFAULT_REDIAL else f"the default is {DEFAULT_REDIAL} (../shared/data beside the repository)")
        raise FileNotFoundError(f"ReDial file {path} not found: {hint}")


def train_ranker(settings: Settings, redial: Path, *, out: Path | None, limit: int | None,
                 cv_rounds: tuple[int, ...] = ()) -> int:
    from bench.ranker_training import train_ranker as train
    from conversation.session import Assistant
    from store.profile_store import ProfileStore

    _require_redial(redial)
    out = out or settings.ranker_path
    # The lists are the fused candidates as evaluation sees them: every seeker turn gets a list, none is re-ranked.
    settings = settings.with_overrides(onboarding_questions=0, explain=False, llm_rank=False, learned_ranker=False)
    counts = train(Assistant(settings, store=ProfileStore("sqlite://")), redial, out, limit=limit,
                   cv_rounds=cv_rounds)
    for key, value in counts.items():
        print(f"{key:>10}: {value}")
    print(f"wrote {out}")
    return 0
