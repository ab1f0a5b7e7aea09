"""The `liner eval` and `liner bench` commands: argument parsing and printing; the measuring lives beside."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Callable

from recommender.settings import Settings

log = logging.getLogger(__name__)

Command = Callable[[argparse.Namespace], int]


def add_parsers(subparsers: argparse._SubParsersAction, cmd_eval: Command, cmd_bench: Command) -> None:
    evaluate = subparsers.add_parser("eval", help="measure recommendation accuracy or explanation quality")
    eval_sub = evaluate.add_subparsers(dest="eval_command", required=True)

    redial = eval_sub.add_parser("redial", help="score on ReDial dialogues (Recall/NDCG/MRR @1/10/50)")
    redial.add_argument("file", help="ReDial JSONL; movies_with_mentions.csv must sit beside it")
    redial.add_argument("--limit", type=int, help="only the first N dialogues")
    redial.add_argument("--json", metavar="OUT", help="write the metrics and per-sample results here")
    redial.add_argument("--no-llm", action="store_true", help="fusion alone: no LLM ranking")
    redial.add_argument("--ablation", action="store_true",
                        help="score fusion alone and fusion + LLM ranking on the same samples, side by side")
    redial.set_defaults(func=cmd_eval)

    explain = eval_sub.add_parser("explain", help="grounding, fallback rate and specificity of explanations")
    explain.add_argument("--n", type=int, default=500, help="(profile, item) pairs to explain")
    explain.add_argument("--seed", type=int, default=0)
    explain.add_argument("--redial", metavar="FILE",
                         help="ReDial JSONL whose seekers' liked movies make the profiles "
                              "(default: ../shared/data/redial/train_data_subset.jsonl; synthetic if absent)")
    explain.add_argument("--json", metavar="OUT", help="write the figures and every line here")
    explain.set_defaults(func=cmd_eval)

    bench = subparsers.add_parser("bench", help="per-stage latency and memory, against a naive LLM baseline")
    bench.add_argument("--json", metavar="OUT", help="write the figures here")
    bench.add_argument("--turns", type=int, help="only the first N scripted turns")
    bench.add_argument("--skip-first-start", action="store_true",
                       help="do not time building the artifacts from nothing (about 30 s and more)")
    bench.add_argument("--no-baseline", action="store_true", help="do not run the naive LLM baseline")
    bench.set_defaults(func=cmd_bench)


def _write_json(path: str | None, data: dict) -> None:
    if path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"wrote {out}")


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    if args.eval_command == "redial":
        return _eval_redial(args, settings)
    return _eval_explain(args, settings)


def _eval_redial(args: argparse.Namespace, settings: Settings) -> int:
    from bench.redial import evaluate_redial, format_report, load_redial
    from conversation.session import Assistant
    from recommender.store import ProfileStore

    if args.ablation and args.no_llm:
        raise ValueError("--ablation compares with the LLM ranking: drop --no-llm")
    path = Path(args.file)
    if not path.is_file():
        raise FileNotFoundError(f"ReDial file {path} not found (try ../shared/data/redial/train_data_subset.jsonl)")
    dialogues, movie_names = load_redial(path, args.limit)
    # Evaluation dialogues are not onboarding: every seeker turn is answered with cards.
    settings = settings.with_overrides(onboarding_questions=0, explain=False,
                                       llm_rank=settings.llm_rank and not args.no_llm)
    assistant = Assistant(settings, store=ProfileStore("sqlite://"))
    report = evaluate_redial(assistant, dialogues, movie_names, llm=not args.no_llm, ablation=args.ablation)
    print(format_report(report))
    _write_json(args.json, report.to_json())
    return 0


def _eval_explain(args: argparse.Namespace, settings: Settings) -> int:
    from bench.explain_quality import evaluate_explanations, format_report
    from recommender.engine import RecommenderEngine
    from recommender.settings import REPO_ROOT

    redial = Path(args.redial) if args.redial else REPO_ROOT.parent / "shared" / "data" / "redial" / \
        "train_data_subset.jsonl"
    report = evaluate_explanations(RecommenderEngine(settings), n=args.n, seed=args.seed,
                                   redial_path=redial if redial.is_file() else None)
    print(format_report(report, seed=args.seed))
    _write_json(args.json, report.to_json())
    return 0


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    from bench.latency import format_report, run_benchmark

    report = run_benchmark(settings, turns=args.turns, first_start=not args.skip_first_start,
                           baseline=not args.no_baseline)
    print(format_report(report))
    _write_json(args.json, report.to_json())
    return 0
