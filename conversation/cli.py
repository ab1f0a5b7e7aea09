"""`liner`: the one command-line entry point (app, chat, catalog, ingest, build-assets, eval, bench)."""

from __future__ import annotations

import argparse
import json
import logging
import runpy
import sys
from pathlib import Path

from bench.cli import add_parsers
from recommender.settings import REPO_ROOT, Settings, load_settings

log = logging.getLogger("liner")


def _settings(args: argparse.Namespace) -> Settings:
    overrides = dict(item.split("=", 1) for item in (args.set or []))
    for flag in ("db", "model", "catalog", "gpu_layers"):
        value = getattr(args, flag, None)
        if value is not None:
            key = {"db": "database_url", "model": "model_path", "catalog": "catalog_path",
                   "gpu_layers": "n_gpu_layers"}[flag]
            overrides[key] = str(value)
    return load_settings(**overrides)


def cmd_app(args: argparse.Namespace) -> int:
    settings = _settings(args)
    sys.argv = ["app.py", "--host", settings.host, "--port", str(args.port or settings.port)]
    for item in args.set or []:
        sys.argv += ["--set", item]
    runpy.run_path(str(REPO_ROOT / "app.py"), run_name="__main__")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from conversation.session import Assistant

    settings = _settings(args)
    assistant = Assistant(settings)
    session = assistant.session(user_name=args.user)
    interactive = sys.stdin.isatty() and not args.json
    if interactive:
        print(session.greeting().text)
    for line in sys.stdin:
        message = line.rstrip("\n")
        if interactive and message.strip().lower() in {"quit", "exit"}:
            break
        reply = session.handle(message)
        if args.json:
            print(json.dumps(reply.to_json(), ensure_ascii=False), flush=True)
        else:
            print(reply.text)
            for card in reply.cards:
                print(f"  • {card.title} ({card.year or 'n/a'}) — {card.explanation}")
            if reply.chips:
                print("  [" + " | ".join(reply.chips[:8]) + "]")
            print(flush=True)
    return 0


def cmd_catalog(args: argparse.Namespace) -> int:
    from recommender.catalog import load_catalog

    catalog = load_catalog(_settings(args).catalog_path)
    item = catalog.get(args.item_id)
    if item is None:
        print(f"unknown item id {args.item_id!r} (ids look like ml2571 or rd123456)", file=sys.stderr)
        return 1
    print(json.dumps(item.to_json(), ensure_ascii=False, indent=2))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from recommender.artifacts import load_artifacts

    settings = _settings(args)
    if args.source:
        from recommender.catalog_import import convert_catalog

        mapping = dict(item.split("=", 1) for item in args.map or [])
        out = Path(args.out or settings.data_dir / "catalogs" / (Path(args.source).stem + ".jsonl.gz"))
        count = convert_catalog(Path(args.source), out, mapping)
        print(f"converted {count} items into {out}; use it with LINER_CATALOG_PATH={out}")
        settings = settings.with_overrides(catalog_path=out)
    artifacts = load_artifacts(settings, progress=True, rebuild=True)
    print(f"built embeddings, index and knowledge graph for {len(artifacts.catalog)} items "
          f"({artifacts.kg.graph.number_of_nodes()} graph nodes)")
    return 0


def cmd_build_assets(args: argparse.Namespace) -> int:
    from recommender.build_assets import build_assets

    counts = build_assets(Path(args.shared), Path(args.out))
    for key, value in counts.items():
        print(f"{key:>22}: {value}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from bench.cli import run_eval

    return run_eval(args, _settings(args))


def cmd_bench(args: argparse.Namespace) -> int:
    from bench.cli import run_bench

    return run_bench(args, _settings(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liner", description="Liner Notes: a recommender that explains itself.")
    parser.add_argument("--set", action="append", metavar="FIELD=VALUE",
                        help="override any setting (see recommender/settings.py), e.g. --set cards=3")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    app = sub.add_parser("app", help="start the browser app (http://127.0.0.1:7860)")
    app.add_argument("--port", type=int)
    app.set_defaults(func=cmd_app)

    chat = sub.add_parser("chat", help="chat in the terminal: one message per line on stdin")
    chat.add_argument("--user", help="a user name (the profile persists under it)")
    chat.add_argument("--db", help="database URL (default: SQLite under the data dir)")
    chat.add_argument("--json", action="store_true", help="print one JSON object per reply")
    chat.add_argument("--model", help="path to a GGUF model")
    chat.set_defaults(func=cmd_chat)

    catalog = sub.add_parser("catalog", help="look at the catalog")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True)
    get = catalog_sub.add_parser("get", help="print one item as JSON")
    get.add_argument("item_id")
    get.set_defaults(func=cmd_catalog)

    ingest = sub.add_parser("ingest", help="(re)build embeddings, FAISS index and knowledge graph for a catalog")
    ingest.add_argument("source", nargs="?", help="a CSV or JSONL catalog to convert first (else the current one)")
    ingest.add_argument("--map", action="append", metavar="FIELD=COLUMN",
                        help="column mapping for SOURCE, e.g. --map title=name --map year=release_year")
    ingest.add_argument("--out", help="where to write the converted catalog")
    ingest.add_argument("--catalog", help="catalog file to index (default: the shipped one)")
    ingest.set_defaults(func=cmd_ingest)

    build = sub.add_parser("build-assets", help="rebuild assets/ (catalog, co-occurrence) from ../shared/data")
    build.add_argument("--shared", default=str(REPO_ROOT.parent / "shared" / "data"))
    build.add_argument("--out", default=str(REPO_ROOT / "assets"))
    build.set_defaults(func=cmd_build_assets)

    add_parsers(sub, cmd_eval, cmd_bench)
    return parser


def _split_overrides(argv: list[str]) -> tuple[list[str], list[str]]:
    """Take every `--set FIELD=VALUE` out of argv, wherever it stands (before or after the sub-command)."""
    rest, sets = [], []
    items = iter(argv)
    for arg in items:
        if arg == "--set":
            sets.append(next(items, ""))
        elif arg.startswith("--set="):
            sets.append(arg.removeprefix("--set="))
        else:
            rest.append(arg)
    return rest, sets


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    rest, sets = _split_overrides(sys.argv[1:] if argv is None else list(argv))
    args = parser.parse_args(rest)
    bad = [item for item in sets if "=" not in item]
    if bad:
        parser.error(f"--set takes FIELD=VALUE, got {bad[0]!r}")
    args.set = sets
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except ValueError as exc:  # bad settings: say which one
        print(f"liner: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError) as exc:
        print(f"liner: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
