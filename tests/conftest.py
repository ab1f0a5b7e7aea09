"""Shared fixtures: the real catalog, and the real artefacts (embeddings, FAISS, graph) built once per test run
into a temporary LINER_HOME so tests never touch a user's data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recommender.catalog import load_catalog
from recommender.settings import REPO_ROOT, load_settings


@pytest.fixture(scope="session")
def catalog():
    return load_catalog(REPO_ROOT / "assets" / "catalog.jsonl.gz")


@pytest.fixture(scope="session")
def liner_home(tmp_path_factory) -> Path:
    """A data dir with the real artefacts built once; subprocess tests point LINER_HOME at it."""
    home = tmp_path_factory.mktemp("liner_home")
    return home


@pytest.fixture(scope="session")
def settings(liner_home):
    return load_settings(data_dir=str(liner_home), database_url=f"sqlite:///{liner_home / 'test.sqlite'}")


@pytest.fixture(scope="session")
def artifacts(settings):
    from recommender.artifacts import load_artifacts

    return load_artifacts(settings, progress=False)


@pytest.fixture(scope="session")
def engine(settings, artifacts):
    from recommender.engine import RecommenderEngine

    return RecommenderEngine(settings, artifacts=artifacts)


@pytest.fixture
def assistant(settings, engine, tmp_path):
    """A fresh profile store per test, over the shared engine."""
    from conversation.session import Assistant
    from recommender.store import ProfileStore

    return Assistant(settings, engine=engine, store=ProfileStore(f"sqlite:///{tmp_path / 'profiles.sqlite'}", settings))


@pytest.fixture
def cli_env(liner_home, artifacts) -> dict[str, str]:
    """Environment for running `liner` in a subprocess against the prebuilt artefacts."""
    env = dict(os.environ)
    env["LINER_HOME"] = str(liner_home)
    env["LINER_DATA_DIR"] = str(liner_home)
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env
