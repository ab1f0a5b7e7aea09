"""The profile store: users, sessions, turns, preferences, feedback and shown cards, kept in SQL (SQLAlchemy 2).

SQLite by default (a file under ``Settings.data_dir``); any SQLAlchemy URL (PostgreSQL) by setting
``LINER_DATABASE_URL``. Every public method runs in its own short transaction on its own ORM session, so one
store can be shared by Gradio's worker threads. The schema comes from recommender/migrations.py, applied when the
store opens.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ContextManager, Iterable, Iterator

from sqlalchemy import (
    Boolean,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool

from conversation.signals import Preference, Signals
from recommender.migrations import migrate
from recommender.profile import Profile, ProfileEntry
from recommender.settings import Settings, load_settings

log = logging.getLogger(__name__)

FEEDBACK_KINDS = ("like", "dislike", "seen", "why", "remove")
NOVELTY_CHOICES = ("familiar", "new")
_WRITE_OPTION = "liner_write"
"""Execution option marking a write transaction (BEGIN IMMEDIATE on SQLite)."""
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
"""C0/C1 controls except tab and newline, and lone surrogates (which cannot be encoded to UTF-8)."""
_LABEL_CHARS = 400
_NAME_CHARS = 200


class StoreError(RuntimeError):
    """The profile store cannot do what was asked; the message says what to change."""


@dataclass(frozen=True)
class ShownCard:
    """One recommendation card as it was shown (stored with the turn that showed it)."""

    item_id: str
    rank: int
    explanation: str = ""
    grounded: bool = False
    source: str = ""
    """llm | template | cache | "" (not explained)."""


@dataclass(frozen=True)
class TurnRecord:
    turn_id: int
    session_id: str
    index: int
    """Position of the turn in its session, from 0."""
    message: str
    reply_text: str
    action: str
    created: datetime


# --- ORM mapping of the current schema (the DDL that creates it lives in recommender/migrations.py) ----------
class _Base(DeclarativeBase):
    pass


class _User(_Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(_NAME_CHARS), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    novelty: Mapped[str | None] = mapped_column(String(16))


class _Session(_Base):
    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    started: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class _Turn(_Base):
    __tablename__ = "turns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(32), ForeignKey("sessions.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    reply_text: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(32))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class _Preference(_Base):
    __tablename__ = "preferences"
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(_LABEL_CHARS), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(_LABEL_CHARS))
    polarity: Mapped[int] = mapped_column(Integer)
    weight: Mapped[float] = mapped_column(Float)
    updated_turn: Mapped[int | None] = mapped_column(Integer)


class _Feedback(_Base):
    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(_LABEL_CHARS))
    """The item id; for "remove" events the removed profile node id."""
    kind: Mapped[str] = mapped_column(String(16))
    turn: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class _Shown(_Base):
    __tablename__ = "shown"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    turn_id: Mapped[int] = mapped_column(Integer, ForeignKey("turns.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(_LABEL_CHARS))
    rank: Mapped[int] = mapped_column(Integer)
    explanation: Mapped[str] = mapped_column(Text)
    grounded: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(32))


SCHEMA = _Base.metadata
"""The schema the store expects once every migration has run (tests compare it with the migrated database)."""
_USER_TABLES: tuple[type[_Shown | _Feedback | _Preference | _Turn | _Session], ...] = (
    _Shown, _Feedback, _Preference, _Turn, _Session)
"""Tables holding a user's rows, children before parents so deletes work without ON DELETE CASCADE."""


