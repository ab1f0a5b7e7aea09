"""The profile store on real SQLite files: migrations, turns, decay, feedback, atomicity, restarts, privacy."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, inspect, text
from sqlalchemy.engine import Connection

from conversation.signals import Preference, Signals
from recommender.migrations import MIGRATIONS, Migration, applied_migrations, migrate
from recommender.settings import Settings
from recommender.store import SCHEMA, ProfileStore, ShownCard, StoreError

VILLENEUVE = Preference("person:Denis Villeneuve", "person", "Denis Villeneuve", 1)
SCIFI = Preference("genre:Science Fiction", "genre", "Science Fiction", 1)
HORROR_DISLIKE = Preference("genre:Horror", "genre", "Horror", -1)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, preference_decay=0.9, preference_min_weight=0.05)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'profiles.sqlite'}"


@pytest.fixture
def store(db_url: str, settings: Settings) -> ProfileStore:
    return ProfileStore(db_url, settings)


def _turn(store: ProfileStore, user: str, session: str, message: str = "hi", *,
          preferences: list[Preference] | None = None, seen: list[str] | None = None,
          novelty: str | None = None, cards: list[ShownCard] | None = None) -> int:
    signals = Signals(message, preferences=preferences or [], seen=seen or [], novelty=novelty)
    return store.record_turn(user, session, message, signals, "reply", "recommend", cards or [])


def _weights(store: ProfileStore, user: str) -> dict[str, float]:
    return {e.node_id: round(e.weight * e.polarity, 6) for e in store.profile(user).entries}


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


def test_sqlite_runs_in_wal_mode_with_foreign_keys(store: ProfileStore) -> None:
    with store.engine.connect() as connection:
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
    [record] = store.history(user, 5)
    assert (record.turn_id, record.index, record.action) == (turn_id, 0, "recommend")


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
    with pytest.raises(Exception):
        _turn(store, user, session, "second", preferences=[SCIFI, HORROR_DISLIKE], seen=["alien"],
              novelty="familiar", cards=[ShownCard("contact", 0), bad_card])

    after = store.export(user)
    before.pop("exported_at"), after.pop("exported_at")
    assert after == before
    assert _weights(store, user) == {"person:Denis Villeneuve": 1.0}  # not decayed either
    assert [t.message for t in store.history(user, 10)] == ["first"]
    # and the store still works afterwards
    _turn(store, user, session, "third", preferences=[SCIFI])
    assert [t.index for t in store.history(user, 10)] == [0, 1]


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
    assert restarted.history(user, 10)[0].message == "hi"


def test_sql_looking_message_is_stored_verbatim(store: ProfileStore) -> None:
    user = store.ensure_user("Robert'); DROP TABLE users;--")
    session = store.start_session(user)
    message = "Robert'); DROP TABLE users;-- and 1=1; SELECT * FROM turns; \"quoted\" `ticks` %s :name ?"
    _turn(store, user, session, message, preferences=[Preference("keyword:x'); DELETE FROM preferences;--",
                                                                 "keyword", "x'); DELETE FROM preferences;--", 1)])
    assert store.history(user, 1)[0].message == message
    assert store.ensure_user("Robert'); DROP TABLE users;--") == user
    assert _weights(store, user) == {"keyword:x'); DELETE FROM preferences;--": 1.0}
    assert set(SCHEMA.tables) <= set(inspect(store.engine).get_table_names())


def test_message_is_cleaned_and_truncated(store: ProfileStore) -> None:
    user = store.ensure_user()
    session = store.start_session(user)
    _turn(store, user, session, "a\x00b\x07c\r\nd\te\ud800f\x9b")
    assert store.history(user, 1)[0].message == "abc\nd\tef"
    _turn(store, user, session, "x" * (store.settings.max_message_chars + 500))
    assert len(store.history(user, 1)[0].message) == store.settings.max_message_chars


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
    with pytest.raises(StoreError, match="unknown user"):
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
    assert [t.message for t in store.history(ann, 10)] == ["ann's taste"]
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
        assert [t.index for t in stores[1].history(user, 20)] == list(range(10))
        assert _weights(stores[0], user) == {"person:Denis Villeneuve": round(0.9 ** 9, 6)}


def test_in_memory_database_works_for_evaluation_runs(settings: Settings) -> None:
    store = ProfileStore("sqlite://", settings)
    user = store.ensure_user()
    _turn(store, user, store.start_session(user), preferences=[SCIFI])
    assert _weights(store, user) == {"genre:Science Fiction": 1.0}
