"""The profile store on real SQLite files and a real PostgreSQL server (LINER_TEST_POSTGRES_URL; see
tests/conftest.py): migrations, turns, decay, feedback, atomicity, restarts, privacy, identity, housekeeping."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Column, Integer, MetaData, Table, event, inspect, text
from sqlalchemy.engine import Connection

from core.preferences import Preference, ProfileUpdate
from core.settings import REPO_ROOT, Settings
from store.migrations import MIGRATIONS, Migration, applied_migrations, migrate
from store.profile_store import ProfileStore, Purged, ShownCard, StoreError, UnknownUserError
from store.schema import SCHEMA

VILLENEUVE = Preference("person:Denis Villeneuve", "person", "Denis Villeneuve", 1)
SCIFI = Preference("genre:Science Fiction", "genre", "Science Fiction", 1)
HORROR_DISLIKE = Preference("genre:Horror", "genre", "Horror", -1)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, preference_decay=0.9, preference_min_weight=0.05)


@pytest.fixture
def db_url(database_url: str) -> str:
    """Every test using it runs twice: on an SQLite file and on a fresh PostgreSQL database."""
    return database_url


@pytest.fixture
def store(db_url: str, settings: Settings) -> Iterator[ProfileStore]:
    store = ProfileStore(db_url, settings)
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path, settings: Settings) -> ProfileStore:
    return ProfileStore(f"sqlite:///{tmp_path / 'profiles.sqlite'}", settings)


def _turn(store: ProfileStore, user: str, session: str, message: str = "hi", *,
          preferences: list[Preference] | None = None, seen: list[str] | None = None,
          novelty: str | None = None, cards: list[ShownCard] | None = None) -> int:
    update = ProfileUpdate(tuple(preferences or ()), tuple(seen or ()), novelty)
    return store.record_turn(user, session, message, update, "reply", "recommend", cards or [])


def _weights(store: ProfileStore, user: str) -> dict[str, float]:
    return {e.node_id: round(e.weight * e.polarity, 6) for e in store.profile(user).entries}


def _turns(store: ProfileStore, user: str) -> list[dict[str, Any]]:
    """The user's stored turns (rows of the "turns" table), oldest first."""
    return store.export(user)["turns"]


# --- migrations -------------------------------------------------------------------------------------------
def test_migrations_applied_once_and_recorded(db_url: str, settings: Settings) -> None:
    first = ProfileStore(db_url, settings)
    recorded = applied_migrations(first.engine)
    assert [name for name, _ in recorded] == [m.name for m in MIGRATIONS]
    assert all(applied_at is not None for _, applied_at in recorded)
    first.close()

    reopened = ProfileStore(db_url, settings)
    assert applied_migrations(reopened.engine) == recorded  # nothing re-applied: same rows, same times
    with reopened.engine.begin() as connection:
        assert migrate(connection) == []


def test_new_migrations_run_in_order_and_only_once(store: ProfileStore) -> None:
    calls: list[str] = []

    def m900_add_table(connection: Connection) -> None:
        calls.append("m900")
        Table("ratings", MetaData(), Column("id", Integer, primary_key=True)).create(connection)

    def m901_add_column(connection: Connection) -> None:  # needs m900's table: fails if run out of order
        calls.append("m901")
        connection.execute(text("ALTER TABLE ratings ADD COLUMN stars INTEGER"))

    steps = [*MIGRATIONS, Migration("m900_add_table", m900_add_table), Migration("m901_add_column", m901_add_column)]
    with store.engine.begin() as connection:
        assert migrate(connection, steps) == ["m900_add_table", "m901_add_column"]
    with store.engine.begin() as connection:
        assert migrate(connection, steps) == []
    assert calls == ["m900", "m901"]
    assert "stars" in {c["name"] for c in inspect(store.engine).get_columns("ratings")}
    assert [name for name, _ in applied_migrations(store.engine)][-2:] == ["m900_add_table", "m901_add_column"]


def test_failed_migration_is_not_recorded_and_leaves_no_trace(store: ProfileStore) -> None:
    def m950_broken(connection: Connection) -> None:
        Table("half_done", MetaData(), Column("id", Integer, primary_key=True)).create(connection)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        with store.engine.begin() as connection:
            migrate(connection, [*MIGRATIONS, Migration("m950_broken", m950_broken)])
    assert "m950_broken" not in [name for name, _ in applied_migrations(store.engine)]
    assert "half_done" not in inspect(store.engine).get_table_names()  # the DDL rolled back too