class ProfileStore:
    """What the app remembers about each user, one transaction per call."""

    def __init__(self, url: str, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.url: URL = make_url(url)
        self._sqlite = self.url.get_backend_name() == "sqlite"
        self._path = _sqlite_path(self.url) if self._sqlite else None
        in_memory = self._sqlite and self._path is None
        # An in-memory database lives in one connection, so every call shares it, one at a time.
        self._lock: ContextManager[Any] = threading.RLock() if in_memory else nullcontext()
        self._engine = self._create_engine(in_memory)
        write_engine = self._engine.execution_options(**{_WRITE_OPTION: True})
        self._reads = sessionmaker(self._engine, expire_on_commit=False)
        self._writes = sessionmaker(write_engine, expire_on_commit=False)
        with self._guard(), write_engine.begin() as connection:
            applied = migrate(connection)
        if applied:
            log.info("profile store %s: applied migrations %s", self._where(), ", ".join(applied))

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    # --- users and sessions ---------------------------------------------------------------------------
    def ensure_user(self, name: str | None = None) -> str:
        """The id of the user called ``name`` (created if new), or of a new anonymous user when no name is given."""
        clean = _clean(name or "", _NAME_CHARS).strip()
        if not clean:
            with self._write() as session:
                return self._new_user(session, None)
        try:
            with self._write() as session:
                existing = session.scalar(select(_User.id).where(_User.name == clean))
                return existing or self._new_user(session, clean)
        except IntegrityError:
            # Another process created the same name between our read and insert (servers without a write lock).
            with self._read() as session:
                found = session.scalar(select(_User.id).where(_User.name == clean))
            if found is None:
                raise
            return found

    def start_session(self, user_id: str) -> str:
        with self._write() as session:
            _require_user(session, user_id)
            session_id = uuid.uuid4().hex
            session.add(_Session(id=session_id, user_id=user_id, started=_now()))
            return session_id

    # --- writes -------------------------------------------------------------------------------------
    def record_turn(self, user_id: str, session_id: str, message: str, signals: Signals, reply_text: str,
                    action: str, cards: list[ShownCard]) -> int:
        """Store one turn and what it taught us, all or nothing; return the turn id.

        Every preference the user already had decays by ``Settings.preference_decay``; a node mentioned again
        comes back to full strength (with the polarity said now); items said to be seen are recorded as seen.
        """
        with self._write() as session:
            owner = session.scalar(select(_Session.user_id).where(_Session.id == session_id))
            if owner != user_id:
                raise StoreError(f"session {session_id!r} does not belong to user {user_id!r}: start one with "
                                 "ProfileStore.start_session(user_id)")
            index = session.scalar(select(func.count()).select_from(_Turn).where(_Turn.session_id == session_id))
            turn = _Turn(session_id=session_id, user_id=user_id, index=index or 0,
                         message=_clean(message, self.settings.max_message_chars),
                         reply_text=_clean(reply_text, None), action=action, created=_now())
            session.add(turn)
            session.flush()  # assigns turn.id, which the rows below point to
            session.execute(update(_Preference).where(_Preference.user_id == user_id)
                            .values(weight=_Preference.weight * self.settings.preference_decay))
            _upsert_preferences(session, user_id, signals.preferences, turn.id)
            now = _now()
            session.add_all(_Feedback(user_id=user_id, item_id=item_id, kind="seen", turn=turn.id, created=now)
                            for item_id in dict.fromkeys(signals.seen))
            if signals.novelty in NOVELTY_CHOICES:
                user = session.get(_User, user_id)
                assert user is not None  # the session row exists, so its user does
                user.novelty = signals.novelty
            _add_shown(session, user_id, turn.id, cards)
            return turn.id

    def record_shown(self, user_id: str, turn_id: int, cards: list[ShownCard]) -> None:
        """Store the cards a turn showed once they are final (explanations written after the turn was stored)."""
        with self._write() as session:
            owner = session.scalar(select(_Turn.user_id).where(_Turn.id == turn_id))
            if owner != user_id:
                raise StoreError(f"turn {turn_id} does not belong to user {user_id!r}")
            _add_shown(session, user_id, turn_id, cards)

    def record_feedback(self, user_id: str, item_id: str, kind: str, label: str = "") -> None:
        """A card button: like → liked item; dislike ("not for me") → disliked and never recommended again;
        seen → never recommended again; why / remove are only logged."""
        if kind not in FEEDBACK_KINDS:
            raise ValueError(f"feedback kind must be one of {', '.join(FEEDBACK_KINDS)}, not {kind!r}")
        with self._write() as session:
            _require_user(session, user_id)
            turn = session.scalar(select(func.max(_Turn.id)).where(_Turn.user_id == user_id))
            session.add(_Feedback(user_id=user_id, item_id=item_id, kind=kind, turn=turn, created=_now()))
            if kind in ("like", "dislike"):
                preference = Preference(f"item:{item_id}", "item", label or item_id, 1 if kind == "like" else -1)
                _upsert_preferences(session, user_id, [preference], turn)

    def remove_entry(self, user_id: str, node_id: str) -> None:
        """Forget one belief ("I don't actually like Nolan"); removing a disliked item also lifts its rejection."""
        with self._write() as session:
            _require_user(session, user_id)
            session.execute(delete(_Preference).where(_Preference.user_id == user_id,
                                                      _Preference.node_id == node_id))
            turn = session.scalar(select(func.max(_Turn.id)).where(_Turn.user_id == user_id))
            session.add(_Feedback(user_id=user_id, item_id=node_id, kind="remove", turn=turn, created=_now()))

    def reset(self, user_id: str) -> None:
        """Start over: forget tastes, seen, rejected and shown cards; keep the user and the conversation log."""
        with self._write() as session:
            user = _require_user(session, user_id)
            for table in (_Preference, _Feedback, _Shown):
                session.execute(delete(table).where(table.user_id == user_id))
            user.novelty = None

    def forget(self, user_id: str) -> int:
        """Delete every row about the user, the user included; return how many rows were deleted."""
        with self._write() as session:
            deleted = sum(session.execute(delete(table).where(table.user_id == user_id)).rowcount
                          for table in _USER_TABLES)
            return deleted + session.execute(delete(_User).where(_User.id == user_id)).rowcount

    # --- reads --------------------------------------------------------------------------------------
    def profile(self, user_id: str) -> Profile:
        """What we believe about the user now (an empty profile for an unknown user)."""
        with self._read() as session:
            user = session.get(_User, user_id)
            if user is None:
                return Profile(user_id)
            rows = session.scalars(
                select(_Preference)
                .where(_Preference.user_id == user_id, _Preference.weight >= self.settings.preference_min_weight)
                .order_by(_Preference.weight.desc(), _Preference.node_id))
            entries = [ProfileEntry(r.node_id, r.kind, r.label, r.polarity, r.weight) for r in rows]
            events = session.execute(select(_Feedback.item_id, _Feedback.kind)
                                     .where(_Feedback.user_id == user_id).order_by(_Feedback.id))
            seen, rejected = _fold_feedback((row.item_id, row.kind) for row in events)
            recent = session.scalars(select(_Shown.item_id).where(_Shown.user_id == user_id)
                                     .order_by(_Shown.id.desc()).limit(self.settings.shown_memory)).all()
            turns = session.scalar(select(func.count()).select_from(_Turn).where(_Turn.user_id == user_id)) or 0
            return Profile(user_id, entries, seen, rejected, list(reversed(dict.fromkeys(recent))), turns,
                           user.novelty)

    def history(self, user_id: str, limit: int = 20) -> list[TurnRecord]:
        """The user's last ``limit`` turns, oldest first."""
        with self._read() as session:
            rows = session.scalars(select(_Turn).where(_Turn.user_id == user_id)
                                   .order_by(_Turn.id.desc()).limit(limit)).all()
            return [TurnRecord(r.id, r.session_id, r.index, r.message, r.reply_text, r.action, r.created)
                    for r in reversed(rows)]

    def export(self, user_id: str) -> dict[str, Any]:
        """Everything stored about the user, as JSON-serializable data ("export my data")."""
        with self._read() as session:
            user = _require_user(session, user_id)
            data: dict[str, Any] = {"user": _as_dict(user), "exported_at": _now().isoformat()}
            for table in reversed(_USER_TABLES):
                rows = session.scalars(select(table).where(table.user_id == user_id)
                                       .order_by(*inspect(table).primary_key))
                data[table.__tablename__] = [_as_dict(row) for row in rows]
            return data

    # --- internals ----------------------------------------------------------------------------------
    def _create_engine(self, in_memory: bool) -> Engine:
        if not self._sqlite:
            return create_engine(self.url, pool_pre_ping=True)
        if self._path is not None:
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder of the profile database {self._path} ({exc}): set "
                                 "LINER_DATA_DIR or LINER_DATABASE_URL to a writable place") from exc
        connect_args = {"check_same_thread": False, "timeout": 30.0}
        if in_memory:
            engine = create_engine(self.url, connect_args=connect_args, poolclass=StaticPool)
        else:
            engine = create_engine(self.url, connect_args=connect_args)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine

    @contextmanager
    def _transaction(self, sessions: sessionmaker[Session]) -> Iterator[Session]:
        with self._guard(), sessions.begin() as session:
            yield session

    def _write(self) -> ContextManager[Session]:
        return self._transaction(self._writes)

    def _read(self) -> ContextManager[Session]:
        return self._transaction(self._reads)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Serialize in-memory use, and turn a broken SQLite file into an error that says what to do."""
        with self._lock:
            try:
                yield
            except (DBAPIError, sqlite3.DatabaseError) as exc:
                problem = self._file_problem(exc)
                if problem is None:
                    raise
                raise problem from exc

    def _file_problem(self, exc: Exception) -> StoreError | None:
        if not self._sqlite or isinstance(exc, IntegrityError):
            return None
        text = str(getattr(exc, "orig", None) or exc).lower()
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return StoreError(
                f"the profile database {self._where()} is corrupt or not an SQLite file ({text}): move it aside "
                f"(mv {self._where()} {self._where()}.broken) to start with an empty store, or set "
                "LINER_DATABASE_URL to another database")
        if "unable to open" in text or "readonly" in text:
            return StoreError(f"cannot open the profile database {self._where()} for writing ({text}): fix its "
                              "permissions, or set LINER_DATABASE_URL to another database")
        return None

    def _where(self) -> str:
        return str(self._path) if self._path is not None else self.url.render_as_string(hide_password=True)

    @staticmethod
    def _new_user(session: Session, name: str | None) -> str:
        user_id = uuid.uuid4().hex
        session.add(_User(id=user_id, name=name, created=_now()))
        return user_id


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # The driver's implicit transactions skip DDL and reads; we emit BEGIN ourselves (see _sqlite_on_begin) so a
    # turn or a migration is truly atomic.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer; a no-op in memory
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; commits stop waiting for fsync
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock up front: a turn reads and then writes, and a deferred transaction would
    # fail ("database is locked") instead of waiting when another writer got in between.
    write = connection.get_execution_options().get(_WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _sqlite_path(url: URL) -> Path | None:
    database = url.database or ""
    if database in ("", ":memory:") or "mode=memory" in database:
        return None
    return Path(database).expanduser().resolve()


def _require_user(session: Session, user_id: str) -> _User:
    user = session.get(_User, user_id)
    if user is None:
        raise StoreError(f"unknown user {user_id!r}: create one with ProfileStore.ensure_user()")
    return user


def _upsert_preferences(session: Session, user_id: str, preferences: Iterable[Preference],
                        turn_id: int | None) -> None:
    latest = {p.node_id: p for p in preferences}  # a node said twice in one message: the last word counts
    if not latest:
        return
    existing = {row.node_id: row for row in session.scalars(
        select(_Preference).where(_Preference.user_id == user_id, _Preference.node_id.in_(latest)))}
    for node_id, preference in latest.items():
        if preference.polarity == 0:
            raise ValueError(f"preference {node_id!r} has polarity 0; use +1 (likes) or -1 (dislikes)")
        values = {
            "kind": preference.kind,
            "label": _clean(preference.label, _LABEL_CHARS),
            "polarity": 1 if preference.polarity > 0 else -1,
            "weight": min(1.0, max(0.0, preference.strength)),
            "updated_turn": turn_id,
        }
        row = existing.get(node_id)
        if row is None:
            session.add(_Preference(user_id=user_id, node_id=node_id, **values))
        else:
            for key, value in values.items():
                setattr(row, key, value)


def _add_shown(session: Session, user_id: str, turn_id: int, cards: list[ShownCard]) -> None:
    session.add_all(_Shown(user_id=user_id, turn_id=turn_id, item_id=card.item_id, rank=card.rank,
                           explanation=_clean(card.explanation or "", None), grounded=bool(card.grounded),
                           source=card.source or "")
                    for card in cards)


def _fold_feedback(events: Iterable[tuple[str, str]]) -> tuple[set[str], set[str]]:
    """Seen and rejected item ids from the feedback log, oldest first: a later like or a removal of the
    item's profile entry lifts an earlier "not for me"."""
    seen: set[str] = set()
    rejected: set[str] = set()
    for item_id, kind in events:
        if kind == "seen":
            seen.add(item_id)
        elif kind == "dislike":
            rejected.add(item_id)
        elif kind == "like":
            rejected.discard(item_id)
        elif kind == "remove" and item_id.startswith("item:"):
            rejected.discard(item_id.removeprefix("item:"))
    return seen, rejected


def _clean(text: str, limit: int | None) -> str:
    """Text as given, minus control characters (tab and newline kept), cut to ``limit`` characters."""
    text = _CONTROL_CHARS.sub("", text.replace("\r\n", "\n"))
    return text[:limit] if limit is not None else text


def _as_dict(row: _Base) -> dict[str, Any]:
    values = {attr.key: getattr(row, attr.key) for attr in inspect(row).mapper.column_attrs}
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in values.items()}


def _now() -> datetime:
    return datetime.now(timezone.utc)
