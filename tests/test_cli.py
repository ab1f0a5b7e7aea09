"""The one command line: settings from --set and flags, every command present, `liner app --host`, and a chat
that survives bytes that are not UTF-8."""

from __future__ import annotations

import importlib
import pkgutil
import io
import json
import subprocess
import sys
import tomllib

import pytest

import cli
from core.errors import FixableError
from core.settings import REPO_ROOT, SettingsError

COMMANDS = {"app", "chat", "catalog", "ingest", "build-assets", "eval", "bench", "train-ranker"}


def test_console_script_and_every_command_are_there():
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"liner": "cli:main"}
    assert COMMANDS <= set(cli.cli.commands)
    assert set(cli.cli.commands["eval"].commands) >= {"redial", "explain"}
    proc = subprocess.run([sys.executable, "-m", "cli", "--help"], capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=120)
    assert proc.returncode == 0 and all(name in proc.stdout for name in COMMANDS)


def test_set_goes_before_or_after_the_command_and_flags_win(monkeypatch, capsys, tmp_path):
    seen = []
    monkeypatch.setattr(cli, "load_settings", lambda **overrides: seen.append(overrides) or _Stop())
    for argv in (["--set", "cards=3", "catalog", "get", "x"], ["catalog", "get", "x", "--set", "cards=3"],
                 ["--set", "cards=2", "catalog", "get", "x", "--set", "cards=3"]):
        with pytest.raises(_Stopped):
            _parse_and_run(argv)
    assert seen == [{"cards": "3"}] * 3
    seen.clear()
    with pytest.raises(_Stopped):
        _parse_and_run(["--set", "database_url=sqlite:///a", "chat", "--db", "sqlite:///b", "--set", "explain=no"])
    assert seen == [{"database_url": "sqlite:///b", "explain": "no"}]


def _parse_and_run(argv: list[str]) -> None:
    """The click command line without `main`'s error reporting, so that what a command raises reaches the test."""
    cli.cli.main(args=argv, prog_name="liner", standalone_mode=False)


class _Stopped(Exception):
    pass


class _Stop:
    """Settings that end the command as soon as it reads them: these tests only check what reached them."""

    def __getattr__(self, name):
        raise _Stopped(name)