def test_migrated_schema_matches_the_store_models(store: ProfileStore) -> None:
    inspector = inspect(store.engine)
    assert set(inspector.get_table_names()) == set(SCHEMA.tables) | {"migrations"}
    for name, table in SCHEMA.tables.items():
        migrated = {c["name"]: c["nullable"] for c in inspector.get_columns(name)}
        modelled = {c.name: c.nullable for c in table.columns}
        assert migrated == modelled, name
        assert inspector.get_pk_constraint(name)["constrained_columns"] == [c.name for c in table.primary_key]


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_store: ProfileStore) -> None:
    with sqlite_store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


# --- users and turns ------------------------------------------------------------------------------------------
def test_named_users_are_found_again_and_anonymous_users_are_new(store: ProfileStore) -> None:
    alice = store.ensure_user("alice")
    assert store.ensure_user("alice") == alice
    assert store.ensure_user("  alice  ") == alice
    anonymous = {store.ensure_user(), store.ensure_user(None), store.ensure_user("")}
    assert len(anonymous) == 3 and alice not in anonymous


def test_turn_with_preferences_and_seen_shows_in_profile(store: ProfileStore) -> None:
    user = store.ensure_user()
    session = store.start_session(user)
    turn_id = _turn(store, user, session, "I loved Arrival, not horror; seen Dune", preferences=[
        Preference("item:arrival", "item", "Arrival (2016)", 1), VILLENEUVE, HORROR_DISLIKE,
    ], seen=["dune"], novelty="new", cards=[ShownCard("sicario", 0, "Another Villeneuve", True, "llm")])

    profile = store.profile(user)
    assert _weights(store, user) == {"item:arrival": 1.0, "person:Denis Villeneuve": 1.0, "genre:Horror": -1.0}
    assert [e.label for e in profile.liked()] == ["Arrival (2016)", "Denis Villeneuve"]
    assert [e.label for e in profile.disliked("genre")] == ["Horror"]
    assert profile.seen == {"dune"}
    assert profile.rejected == set()
    assert profile.shown == ["sicario"]
    assert profile.turns == 1 and profile.novelty == "new"
    [record] = _turns(store, user)
    assert (record["id"], record["index"], record["action"]) == (turn_id, 0, "recommend")


def test_preferences_decay_each_turn_and_fade_out(store: ProfileStore, db_url: str, settings: Settings) -> None:
    user = store.ensure_user()
    session = store.start_session(user)
    _turn(store, user, session, preferences=[VILLENEUVE])
    _turn(store, user, session, preferences=[SCIFI])
    _turn(store, user, session)
    assert _weights(store, user) == {"genre:Science Fiction": 0.9, "person:Denis Villeneuve": 0.81}
    assert [e.node_id for e in store.profile(user).entries] == ["genre:Science Fiction", "person:Denis Villeneuve"]

    fast = ProfileStore(db_url, Settings(data_dir=settings.data_dir, preference_decay=0.5,
                                         preference_min_weight=0.05))
    for _ in range(4):  # 0.9 * 0.5**4 = 0.056 stays; 0.81 * 0.5**4 = 0.0506 stays; one more turn drops both
        _turn(fast, user, session)
    assert len(fast.profile(user).entries) == 2
    _turn(fast, user, session)
    assert fast.profile(user).entries == []
    assert len(fast.export(user)["preferences"]) == 2  # faded, not deleted: still in the user's export


def test_repeated_node_refreshes_and_opposite_polarity_flips(store: ProfileStore) -> None:
    user = store.ensure_user()
    session = store.start_session(user)
    _turn(store, user, session, preferences=[VILLENEUVE, SCIFI])
    _turn(store, user, session)
    _turn(store, user, session, preferences=[VILLENEUVE])
    assert _weights(store, user) == {"person:Denis Villeneuve": 1.0, "genre:Science Fiction": 0.81}

    _turn(store, user, session, preferences=[Preference("genre:Science Fiction", "genre", "Science Fiction", -1)])
    weights = _weights(store, user)
    assert weights["genre:Science Fiction"] == -1.0
    assert weights["person:Denis Villeneuve"] == 0.9
    assert [e.node_id for e in store.profile(user).disliked()] == ["genre:Science Fiction"]


