"""`liner`: the one command line (app, chat, catalog, ingest, build-assets, eval, bench).

Every command takes `--set FIELD=VALUE` (any field of core/settings.py, before or after the command name);
its flags are shortcuts for settings. Precedence: defaults < LINER_<FIELD> environment < --set < flags.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterator, TextIO

import click

from bench.redial import ALL, SPLITS
from core.errors import FixableError
from core.settings import REPO_ROOT, Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from conversation.reply import Reply

_OVERRIDES = "liner.overrides"
"""Key in click's shared context meta: the --set pairs seen so far, from the group and the command."""

_SETTING_NAMES = tuple(Settings.model_fields)


class _SettingOverride(click.ParamType):
    """FIELD=VALUE with FIELD a setting; the value is typed and checked by load_settings."""

    name = "FIELD=VALUE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, str]:
        if isinstance(value, tuple):
            return value
        name, sep, text = str(value).partition("=")
        name = name.strip()
        if not sep or not name:
            self.fail(f"expects FIELD=VALUE, got {value!r}", param, ctx)
        if name not in _SETTING_NAMES:
            self.fail(f"unknown setting {name!r}; known settings: {', '.join(sorted(_SETTING_NAMES))}", param, ctx)
        return name, text


def _remember_overrides(ctx: click.Context, _param: click.Parameter, pairs: tuple[tuple[str, str], ...]) -> None:
    ctx.meta.setdefault(_OVERRIDES, {}).update(pairs)


def _set_option(command: Callable) -> Callable:
    return click.option(
        "--set", "overrides", multiple=True, type=_SettingOverride(), expose_value=False,
        callback=_remember_overrides, help="override any setting (see core/settings.py), e.g. --set cards=3",
    )(command)


def _settings(**flags: Any) -> Settings:
    """Settings from defaults, environment, every --set given, then the command's own flags (None = not given)."""
    overrides = dict(click.get_current_context().meta.get(_OVERRIDES, {}))
    overrides.update({name: value for name, value in flags.items() if value is not None})
    return load_settings(**overrides)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@_set_option
@click.option("-v", "--verbose", is_flag=True, help="log progress (INFO) to stderr")
def cli(verbose: bool) -> None:
    """Liner Notes: a recommender that explains itself."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# --- the app and the chat -------------------------------------------------------------------------------------
@cli.command()
@_set_option
@click.option("--host", help="interface to listen on, e.g. 0.0.0.0 for the whole network (setting: host)")
@click.option("--port", type=int, help="port to listen on (setting: port)")
def app(host: str | None, port: int | None) -> int:
    """Start the browser app (http://127.0.0.1:7860; --host 0.0.0.0 serves the whole network)."""
    from app import serve

    serve(_settings(host=host, port=port))
    return 0


@cli.command()
@_set_option
@click.option("--user", help="a user name (the profile persists under it)")
@click.option("--db", "database_url", help="database URL (default: SQLite under the data dir)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object per reply")
@click.option("--model", "model_path", help="path to a GGUF model")
def chat(user: str | None, database_url: str | None, as_json: bool, model_path: str | None) -> int:
    """Chat in the terminal: one message per line on stdin."""
    from conversation.session import Assistant

    settings = _settings(database_url=database_url, model_path=model_path)
    session = Assistant(settings).session(user_name=user)
    interactive = sys.stdin.isatty() and not as_json
    if interactive:
        print(session.greeting().text)
    # A terminal that cannot show every character gets escapes in JSON (still valid) and "?" in text.
    ascii_only = (sys.stdout.encoding or "").lower().replace("-", "") != "utf8"
    if ascii_only and isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")
    for message, note in read_messages(sys.stdin.buffer, sys.stderr):
        if interactive and message.strip().lower() in {"quit", "exit"}:
            break
        reply = session.handle(message)
        if note:
            reply.notes.append(note)
        if as_json:
            print(json.dumps(reply.to_json(), ensure_ascii=ascii_only), flush=True)
        else:
            _print_reply(reply)
    return 0


def read_messages(stream: BinaryIO, warnings: TextIO) -> Iterator[tuple[str, str | None]]:
    """(message, note) per line of stream: bytes that are not UTF-8 are replaced (never a crash that loses the
    line or the ones before it), and the note, also written to `warnings`, says so."""
    for number, raw in enumerate(stream, 1):
        raw = raw.rstrip(b"\n").removesuffix(b"\r")
        try:
            yield raw.decode("utf-8"), None
        except UnicodeDecodeError:
            note = (f"line {number} of the input is not valid UTF-8: the characters that could not be read "
                    f"were replaced with \ufffd")
            print(f"liner: {note}", file=warnings, flush=True)
            yield raw.decode("utf-8", errors="replace"), note


def _print_reply(reply: Reply) -> None:
    print(reply.text)
    for card in reply.cards:
        print(f"  • {card.title} ({card.year or 'n/a'}) — {card.explanation}")
    if reply.chips:
        print("  [" + " | ".join(reply.chips[:8]) + "]")
    print(flush=True)


# --- the catalog and its artefacts ------------------------------------------------------------------------------
@cli.group()
def catalog() -> None:
    """Look at the catalog."""


@catalog.command("get")
@_set_option
@click.argument("item_id")
def catalog_get(item_id: str) -> int:
    """Print one item as JSON."""
    from core.catalog import load_catalog

    item = load_catalog(_settings().catalog_path).get(item_id)
    if item is None:
        print(f"unknown item id {item_id!r} (ids look like ml2571 or rd123456)", file=sys.stderr)
        return 1
    print(json.dumps(item.to_json(), ensure_ascii=False, indent=2))
    return 0


@cli.command()
@_set_option
@click.argument("source", required=False, type=click.Path(path_type=Path))
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN",
              help="column mapping for SOURCE, e.g. --map title=name --map year=release_year")
