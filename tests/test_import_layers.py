"""The package layers hold: core <- llm | store | knowledge_graph <- explain <- recommender <- conversation <-
pipelines <- webui / bench <- app / cli, as the import-linter contracts in pyproject.toml say. `lint-imports` runs here so that the test command enforces them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from core.settings import REPO_ROOT

PACKAGES = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]
MODULES = ("app.py", "cli.py")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    executable = Path(sys.executable).parent / "lint-imports"
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "importlinter.cli"]
    env = {"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"}
    return subprocess.run(command + ["--no-cache"], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_the_layers_hold():
    proc = _lint_imports(REPO_ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path):
    """The same contracts on a copy of the code with four wrong-way imports must fail, naming each: the core
    importing the recommender, explanations importing candidate retrieval, the web app importing an offline
    builder, and the recommender importing the command line."""
    for name in PACKAGES:
        shutil.copytree(REPO_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in (*MODULES, "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    wrong_way = {"core": "recommender.engine", "explain": "recommender.candidates", "webui": "pipelines.build_assets",
                 "recommender": "cli"}
    for package, target in wrong_way.items():
        (tmp_path / package / "upward.py").write_text(f"import {target}  # wrong way\n")
    proc = _lint_imports(tmp_path)
    assert proc.returncode != 0
    for package, target in wrong_way.items():
        assert f"{package}.upward -> {target}" in proc.stdout