def test_feedback_like_dislike_seen(store: ProfileStore) -> None:
    user = store.ensure_user()
    session = store.start_session(user)
    _turn(store, user, session, cards=[ShownCard("arrival", 0), ShownCard("cats", 1), ShownCard("dune", 2)])
    store.record_feedback(user, "arrival", "like", label="Arrival (2016)")
    store.record_feedback(user, "cats", "dislike", label="Cats (2019)")
    store.record_feedback(user, "dune", "seen")
    store.record_feedback(user, "dune", "why")

    profile = store.profile(user)
    assert _weights(store, user) == {"item:arrival": 1.0, "item:cats": -1.0}
    assert profile.liked()[0].label == "Arrival (2016)"
    assert profile.rejected == {"cats"}
    assert profile.seen == {"dune"}

    store.record_feedback(user, "cats", "like", label="Cats (2019)")  # changed their mind
    assert store.profile(user).rejected == set()
    assert _weights(store, user)["item:cats"] == 1.0
    with pytest.raises(ValueError, match="like, dislike"):
        store.record_feedback(user, "cats", "love")


def test_failing_turn_writes_nothing(store: ProfileStore) -> None:
    user = store.ensure_user()
    session = store.start_session(user)
    _turn(store, user, session, "first", preferences=[VILLENEUVE], seen=["dune"], cards=[ShownCard("arrival", 0)])
    before = store.export(user)

    bad_card = ShownCard(None, 0)  # type: ignore[arg-type]  # item_id NOT NULL fails after the other inserts
    with pytest.raises(StoreError, match="refused a write"):
        _turn(store, user, session, "second", preferences=[SCIFI, HORROR_DISLIKE], seen=["alien"],
              novelty="familiar", cards=[ShownCard("contact", 0), bad_card])

    after = store.export(user)
    before.pop("exported_at"), after.pop("exported_at")
    assert after == before
    assert _weights(store, user) == {"person:Denis Villeneuve": 1.0}  # not decayed either
    assert [t["message"] for t in _turns(store, user)] == ["first"]
    # and the store still works afterwards
    _turn(store, user, session, "third", preferences=[SCIFI])
    assert [t["index"] for t in _turns(store, user)] == [0, 1]


def test_profile_survives_a_restart(db_url: str, settings: Settings) -> None:
    store = ProfileStore(db_url, settings)
    user = store.ensure_user("robin")
    session = store.start_session(user)
    _turn(store, user, session, preferences=[VILLENEUVE], seen=["dune"], novelty="familiar",
          cards=[ShownCard("arrival", 0)])
    store.record_feedback(user, "cats", "dislike", label="Cats (2019)")
    expected = store.profile(user)
    store.close()

    restarted = ProfileStore(db_url, settings)
    assert restarted.ensure_user("robin") == user
    assert restarted.profile(user) == expected
    assert [t["message"] for t in _turns(restarted, user)] == ["hi"]


def test_sql_looking_message_is_stored_verbatim(store: ProfileStore) -> None:
    user = store.ensure_user("Robert'); DROP TABLE users;--")
    session = store.start_session(user)
    message = "Robert'); DROP TABLE users;-- and 1=1; SELECT * FROM turns; \"quoted\" `ticks` %s :name ?"
    _turn(store, user, session, message, preferences=[Preference("keyword:x'); DELETE FROM preferences;--",
                                                                 "keyword", "x'); DELETE FROM preferences;--", 1)])
    assert _turns(store, user)[-1]["message"] == message
    assert store.ensure_user("Robert'); DROP TABLE users;--") == user
    assert _weights(store, user) == {"keyword:x'); DELETE FROM preferences;--": 1.0}
    assert set(SCHEMA.tables) <= set(inspect(store.engine).get_table_names())


def test_message_is_cleaned_and_truncated(store: ProfileStore) -> None:
    user = store.ensure_user()
    session = store.start_session(user)
    _turn(store, user, session, "a\x00b\x07c\r\nd\te\ud800f\x9b")
    assert _turns(store, user)[-1]["message"] == "abc\nd\tef"
    _turn(store, user, session, "x" * (store.settings.max_message_chars + 500))
    assert len(_turns(store, user)[-1]["message"]) == store.settings.max_message_chars