@click.option("--out", type=click.Path(path_type=Path), help="where to write the converted catalog")
@click.option("--catalog", "catalog_path", help="catalog file to index (default: the shipped one)")
def ingest(source: Path | None, mapping: tuple[str, ...], out: Path | None, catalog_path: str | None) -> int:
    """(Re)build embeddings, FAISS index and knowledge graph; with SOURCE, convert a CSV/JSONL catalog first."""
    from recommender.artifacts import load_artifacts

    settings = _settings(catalog_path=catalog_path)
    if source:
        from pipelines.catalog_import import convert_catalog

        columns = dict(_pair(item, "--map", "FIELD=COLUMN") for item in mapping)
        out = out or settings.data_dir / "catalogs" / (source.stem + ".jsonl.gz")
        count = convert_catalog(source, out, columns)
        print(f"converted {count} items into {out}; use it with LINER_CATALOG_PATH={out}")
        settings = settings.with_overrides(catalog_path=out)
    artifacts = load_artifacts(settings, progress=True, rebuild=True)
    search = "exact search" if artifacts.index.kind == "flat" else f"approximate {artifacts.index.kind} search"
    print(f"built embeddings, index and knowledge graph for {len(artifacts.catalog)} items "
          f"({search}, recorded in {artifacts.index.spec.file_name.replace('.faiss', '.json')}; "
          f"{artifacts.kg.number_of_nodes()} graph nodes)")
    return 0


