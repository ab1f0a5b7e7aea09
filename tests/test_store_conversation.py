"""Conversations through the real profile store, on SQLite and on PostgreSQL (LINER_TEST_POSTGRES_URL): what a
user says is remembered across a restart and opened again only with their token; a store that fails mid-turn
costs the turn its saving, not the conversation."""

from __future__ import annotations

from sqlalchemy import event

from conversation.session import Assistant
from store.profile_store import ProfileStore


def test_a_conversation_is_remembered_and_reopened_by_its_token(database_url, settings, engine) -> None:
    store = ProfileStore(database_url, settings)
    identity = store.new_anonymous()
    session = Assistant(settings, engine=engine, store=store).session(user_id=identity.user_id)
    session.handle("I loved Alien and Aliens", explain=False)
    reply = session.handle("recommend some science fiction please", explain=False)
    assert reply.action == "recommend" and len(reply.cards) >= 3
    store.close()

    restarted = ProfileStore(database_url, settings)  # the app restarts; the browser comes back with its token
    user = restarted.user_for_token(identity.token)
    assert user == identity.user_id
    profile = restarted.profile(user)
    assert {"Alien", "Aliens"} <= {e.label.split(" (")[0] for e in profile.liked("item")}
    assert profile.turns == 2 and {c.item_id for c in reply.cards} <= set(profile.shown)
    assert restarted.profile(restarted.new_anonymous().user_id).is_empty  # another browser sees nothing of it
    restarted.close()


def test_disk_full_mid_conversation_keeps_the_chat_going(settings, engine, tmp_path) -> None:
    settings = settings.with_overrides(max_message_chars=50_000)  # a message that needs new pages in the file
    store = ProfileStore(f"sqlite:///{tmp_path / 'profiles.sqlite'}", settings)
    session = Assistant(settings, engine=engine, store=store).session()
    session.handle("I loved Alien and Aliens", explain=False)
    with store.engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
    # A real SQLITE_FULL: no page may be added to the file from now on.
    event.listen(store.engine, "connect", lambda dbapi, _record: dbapi.execute(f"PRAGMA max_page_count={pages}"))
    store.engine.dispose()
    long_message = "recommend some science fiction please " + "and something with space ships " * 1000
    reply = session.handle(long_message, explain=False)
    assert reply.action == "recommend" and len(reply.cards) >= 3
    assert any("disk is full" in note for note in reply.notes), reply.notes
