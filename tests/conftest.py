"""Shared fixtures: the real catalog, and the real artefacts (embeddings, FAISS, graph) built once per test run
into a temporary LINER_HOME so tests never touch a user's data; a fresh profile database on SQLite and on
PostgreSQL; the raw datasets beside the repository (skipped without them); a fake text model for logic tests, and
a hung LLM server."""

from __future__ import annotations

import os
import uuid
from collections import deque
from pathlib import Path
from typing import Iterator, Sequence

import pytest

from core.catalog import load_catalog
from core.settings import REPO_ROOT, load_settings

from local_services import FrozenServer

SHARED_DATA = Path(os.environ.get("LINER_TEST_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data")
"""The raw datasets `liner build-assets`, `liner eval` and `liner train-ranker` read by default (../shared/data
beside the repository); LINER_TEST_SHARED_DATA points the tests elsewhere, e.g. at an empty folder to check that
a clone without them still passes."""
SHARED_DATASETS = ("redial", "movielens_small", "tmdb_5000", "dbpedia_redial_kg", "film_people", "recent_films")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The raw datasets folder; the test is skipped when it (or one of its datasets) is not there."""
    missing = [name for name in SHARED_DATASETS if not (SHARED_DATA / name).is_dir()]
    if missing:
        pytest.skip(f"needs the raw datasets: {SHARED_DATA} lacks {', '.join(missing)} (../shared/data beside "
                    f"this clone; see README, `liner build-assets`; LINER_TEST_SHARED_DATA names another folder)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def catalog():
    return load_catalog(REPO_ROOT / "assets" / "catalog.jsonl.gz")


@pytest.fixture(scope="session")
def liner_home(tmp_path_factory) -> Path:
    """A data dir with the real artefacts built once; subprocess tests point LINER_HOME at it.

    LINER_TEST_HOME names a persistent folder instead, so that repeated local runs reuse the built artefacts
    (they are keyed by catalog fingerprint and model, so a changed catalog is rebuilt there)."""
    persistent = os.environ.get("LINER_TEST_HOME")
    if persistent:
        home = Path(persistent)
        home.mkdir(parents=True, exist_ok=True)
        return home
    return tmp_path_factory.mktemp("liner_home")


@pytest.fixture(scope="session")
def settings(liner_home, tmp_path_factory):
    database = tmp_path_factory.mktemp("db") / "test.sqlite"
    return load_settings(data_dir=str(liner_home), database_url=f"sqlite:///{database}")


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
    from store.profile_store import ProfileStore

    return Assistant(settings, engine=engine, store=ProfileStore(f"sqlite:///{tmp_path / 'profiles.sqlite'}", settings))


@pytest.fixture(scope="session")
def cli_env(liner_home, artifacts) -> dict[str, str]:
    """Environment for running `liner` in a subprocess against the prebuilt artefacts (tests copy it to change
    it: `dict(cli_env, LINER_X=...)`)."""
    env = dict(os.environ)
    env["LINER_HOME"] = str(liner_home)
    env["LINER_DATA_DIR"] = str(liner_home)
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty profile database: an SQLite file, and a new database on the PostgreSQL server named by
    LINER_TEST_POSTGRES_URL (`.ci/run` starts a throwaway one; `.ci/start_postgres` prints such a URL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'profiles.sqlite'}"
        return
    admin_url = os.environ.get("LINER_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("PostgreSQL tests need LINER_TEST_POSTGRES_URL (a server URL; `.ci/start_postgres` starts one)")
    yield from _postgres_database(admin_url)


def _postgres_database(admin_url: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"liner_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class FakeModel:
    """A TextModel for logic tests: ``complete`` returns queued outputs in order (then ``default``), every prompt
    is recorded, and scores are a deterministic function of the texts (no model is loaded)."""

    def __init__(self, outputs: Sequence[str] = (), default: str = "", model_id: str = "fake-model"):
        self.outputs = deque(outputs)
        self.default = default
        self.model_id = model_id
        self.prompts: list[str] = []
        self.scored: list[tuple[str, list[str]]] = []
        self.error: Exception | None = None
        """Set to an LLMError to make every call fail, as a dead server or a broken model would."""

    def queue(self, *outputs: str) -> None:
        self.outputs.extend(outputs)

    def complete(self, prompt: str, max_tokens: int, temperature: float = 0.0, stop: Sequence[str] = ("\n",),
                 seed: int | None = None) -> str:
        self.prompts.append(prompt)
        self._fail()
        return self.outputs.popleft() if self.outputs else self.default

    def score_continuations(self, prefix: str, continuations: Sequence[str]) -> list[float]:
        """Minus the share of a continuation's words that do not occur in the prefix (0 = every word does)."""
        self.scored.append((prefix, list(continuations)))
        self._fail()
        known = set(prefix.lower().split())
        return [-sum(w not in known for w in c.lower().split()) / max(1, len(c.split())) for c in continuations]

    def count_tokens(self, text: str) -> int:
        self._fail()
        return len(text) // 4 + 1

    def _fail(self) -> None:
        if self.error is not None:
            raise self.error


@pytest.fixture
def fake_model() -> FakeModel:
    """A fresh FakeModel: queue outputs with ``fake_model.queue(...)``, read ``fake_model.prompts`` afterwards."""
    return FakeModel()


@pytest.fixture
def frozen_server() -> Iterator[FrozenServer]:
    """A hung LLM server on loopback (``.url``) that counts the connections made to it (``.connections``)."""
    server = FrozenServer()
    yield server
    server.close()