def _pair(text: str, option: str, form: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise click.BadParameter(f"expects {form}, got {text!r}", param_hint=option)
    return key.strip(), value.strip()


@cli.command("build-assets")
@click.option("--shared", type=click.Path(path_type=Path), default=REPO_ROOT.parent / "shared" / "data",
              show_default=True, help="the source data (ReDial, MovieLens, TMDB, DBpedia)")
@click.option("--out", type=click.Path(path_type=Path), default=REPO_ROOT / "assets", show_default=True)
def build_assets(shared: Path, out: Path) -> int:
    """Rebuild assets/ (catalog, co-occurrence, item embeddings, merge report) from ../shared/data."""
    from pipelines.build_assets import build_assets as build

    for key, value in build(shared, out, _settings()).items():
        print(f"{key:>22}: {value}")
    return 0


# --- measuring ------------------------------------------------------------------------------------------------
@cli.group("eval")
def evaluate() -> None:
    """Measure recommendation accuracy or explanation quality."""


@evaluate.command("redial")
@_set_option
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--limit", type=int, help="only the first N dialogues (of the split)")
@click.option("--split", type=click.Choice(SPLITS), default=ALL, show_default=True,
              help="validation: new crowd workers after the time cut, signals only from before it; tune: the "
                   "dialogues before the cut; random-validation / random-tune: the old hash split (shares workers, "
                   "overstates); all: every dialogue")
@click.option("--json", "json_out", type=click.Path(path_type=Path), metavar="OUT",
              help="write the metrics and per-sample results here")
@click.option("--no-llm", is_flag=True, help="fusion alone: no LLM ranking")
@click.option("--ablation", is_flag=True,
              help="score fusion alone and fusion + LLM ranking on the same samples, side by side")
def eval_redial(file: Path, limit: int | None, split: str, json_out: Path | None, no_llm: bool,
                ablation: bool) -> int:
    """Score on ReDial dialogues (Recall/NDCG/MRR @1/10/50); movies_with_mentions.csv must sit beside FILE."""
    from bench.commands import eval_redial as run

    if ablation and no_llm:
        raise click.UsageError("--ablation compares with the LLM ranking: drop --no-llm")
    return run(_settings(), file, limit=limit, split=split, llm=not no_llm, ablation=ablation, json_out=json_out)


@evaluate.command("compare")
@click.argument("a", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("b", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--k", type=int, default=10, show_default=True)
def eval_compare(a: Path, b: Path, k: int) -> int:
    """Paired bootstrap of new-item recall@k between two `liner eval redial --json` reports (A minus B)."""
    from bench.redial import compare_reports

    result = compare_reports(json.loads(a.read_text(encoding="utf-8")), json.loads(b.read_text(encoding="utf-8")), k)
    print(f"{result['samples']} new-item samples in {result['dialogues']} dialogues: "
          f"R@{k} A {result[f'recall@{k}_a']:.4f}, B {result[f'recall@{k}_b']:.4f}; A - B {result['difference']:+.4f} "
          f"(95 % interval {result['low']:+.4f} to {result['high']:+.4f})")
    return 0


@evaluate.command("explain")
@_set_option
@click.option("--n", type=int, default=500, show_default=True, help="(profile, item) pairs to explain")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--redial", type=click.Path(path_type=Path), metavar="FILE",
              help="ReDial JSONL whose seekers' liked movies make the profiles "
                   "(default: ../shared/data/redial/train_data_subset.jsonl; synthetic if absent)")
@click.option("--json", "json_out", type=click.Path(path_type=Path), metavar="OUT",
              help="write the figures and every line here")
def eval_explain(n: int, seed: int, redial: Path | None, json_out: Path | None) -> int:
    """Grounding, fallback rate and specificity of explanations."""
    from bench.commands import eval_explain as run

    return run(_settings(), n=n, seed=seed, redial=redial, json_out=json_out)


@evaluate.command("coldstart")
@_set_option
@click.option("--n", type=int, default=150, show_default=True, help="films per group (recent, older)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "json_out", type=click.Path(path_type=Path), metavar="OUT",
              help="write the rates and every case here")
def eval_coldstart(n: int, seed: int, json_out: Path | None) -> int:
    """Item cold start: recent (2019+) vs older films in the top 10 after "I loved <a linked film>"."""
    from bench.coldstart import run

    return run(_settings(), n=n, seed=seed, json_out=json_out)


@evaluate.command("linker")
@_set_option
@click.option("--n", type=int, default=320, show_default=True, help="misspelled titles and names to link")
@click.option("--messages", type=int, default=1000, show_default=True,
              help="ReDial seeker messages with no @mention to check for false film links")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--redial", type=click.Path(path_type=Path), metavar="FILE",
              help="ReDial JSONL (default: ../shared/data/redial/train_data_subset.jsonl)")
@click.option("--json", "json_out", type=click.Path(path_type=Path), metavar="OUT",
              help="where to write the figures and every miss (default: linker_eval.json in the data dir)")
def eval_linker(n: int, messages: int, seed: int, redial: Path | None, json_out: Path | None) -> int:
    """Misspelled titles and names linked right (top-1), and films falsely found in messages that name none."""
    from bench.commands import DEFAULT_REDIAL
    from bench.linker_eval import run

    settings = _settings()
    return run(settings, n=n, messages=messages, seed=seed, redial=redial or DEFAULT_REDIAL,
               json_out=json_out or Path(settings.data_dir) / "linker_eval.json")


@cli.command()
@_set_option
@click.option("--json", "json_out", type=click.Path(path_type=Path), metavar="OUT", help="write the figures here")
@click.option("--turns", type=int, help="only the first N scripted turns")
@click.option("--first-start/--skip-first-start", default=False, show_default=True,
              help="also time a start that builds the artifacts from nothing (minutes on 2 cores)")
@click.option("--baseline/--no-baseline", default=False, show_default=True,
              help="also run the naive LLM baseline (the model asked for five films) on the same turns")
@click.option("--explain-paths", metavar="P1,P2",
              help="explanation paths to time on the same cards: some of free,rerank,grammar,template (default: "
                   "the configured explain_mode and template; free and grammar take minutes on CPU)")
@click.option("--load", "visitors", type=click.IntRange(min=1), metavar="N",
              help="instead: N simultaneous browser sessions over HTTP (time to cards and reasons, errors, "
                   "cross-talk); --set values go to the app it starts")
@click.option("--url", help="with --load: a running app (default: start one on a free loopback port)")
@click.option("--api", "through_api", is_flag=True,
              help="with --load: the visitors come through the JSON API (/api/v1) instead of the browser page")
@click.option("--api-key", envvar="LINER_BENCH_API_KEY", metavar="SECRET",
              help="with --load --api --url: one of that app's API keys (default: $LINER_BENCH_API_KEY)")
@click.option("--timeout", "timeout_s", type=float, default=120.0, show_default=True,
              help="with --load: seconds each request may take")
@click.option("--scale", "scale_items", type=int, metavar="N",
              help="instead: the vector index `liner ingest` would choose for N synthetic items (perturbed copies "
                   "of the real vectors): build time, memory, query p50/p95, recall@100 against exact search; "
                   "with --turns T, T scripted turns over a synthetic catalog of N items instead")
@click.option("--queries", type=int, default=500, show_default=True, help="with --scale: queries to time")
def bench(json_out: Path | None, turns: int | None, first_start: bool, baseline: bool, explain_paths: str | None,
          visitors: int | None, url: str | None, through_api: bool, api_key: str | None, timeout_s: float,
          scale_items: int | None, queries: int) -> int:
    """Per-stage latency and memory over scripted turns (a few minutes on 2 cores; the slow measurements are
    flags), a load test (--load N) or the index at a catalog size (--scale N)."""
    from bench import commands

    if scale_items is not None:
        return commands.bench_scale(_settings(), scale_items, queries=queries, turns=turns, json_out=json_out)
    if visitors is not None:
        overrides = dict(click.get_current_context().meta.get(_OVERRIDES, {}))
        return commands.bench_load(visitors, url=url, overrides=overrides, timeout_s=timeout_s, json_out=json_out,
                                   api=through_api, api_key=api_key)
    from bench.latency import EXPLAIN_PATHS

    paths = tuple(p.strip() for p in explain_paths.split(",") if p.strip()) if explain_paths else None
    unknown = sorted(set(paths or ()) - set(EXPLAIN_PATHS))
    if unknown:
        raise click.BadParameter(f"unknown path(s) {unknown}; choose from {','.join(EXPLAIN_PATHS)}",
                                 param_hint="--explain-paths")
    return commands.bench_latency(_settings(), turns=turns, first_start=first_start, baseline=baseline,
                                  explain_paths=paths, json_out=json_out)


@cli.command("train-ranker")
@_set_option
@click.argument("redial", type=click.Path(path_type=Path), required=False)
@click.option("--out", type=click.Path(path_type=Path), help="where to write the model (default: setting ranker_path)")
@click.option("--limit", type=int, help="only the first N tune dialogues")
@click.option("--cv", "cv_rounds", metavar="R1,R2", help="first print the time-ordered cross-validation of these "
              "numbers of boosting rounds (held-out new-item recall@10)")
def train_ranker(redial: Path | None, out: Path | None, limit: int | None, cv_rounds: str | None) -> int:
    """Fit the learned ranker on the tune split of ReDial train (default: ../shared/data/redial)."""
    from bench.commands import DEFAULT_REDIAL
    from bench.commands import train_ranker as train

    rounds = tuple(int(r) for r in cv_rounds.split(",") if r.strip()) if cv_rounds else ()
    return train(_settings(), redial or DEFAULT_REDIAL, out=out, limit=limit, cv_rounds=rounds)


# --- entry point ----------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit status is returned: 0 ok, 2 a bad setting or usage, 1 a failure (one line for a
    fault to fix outside the code, the whole traceback for a bug)."""
    try:
        result = cli.main(args=argv, prog_name="liner", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("liner: interrupted", file=sys.stderr)
        return 130
    except SettingsError as exc:  # the message names the setting
        print(f"liner: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the entry point: every error ends here, one way or the other
        if isinstance(exc, (FixableError, OSError)):  # a file, setting or service to fix: the message says how
            print(f"liner: {exc}", file=sys.stderr)
        else:
            print("liner: unexpected error (a bug; the traceback below says where):", file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