@pytest.mark.parametrize("argv, message", [
    (["--set", "cards", "catalog", "get", "x"], "expects FIELD=VALUE"),
    (["--set", "no_such_thing=1", "catalog", "get", "x"], "unknown setting 'no_such_thing'"),
    (["--set", "cards=many", "catalog", "get", "x"], "setting cards: input should be a valid integer"),
    (["catalog", "get"], "Missing argument"),
    (["ingest", "some.csv", "--map", "title"], "expects FIELD=COLUMN"),
    (["bench", "--load", "0"], "Invalid value for '--load'"),
    (["eval", "redial", "x.jsonl", "--split", "test"], "'test' is not one of"),
    (["eval", "redial", "x.jsonl", "--ablation", "--no-llm"], "drop --no-llm"),
])
def test_bad_settings_and_usage_exit_2_with_one_line(argv, message, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("LINER_DATA_DIR", str(tmp_path))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def _fail_with(monkeypatch, error: Exception) -> None:
    """`liner catalog get` raises `error` where it loads the catalog."""
    import core.catalog

    def load_catalog(_path):
        raise error

    monkeypatch.setattr(core.catalog, "load_catalog", load_catalog)


@pytest.mark.parametrize("error", [ValueError("not a setting at all"), KeyError("missing key"),
                                   TypeError("wrong type")])
def test_a_bug_exits_1_with_its_traceback(error, monkeypatch, capsys):
    _fail_with(monkeypatch, error)
    assert cli.main(["catalog", "get", "ml2571"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and f"{type(error).__name__}: {error}" in err and "in load_catalog" in err, err


def test_a_fault_to_fix_outside_the_code_exits_1_with_one_line(monkeypatch, capsys):
    from llm.text_model import LLMError
    from store.profile_store import StoreError, UnknownUserError

    for error in (StoreError("the profile database is full: free some space"), UnknownUserError("nobody"),
                  LLMError("the model file is missing: set LINER_MODEL_PATH"),
                  FileNotFoundError(2, "No such file or directory", "/nowhere/catalog.jsonl")):
        _fail_with(monkeypatch, error)
        assert cli.main(["catalog", "get", "ml2571"]) == 1
        assert capsys.readouterr().err == f"liner: {error}\n"


def test_every_error_of_the_project_for_a_person_to_fix_is_one_kind():
    """The errors whose messages name a file, setting or service to fix derive from FixableError, so that the
    command line shows them in one line; SettingsError (exit 2) is the one other kind."""
    errors = []
    for package in ("core", "llm", "store", "knowledge_graph", "explain", "recommender", "conversation",
                    "pipelines", "bench"):
        for module in pkgutil.iter_modules([str(REPO_ROOT / package)]):
            loaded = importlib.import_module(f"{package}.{module.name}")
            errors += [value for name, value in vars(loaded).items() if name.endswith("Error")
                       and isinstance(value, type) and issubclass(value, Exception)
                       and value.__module__ == loaded.__name__]
    assert len(errors) >= 12
    assert all(issubclass(error, FixableError) or error is SettingsError for error in errors), errors


def test_catalog_get_and_a_missing_catalog(capsys, tmp_path):
    assert cli.main(["catalog", "get", "ml2571"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "The Matrix"
    assert cli.main(["catalog", "get", "nope"]) == 1
    assert "unknown item id 'nope'" in capsys.readouterr().err
    missing = tmp_path / "nowhere.jsonl.gz"
    assert cli.main(["catalog", "get", "ml2571", "--set", f"catalog_path={missing}"]) == 1
    assert str(missing) in capsys.readouterr().err


def test_app_serves_on_the_host_and_port_asked_for(monkeypatch):
    import app

    served = []
    monkeypatch.setattr(app, "serve", lambda settings: served.append((settings.host, settings.port)))
    monkeypatch.delenv("LINER_HOST", raising=False)
    assert cli.main(["--set", "port=9000", "app", "--host", "0.0.0.0"]) == 0
    assert cli.main(["--set", "port=9000", "app", "--port", "8123"]) == 0
    assert served == [("0.0.0.0", 9000), ("127.0.0.1", 8123)]


def test_messages_that_are_not_utf8_are_kept_and_reported():
    stream = io.BytesIO("I loved Amélie\n".encode() + b"caf\xe9 and \xff\xfe films\r\n" + b"last line")
    warnings = io.StringIO()
    messages = list(cli.read_messages(stream, warnings))
    assert [m for m, _ in messages] == ["I loved Amélie", "caf\ufffd and \ufffd\ufffd films", "last line"]
    assert messages[0][1] is None and messages[2][1] is None
    assert "line 2" in messages[1][1] and "not valid UTF-8" in warnings.getvalue()


def test_chat_under_a_strict_utf8_locale_survives_invalid_bytes(cli_env, tmp_path):
    """The bytes go through a real `liner chat --json` process whose locale decodes stdin strictly."""
    env = dict(cli_env, LC_ALL="C.UTF-8", LANG="C.UTF-8", PYTHONUTF8="0")
    env.pop("PYTHONIOENCODING", None)
    lines = [b"I loved The Matrix", b"and \xff\xfe Alien \xe9", b"recommend something"]
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "--set", "explain=false", "chat", "--json", "--user", "u8",
         "--db", f"sqlite:///{tmp_path / 'chat.sqlite'}"],
        input=b"\n".join(lines) + b"\n", capture_output=True, env=env, cwd=REPO_ROOT, timeout=600,
    )
    stderr = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0 and "Traceback" not in stderr, stderr[-3000:]
    replies = [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]
    assert len(replies) == 3
    assert set(replies[0]) >= {"action", "text", "cards", "profile", "notes"}
    assert any("Matrix" in entry["label"] for entry in replies[0]["profile"]["liked"])
    assert any("not valid UTF-8" in note for note in replies[1]["notes"]) and "line 2" in stderr
    assert replies[2]["action"] == "recommend" and replies[2]["cards"]