def test_session_of_another_user_is_refused(store: ProfileStore) -> None:
    alice, bob = store.ensure_user("alice"), store.ensure_user("bob")
    with pytest.raises(StoreError, match="does not belong"):
        _turn(store, bob, store.start_session(alice))
    with pytest.raises(StoreError, match="unknown user"):
        store.start_session("nobody")


# --- profile control and privacy -----------------------------------------------------------------------------
def test_remove_entry_forgets_one_belief(store: ProfileStore) -> None:
    user = store.ensure_user()
    session = store.start_session(user)
    _turn(store, user, session, preferences=[VILLENEUVE, SCIFI])
    store.record_feedback(user, "cats", "dislike", label="Cats (2019)")
    store.remove_entry(user, "person:Denis Villeneuve")
    store.remove_entry(user, "item:cats")
    profile = store.profile(user)
    assert [e.node_id for e in profile.entries] == ["genre:Science Fiction"]
    assert profile.rejected == set()  # removing the disliked title lets it be recommended again
    assert store.export(user)["feedback"][-1]["kind"] == "remove"


def test_reset_starts_over_but_keeps_the_user(store: ProfileStore) -> None:
    user = store.ensure_user("sam")
    session = store.start_session(user)
    _turn(store, user, session, preferences=[VILLENEUVE], seen=["dune"], novelty="new",
          cards=[ShownCard("arrival", 0)])
    store.record_feedback(user, "cats", "dislike")
    store.reset(user)
    profile = store.profile(user)
    assert (profile.entries, profile.seen, profile.rejected, profile.shown, profile.novelty) == (
        [], set(), set(), [], None)
    assert profile.is_empty
    assert store.ensure_user("sam") == user
    _turn(store, user, session, preferences=[SCIFI])  # the same session carries on
    assert _weights(store, user) == {"genre:Science Fiction": 1.0}


def test_export_holds_everything_and_is_json(store: ProfileStore) -> None:
    user = store.ensure_user("kim")
    session = store.start_session(user)
    turn_id = _turn(store, user, session, "loved Arrival", preferences=[VILLENEUVE], seen=["dune"],
                    cards=[ShownCard("sicario", 0, "Another Villeneuve thriller", True, "llm")])
    store.record_feedback(user, "sicario", "like", label="Sicario (2015)")
    data = json.loads(json.dumps(store.export(user)))

    assert data["user"]["name"] == "kim"
    assert [s["id"] for s in data["sessions"]] == [session]
    assert [(t["id"], t["message"]) for t in data["turns"]] == [(turn_id, "loved Arrival")]
    assert {p["node_id"] for p in data["preferences"]} == {"person:Denis Villeneuve", "item:sicario"}
    assert [(f["item_id"], f["kind"]) for f in data["feedback"]] == [("dune", "seen"), ("sicario", "like")]
    assert data["shown"][0] | {"id": 0} == {"id": 0, "user_id": user, "turn_id": turn_id, "item_id": "sicario",
                                             "rank": 0, "explanation": "Another Villeneuve thriller",
                                             "grounded": True, "source": "llm"}


def test_forget_deletes_every_row_of_the_user_only(store: ProfileStore) -> None:
    gone, kept = store.ensure_user("gone"), store.ensure_user("kept")
    for user in (gone, kept):
        session = store.start_session(user)
        _turn(store, user, session, preferences=[VILLENEUVE], seen=["dune"], cards=[ShownCard("arrival", 0)])
        store.record_feedback(user, "cats", "dislike")
    kept_before = store.export(kept)

    assert store.forget(gone) == 8  # shown, 2 feedback, 2 preferences, turn, session and the user
    with store.engine.connect() as connection:
        for table in SCHEMA.tables.values():
            key = table.c.id if table.name == "users" else table.c.user_id
            assert connection.execute(table.select().where(key == gone)).first() is None, table.name
    with pytest.raises(UnknownUserError, match="unknown user"):
        store.export(gone)
    assert store.profile(gone).is_empty
    kept_after = store.export(kept)
    kept_before.pop("exported_at"), kept_after.pop("exported_at")
    assert kept_after == kept_before


