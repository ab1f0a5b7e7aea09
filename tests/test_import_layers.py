"""The package layers hold: core <- knowledge_graph <- recommender <- conversation <- app / bench <- cli, as the
import-linter contracts in pyproject.toml say. `lint-imports` runs here so that the test command enforces them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from recommender.settings import REPO_ROOT

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
    """The same contracts on a copy of the code in which the core imports the recommender and the recommender
    imports the command line must fail, naming both imports."""
    for name in PACKAGES:
        shutil.copytree(REPO_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in (*MODULES, "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    (tmp_path / "core" / "upward.py").write_text("from recommender.settings import Settings  # wrong way\n")
    (tmp_path / "recommender" / "upward.py").write_text("from cli import main  # wrong way\n")
    proc = _lint_imports(tmp_path)
    assert proc.returncode != 0
    assert "core.upward -> recommender.settings" in proc.stdout
    assert "recommender.upward -> cli" in proc.stdout