def test_two_users_are_isolated(store: ProfileStore) -> None:
    ann, ben = store.ensure_user("ann"), store.ensure_user("ben")
    ann_session, ben_session = store.start_session(ann), store.start_session(ben)
    _turn(store, ann, ann_session, "ann's taste", preferences=[VILLENEUVE], seen=["dune"], novelty="new",
          cards=[ShownCard("arrival", 0)])
    _turn(store, ben, ben_session, "ben's taste", preferences=[HORROR_DISLIKE])
    _turn(store, ben, ben_session)
    store.record_feedback(ben, "cats", "dislike")

    assert _weights(store, ann) == {"person:Denis Villeneuve": 1.0}  # ben's turns did not decay ann's tastes
    assert _weights(store, ben) == {"item:cats": -1.0, "genre:Horror": -0.9}
    ann_profile, ben_profile = store.profile(ann), store.profile(ben)
    assert (ann_profile.seen, ann_profile.rejected, ann_profile.shown, ann_profile.novelty) == (
        {"dune"}, set(), ["arrival"], "new")
    assert (ben_profile.seen, ben_profile.rejected, ben_profile.shown, ben_profile.novelty) == (
        set(), {"cats"}, [], None)
    assert [t["message"] for t in _turns(store, ann)] == ["ann's taste"]
    assert ann_profile.turns == 1 and ben_profile.turns == 2


def test_shown_is_recent_unique_and_bounded(db_url: str, tmp_path: Path) -> None:
    store = ProfileStore(db_url, Settings(data_dir=tmp_path, shown_memory=4))
    user = store.ensure_user()
    session = store.start_session(user)
    turn_id = _turn(store, user, session, cards=[ShownCard("a", 0), ShownCard("b", 1)])
    store.record_shown(user, turn_id, [ShownCard("c", 0), ShownCard("a", 1)])
    _turn(store, user, session, cards=[ShownCard("d", 0), ShownCard("e", 1)])
    assert store.profile(user).shown == ["c", "a", "d", "e"]
    with pytest.raises(StoreError, match="does not belong"):
        store.record_shown(store.ensure_user(), turn_id, [])


# --- robustness ---------------------------------------------------------------------------------------------
def test_corrupt_file_raises_store_error_naming_it(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "broken.sqlite"
    path.write_bytes(b"this is not an sqlite database " * 200)
    with pytest.raises(StoreError) as caught:
        ProfileStore(f"sqlite:///{path}", settings)
    message = str(caught.value)
    assert str(path) in message and "move it aside" in message and "LINER_DATABASE_URL" in message


def test_threads_and_a_second_process_store_share_one_file(db_url: str, settings: Settings) -> None:
    stores = [ProfileStore(db_url, settings), ProfileStore(db_url, settings)]  # like app + CLI processes
    users = [stores[0].ensure_user(f"user{i}") for i in range(4)]
    errors: list[BaseException] = []

    def chat(index: int, user: str) -> None:
        store = stores[index % 2]
        try:
            session = store.start_session(user)
            for turn in range(10):
                _turn(store, user, session, f"turn {turn}", preferences=[VILLENEUVE] if turn == 0 else [],
                      cards=[ShownCard(f"{user}-{turn}", 0)])
                store.profile(user)
        except BaseException as exc:  # collected: a thread's exception would otherwise be lost
            errors.append(exc)

    threads = [threading.Thread(target=chat, args=(i, u)) for i, u in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for user in users:
        profile = stores[0].profile(user)
        assert profile.turns == 10 and len(profile.shown) == 10
        assert [t["index"] for t in _turns(stores[1], user)] == list(range(10))
        assert _weights(stores[0], user) == {"person:Denis Villeneuve": round(0.9 ** 9, 6)}


def test_in_memory_database_works_for_evaluation_runs(settings: Settings) -> None:
    store = ProfileStore("sqlite://", settings)
    user = store.ensure_user()
    _turn(store, user, store.start_session(user), preferences=[SCIFI])
    assert _weights(store, user) == {"genre:Science Fiction": 1.0}


# --- identity: a secret, never a bare name --------------------------------------------------------------------
def _row_counts(store: ProfileStore) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {name: connection.execute(text(f"SELECT COUNT(*) FROM {name}")).scalar_one()
                for name in ("users", "sessions", "user_tokens")}


def test_anonymous_users_and_sessions_are_stored_only_when_they_say_something(store: ProfileStore) -> None:
    before = _row_counts(store)
    for _ in range(5):  # five page loads that say nothing
        identity = store.new_anonymous()
        store.start_session(identity.user_id)
        assert store.profile(identity.user_id).is_empty
    assert _row_counts(store) == before

    identity = store.new_anonymous()
    assert store.user_for_token(identity.token) == identity.user_id
    _turn(store, identity.user_id, store.start_session(identity.user_id), preferences=[SCIFI])
    assert _row_counts(store) == {**before, "users": before["users"] + 1, "sessions": before["sessions"] + 1}
    assert store.user_for_token(identity.token) == identity.user_id  # the browser comes back with its token
    assert _weights(store, identity.user_id) == {"genre:Science Fiction": 1.0}


def test_forget_me_creates_no_new_rows(store: ProfileStore) -> None:
    identity = store.new_anonymous()
    _turn(store, identity.user_id, store.start_session(identity.user_id), preferences=[SCIFI])
    before = _row_counts(store)
    store.forget(identity.user_id)
    fresh = store.new_anonymous()  # what the browser gets after "Forget me"
    store.start_session(fresh.user_id)
    assert _row_counts(store) == {**before, "users": before["users"] - 1, "sessions": before["sessions"] - 1}


def test_tokens_are_secrets_and_only_their_hashes_are_stored(store: ProfileStore) -> None:
    alice = store.new_anonymous()
    _turn(store, alice.user_id, store.start_session(alice.user_id), preferences=[VILLENEUVE])
    store.set_passphrase(alice.user_id, "alice", "correct horse battery")
    signed_in = store.sign_in("alice", "correct horse battery")
    assert signed_in is not None
    with store.engine.connect() as connection:
        dump = " ".join(str(value) for table in ("users", "user_tokens")
                        for row in connection.execute(text(f"SELECT * FROM {table}")) for value in row)
    for secret in (alice.token, signed_in.token, "correct horse battery"):
        assert secret not in dump
    assert store.user_for_token("") is None and store.user_for_token("alice") is None
    assert store.user_for_token("x" * 43) not in {None, alice.user_id}  # a made-up token opens a stranger


def test_a_name_alone_never_opens_a_profile_but_name_and_passphrase_do(store: ProfileStore) -> None:
    alice = store.new_anonymous()
    _turn(store, alice.user_id, store.start_session(alice.user_id), preferences=[VILLENEUVE])
    store.set_passphrase(alice.user_id, "alice", "correct horse battery")

    intruder = store.new_anonymous()  # a second browser types "alice"
    with pytest.raises(StoreError, match="taken"):
        store.set_passphrase(intruder.user_id, "alice", "a guess at it")
    assert store.sign_in("alice", "wrong passphrase") is None
    assert store.sign_in("bob", "correct horse battery") is None
    assert store.profile(intruder.user_id).is_empty

    second_browser = store.sign_in("  alice ", "correct horse battery")
    assert second_browser is not None and second_browser.user_id == alice.user_id
    assert second_browser.token != alice.token
    assert store.user_for_token(second_browser.token) == alice.user_id
    assert _weights(store, second_browser.user_id) == {"person:Denis Villeneuve": 1.0}

    store.forget(alice.user_id)  # tokens go with the user: the old ones now open empty strangers
    assert store.user_for_token(second_browser.token) != alice.user_id
    assert store.sign_in("alice", "correct horse battery") is None


def test_passphrase_rules_and_terminal_names_are_not_browser_logins(store: ProfileStore) -> None:
    user = store.new_anonymous().user_id
    with pytest.raises(StoreError, match="at least 8"):
        store.set_passphrase(user, "sam", "short")
    with pytest.raises(StoreError, match="name"):
        store.set_passphrase(user, "   ", "long enough passphrase")
    store.ensure_user("cli-user")  # `liner chat --user cli-user`: no passphrase, so no browser sign-in
    assert store.sign_in("cli-user", "") is None and store.sign_in("cli-user", "anything at all") is None
    store.set_passphrase(user, "sam", "first passphrase")
    store.set_passphrase(user, "sam", "second passphrase")  # changing it
    assert store.sign_in("sam", "first passphrase") is None
    assert store.sign_in("sam", "second passphrase").user_id == user  # type: ignore[union-attr]


def _stored_hash(store: ProfileStore, name: str) -> str:
    with store.engine.connect() as connection:
        return connection.execute(text("SELECT passphrase_hash FROM users WHERE name = :name"),
                                  {"name": name}).scalar_one()


def _store_hash(store: ProfileStore, name: str, hashed: str) -> None:
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE users SET passphrase_hash = :hashed WHERE name = :name"),
                           {"hashed": hashed, "name": name})


def _legacy_scrypt_hash(passphrase: str) -> str:
    """A passphrase hash as stores before argon2 wrote them: scrypt (n=2**14, r=8, p=1), "scrypt$SALT$DIGEST"."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(passphrase.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


@pytest.mark.parametrize("old_hash", [
    _legacy_scrypt_hash,
    PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash,
], ids=["legacy scrypt", "cheaper argon2"])
def test_an_old_passphrase_hash_still_signs_in_and_is_redone_with_todays_cost(store: ProfileStore,
                                                                                old_hash) -> None:
    user = store.new_anonymous().user_id
    store.set_passphrase(user, "lee", "correct horse battery")
    _store_hash(store, "lee", old_hash("correct horse battery"))
    old = _stored_hash(store, "lee")

    assert store.sign_in("lee", "wrong passphrase") is None
    assert _stored_hash(store, "lee") == old  # a failed sign-in changes nothing

    signed_in = store.sign_in("lee", "correct horse battery")
    assert signed_in is not None and signed_in.user_id == user
    upgraded = _stored_hash(store, "lee")
    current = PasswordHasher()
    assert upgraded != old and upgraded.startswith("$argon2id$") and not current.check_needs_rehash(upgraded)
    assert current.verify(upgraded, "correct horse battery")
    assert store.sign_in("lee", "correct horse battery").user_id == user  # type: ignore[union-attr]
    assert _stored_hash(store, "lee") == upgraded  # already current: not redone
    assert store.sign_in("lee", "wrong passphrase") is None


def test_a_new_passphrase_is_stored_as_argon2_with_its_parameters(store: ProfileStore) -> None:
    store.set_passphrase(store.new_anonymous().user_id, "max", "correct horse battery")
    stored = _stored_hash(store, "max")
    assert stored.startswith("$argon2id$v=19$m=") and "correct horse battery" not in stored


# --- housekeeping --------------------------------------------------------------------------------------------
def test_purge_removes_old_empty_sessions_and_unused_anonymous_users_only(store: ProfileStore) -> None:
    old = datetime.now(timezone.utc) - timedelta(days=3)
    talker = store.new_anonymous().user_id
    _turn(store, talker, store.start_session(talker), preferences=[SCIFI])
    named = store.ensure_user("kept-by-name")
    with store.engine.begin() as connection:  # rows as the old store wrote them on every page load
        for user_id in ("a" * 32, "b" * 32):
            connection.execute(text("INSERT INTO users (id, name, created) VALUES (:id, NULL, :t)"),
                               {"id": user_id, "t": old})
            connection.execute(text("INSERT INTO sessions (id, user_id, started) VALUES (:id, :u, :t)"),
                               {"id": user_id[::-1][:31] + "s", "u": user_id, "t": old})
        for user_id in (talker, named):  # an old empty session of users who are kept
            connection.execute(text("INSERT INTO sessions (id, user_id, started) VALUES (:id, :u, :t)"),
                               {"id": user_id[:31] + "x", "u": user_id, "t": old})
        connection.execute(text("INSERT INTO users (id, name, created) VALUES (:id, NULL, :t)"),
                           {"id": "c" * 32, "t": datetime.now(timezone.utc)})  # too recent to purge
    assert store.purge_stale(timedelta(days=1)) == Purged(sessions=4, users=2)
    assert store.purge_stale(timedelta(days=1)) == Purged(sessions=0, users=0)
    with store.engine.connect() as connection:
        users = set(connection.execute(text("SELECT id FROM users")).scalars())
    assert users == {talker, named, "c" * 32}
    assert _weights(store, talker) == {"genre:Science Fiction": 1.0}
    assert store.profile(talker).turns == 1


# --- clear errors ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, expected", [
    ("foo://bar", "LINER_DATABASE_URL names a database SQLAlchemy does not know (foo)"),
    ("not a url at all", "LINER_DATABASE_URL is not a database URL"),
    ("postgresql+psycopg2://u:secret@127.0.0.1/db", "driver for postgresql+psycopg2 databases is not installed"),
])
def test_bad_database_url_names_the_setting_and_the_fix(url: str, expected: str, settings: Settings) -> None:
    with pytest.raises(StoreError) as caught:
        ProfileStore(url, settings)
    message = str(caught.value)
    assert expected in message and "postgresql+psycopg://" in message and "\n" not in message
    assert "secret" not in message


def test_unreachable_postgresql_is_one_line_naming_the_setting(settings: Settings) -> None:
    with pytest.raises(StoreError) as caught:
        ProfileStore("postgresql+psycopg://liner:secret@127.0.0.1:9/liner", settings)
    message = str(caught.value)
    assert "cannot reach the profile database" in message and "LINER_DATABASE_URL" in message
    assert "\n" not in message and "secret" not in message and "127.0.0.1:9" in message


def _limit_sqlite(store: ProfileStore, pragma: str) -> None:
    """Apply a PRAGMA to every new connection (then drop the pooled ones): a real SQLite fault, no mocks."""
    event.listen(store.engine, "connect", lambda dbapi, _record: dbapi.execute(pragma))
    store.engine.dispose()


def test_disk_full_during_a_turn_is_a_store_error_and_loses_nothing_written(sqlite_store: ProfileStore) -> None:
    store = sqlite_store
    user = store.ensure_user()
    session = store.start_session(user)
    _turn(store, user, session, "first", preferences=[SCIFI])
    with store.engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
    _limit_sqlite(store, f"PRAGMA max_page_count={pages}")  # SQLITE_FULL on the next page the file needs
    with pytest.raises(StoreError) as caught:
        _turn(store, user, session, "x" * 20000, cards=[ShownCard(f"item{i}", i, "y" * 2000) for i in range(50)])
    message = str(caught.value)
    assert "disk is full" in message and "LINER_DATABASE_URL" in message and "\n" not in message
    assert [t["message"] for t in _turns(store, user)] == ["first"]  # what was saved stays; reads still work


def test_read_only_database_during_a_turn_is_a_store_error(sqlite_store: ProfileStore) -> None:
    store = sqlite_store
    user = store.ensure_user()
    _limit_sqlite(store, "PRAGMA query_only=ON")
    with pytest.raises(StoreError) as caught:
        _turn(store, user, store.start_session(user))
    assert "for writing" in str(caught.value) and "LINER_DATABASE_URL" in str(caught.value)


# --- two first starts at once --------------------------------------------------------------------------------
_OPEN_STORE = """
import sys
from core.settings import Settings
from store.profile_store import ProfileStore
print("ready", flush=True)
sys.stdin.readline()  # "go": every process has imported what it needs
store = ProfileStore(sys.argv[1], Settings(data_dir=sys.argv[2]))
user = store.ensure_user("same-name")
print(user)
"""


def test_processes_starting_together_on_an_empty_database_migrate_once(db_url: str, tmp_path: Path) -> None:
    """Three processes open the same empty database at the same instant (the schema set-up used to race on
    PostgreSQL: IntegrityError in 3 of 3 tries); all start, each migration is recorded once, one user row."""
    procs = [subprocess.Popen([sys.executable, "-c", _OPEN_STORE, db_url, str(tmp_path)], cwd=REPO_ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    assert [proc.stdout.readline() for proc in procs] == ["ready\n"] * 3  # type: ignore[union-attr]
    for proc in procs:
        proc.stdin.write("go\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], [err[-2000:] for _, err in outputs]
    assert len({out.strip() for out, _ in outputs}) == 1  # the same user for all three
    store = ProfileStore(db_url, Settings(data_dir=tmp_path))
    assert [name for name, _ in applied_migrations(store.engine)] == [m.name for m in MIGRATIONS]
    store.close()
