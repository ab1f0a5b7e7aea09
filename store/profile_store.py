"""The profile store: users, sessions, turns, preferences, feedback and shown cards, kept in SQL (SQLAlchemy 2).

SQLite by default (a file under ``Settings.data_dir``); any SQLAlchemy URL (PostgreSQL) by setting
``LINER_DATABASE_URL``. Every public method runs in its own short transaction on its own ORM session, so one
store can be shared by Gradio's worker threads. The schema comes from store/migrations.py, applied when the
store opens. Every database fault (bad URL, missing driver, unreachable server, disk full, read-only file) is
raised as one StoreError whose message names the setting or file and the fix.

Identity: a user is opened by a secret token only they hold (``new_anonymous`` / ``user_for_token``), or by a
chosen name *with its passphrase* (``set_passphrase`` / ``sign_in``); only hashes of tokens and passphrases are
stored. ``ensure_user(name)`` opens a profile by bare name: a local convenience for the terminal (``liner chat
--user``), never for the browser. Rows are written lazily: a new user or session costs nothing until it says
something, so page loads and "Forget me" add no rows.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import re
import secrets
import sqlite3
import threading
import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ContextManager, Iterable, Iterator

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Engine,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from core.errors import FixableError
from core.ids import item_id_of, item_node
from core.preferences import Preference, ProfileUpdate
from core.profile import Profile, ProfileEntry
from core.settings import Settings, load_settings
from core.text import strip_control
from store.migrations import migrate
from store.schema import (
    LABEL_CHARS,
    NAME_CHARS,
    USER_TABLES,
    Base,
    FeedbackRow,
    PreferenceRow,
    SessionRow,
    ShownRow,
    TokenRow,
    TurnRow,
    UserRow,
)

log = logging.getLogger(__name__)

FEEDBACK_KINDS = ("like", "dislike", "seen", "why", "remove")
NOVELTY_CHOICES = ("familiar", "new")
_WRITE_OPTION = "liner_write"
"""Execution option marking a write transaction (BEGIN IMMEDIATE on SQLite)."""
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,128}")
"""What a token looks like (``secrets.token_urlsafe(32)`` gives 43 characters); anything else opens nobody."""
_PASSPHRASES = PasswordHasher()
"""argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile: 64 MiB, 3 passes). Each hash records its
own cost, so a hash made with other parameters still verifies and is redone with these at its next sign-in."""
_LEGACY_SCRYPT_PREFIX = "scrypt$"
_LEGACY_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
"""Hashes stored before argon2 are "scrypt$<base64 salt>$<base64 digest>" made with this (unrecorded) cost: still
read, so nobody is locked out, and replaced by an argon2 hash at the owner's next sign-in."""
_DATABASE_URL_HELP = ("set LINER_DATABASE_URL to sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB "
                      "(or unset it for SQLite under LINER_HOME)")


class StoreError(FixableError):
    """The profile store cannot do what was asked; the message says what to change."""


class UnknownUserError(StoreError):
    """The user has no rows: nothing is stored about them (yet, or any more)."""


@dataclass(frozen=True)
class Identity:
    """A user and the secret that opens their profile. Give ``token`` to the browser (local storage); the store
    keeps only its hash. Whoever holds the token is that user, so never log or show it."""

    user_id: str
    token: str


@dataclass(frozen=True)
class Purged:
    """What ``ProfileStore.purge_stale`` removed."""

    sessions: int
    users: int


@dataclass(frozen=True)
class ShownCard:
    """One recommendation card as it was shown (stored with the turn that showed it)."""

    item_id: str
    rank: int
    explanation: str = ""
    grounded: bool = False
    source: str = ""
    """llm | template | cache | "" (not explained)."""




class ProfileStore:
    """What the app remembers about each user, one transaction per call."""

    def __init__(self, url: str, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.url: URL = _parse_url(url)
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
        if self.settings.purge_stale_after_hours > 0:
            purged = self.purge_stale(timedelta(hours=self.settings.purge_stale_after_hours))
            if purged.sessions or purged.users:
                log.info("profile store %s: removed %d empty sessions and %d unused anonymous users",
                         self._where(), purged.sessions, purged.users)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    # --- identity -------------------------------------------------------------------------------------
    def new_anonymous(self) -> Identity:
        """A new anonymous user and the token that opens it. Nothing is stored until the user says something
        (a turn, a card button, a passphrase), so a page load or a "Forget me" adds no row."""
        token = secrets.token_urlsafe(32)
        return Identity(_token_user_id(token), token)

    def user_for_token(self, token: str) -> str | None:
        """The user a browser's token opens: the signed-in user for a token from ``sign_in``, else the token's own
        anonymous user (empty until it says something); None for anything that is not a token (then start over
        with ``new_anonymous``)."""
        if not isinstance(token, str) or not _TOKEN_PATTERN.fullmatch(token):
            return None
        with self._read() as session:
            signed_in = session.scalar(select(TokenRow.user_id).where(TokenRow.token_hash == _sha256(token)))
        return signed_in or _token_user_id(token)

    def set_passphrase(self, user_id: str, name: str, passphrase: str) -> None:
        """Let the user open this profile from another browser with ``sign_in(name, passphrase)``. Raises
        StoreError when the name belongs to someone else (a bare name never opens a profile) or the passphrase
        is shorter than Settings.passphrase_min_chars; setting it again changes the name or passphrase."""
        clean = _clean(name, NAME_CHARS).strip()
        if not clean:
            raise StoreError("choose a name to go with the passphrase")
        if len(passphrase) < self.settings.passphrase_min_chars:
            raise StoreError(f"the passphrase needs at least {self.settings.passphrase_min_chars} characters")
        hashed = _hash_passphrase(passphrase)  # slow on purpose: outside the transaction
        with self._write() as session:
            owner = session.scalar(select(UserRow.id).where(UserRow.name == clean))
            if owner is not None and owner != user_id:
                raise StoreError(f"the name {clean!r} is taken: choose another one, or sign in with its passphrase")
            user = _user_row(session, user_id)
            user.name, user.passphrase_hash = clean, hashed

    def sign_in(self, name: str, passphrase: str) -> Identity | None:
        """A new token for the user who set this name and passphrase; None when they do not match (the same
        answer, in about the same time, for a name nobody has, so names cannot be probed)."""
        clean = _clean(name, NAME_CHARS).strip()
        with self._read() as session:
            row = session.execute(select(UserRow.id, UserRow.passphrase_hash).where(UserRow.name == clean)).first()
        stored = row.passphrase_hash if row is not None else None
        if not _check_passphrase(passphrase, stored):
            return None
        assert row is not None and stored is not None  # a passphrase matched, so the user and the hash exist
        # An old scheme or cost is redone with today's now that the passphrase is at hand (slow: outside the
        # transaction).
        rehashed = _hash_passphrase(passphrase) if _needs_rehash(stored) else None
        token = secrets.token_urlsafe(32)
        with self._write() as session:
            session.add(TokenRow(token_hash=_sha256(token), user_id=row.id, created=_now()))
            if rehashed is not None:  # unless the passphrase was changed meanwhile
                session.execute(update(UserRow).where(UserRow.id == row.id, UserRow.passphrase_hash == stored)
                                .values(passphrase_hash=rehashed))
        return Identity(row.id, token)

    # --- users and sessions ---------------------------------------------------------------------------
    def ensure_user(self, name: str | None = None) -> str:
        """Terminal convenience (``liner chat --user NAME``): the id of the user called ``name``, created if new.
        A bare name opens the profile, so never pass a name typed in the browser (use tokens there). Without a
        name: a new anonymous user, stored on its first write."""
        clean = _clean(name or "", NAME_CHARS).strip()
        if not clean:
            return self.new_anonymous().user_id
        with self._write() as session:
            existing = session.scalar(select(UserRow.id).where(UserRow.name == clean))
            if existing is not None:
                return existing
            # Another process may create the same name meanwhile (servers without a write lock): keep theirs.
            _insert_ignoring_conflict(session, UserRow, id=uuid.uuid4().hex, name=clean, created=_now())
            found = session.scalar(select(UserRow.id).where(UserRow.name == clean))
            assert found is not None  # inserted now or by the other process
            return found

    def start_session(self, user_id: str) -> str:
        """A new conversation of the user, stored with its first turn. Its id carries a tag of the user id, so
        a turn for another user is refused even before the session is stored."""
        _check_user_id(user_id)
        nonce = uuid.uuid4().hex[:16]
        return nonce + _session_tag(user_id, nonce)

    def purge_stale(self, older_than: timedelta) -> Purged:
        """Remove what nobody comes back to: sessions without a turn, and anonymous users (no name) that never
        said anything (no turn, preference or feedback), both older than ``older_than``."""
        cutoff = _now() - older_than
        silent = ~exists().where(TurnRow.session_id == SessionRow.id)
        unused = select(UserRow.id).where(
            UserRow.name.is_(None), UserRow.created < cutoff,
            *(~exists().where(table.user_id == UserRow.id) for table in (TurnRow, PreferenceRow, FeedbackRow, TokenRow)))
        with self._write() as session:
            users = list(session.scalars(unused))
            sessions = session.execute(delete(SessionRow).where(SessionRow.started < cutoff, silent)).rowcount
            for start in range(0, len(users), 500):  # bounded IN lists (SQLite limits bound parameters)
                chunk = users[start:start + 500]
                sessions += session.execute(delete(SessionRow).where(SessionRow.user_id.in_(chunk))).rowcount
                session.execute(delete(UserRow).where(UserRow.id.in_(chunk)))
            return Purged(sessions, len(users))

    # --- writes -------------------------------------------------------------------------------------
    def record_turn(self, user_id: str, session_id: str, message: str, learned: ProfileUpdate, reply_text: str,
                    action: str, cards: list[ShownCard]) -> int:
        """Store one turn and what it taught us, all or nothing; return the turn id.

        Every preference the user already had decays by ``Settings.preference_decay``; a node mentioned again
        comes back to full strength (with the polarity said now); items said to be seen are recorded as seen.
        """
        with self._write() as session:
            _user_row(session, user_id)
            owner = session.scalar(select(SessionRow.user_id).where(SessionRow.id == session_id))
            if owner is None and _session_tag(user_id, session_id[:16]) == session_id[16:]:
                session.add(SessionRow(id=session_id, user_id=user_id, started=_now()))
            elif owner != user_id:
                raise StoreError(f"session {session_id!r} does not belong to user {user_id!r}: start one with "
                                 "ProfileStore.start_session(user_id)")
            index = session.scalar(select(func.count()).select_from(TurnRow).where(TurnRow.session_id == session_id))
            turn = TurnRow(session_id=session_id, user_id=user_id, index=index or 0,
                         message=_clean(message, self.settings.max_message_chars),
                         reply_text=_clean(reply_text, None), action=action, created=_now())
            session.add(turn)
            session.flush()  # assigns turn.id, which the rows below point to
            session.execute(update(PreferenceRow).where(PreferenceRow.user_id == user_id)
                            .values(weight=PreferenceRow.weight * self.settings.preference_decay))
            _upsert_preferences(session, user_id, learned.preferences, turn.id)
            now = _now()
            session.add_all(FeedbackRow(user_id=user_id, item_id=item_id, kind="seen", turn=turn.id, created=now)
                            for item_id in dict.fromkeys(learned.seen))
            if learned.novelty in NOVELTY_CHOICES:
                user = session.get(UserRow, user_id)
                assert user is not None  # the session row exists, so its user does
                user.novelty = learned.novelty
            _add_shown(session, user_id, turn.id, cards)
            return turn.id

    def record_shown(self, user_id: str, turn_id: int, cards: list[ShownCard]) -> None:
        """Store the cards a turn showed once they are final (explanations written after the turn was stored)."""
        with self._write() as session:
            owner = session.scalar(select(TurnRow.user_id).where(TurnRow.id == turn_id))
            if owner != user_id:
                raise StoreError(f"turn {turn_id} does not belong to user {user_id!r}")
            _add_shown(session, user_id, turn_id, cards)

    def record_feedback(self, user_id: str, item_id: str, kind: str, label: str = "") -> None:
        """A card button: like → liked item; dislike ("not for me") → disliked and never recommended again;
        seen → never recommended again; why / remove are only logged."""
        if kind not in FEEDBACK_KINDS:
            raise ValueError(f"feedback kind must be one of {', '.join(FEEDBACK_KINDS)}, not {kind!r}")
        with self._write() as session:
            _user_row(session, user_id)
            turn = session.scalar(select(func.max(TurnRow.id)).where(TurnRow.user_id == user_id))
            session.add(FeedbackRow(user_id=user_id, item_id=item_id, kind=kind, turn=turn, created=_now()))
            if kind in ("like", "dislike"):
                preference = Preference(item_node(item_id), "item", label or item_id, 1 if kind == "like" else -1)
                _upsert_preferences(session, user_id, [preference], turn)

    def remove_entry(self, user_id: str, node_id: str) -> None:
        """Forget one belief ("I don't actually like Nolan"); removing a disliked item also lifts its rejection."""
        with self._write() as session:
            _user_row(session, user_id)
            session.execute(delete(PreferenceRow).where(PreferenceRow.user_id == user_id,
                                                      PreferenceRow.node_id == node_id))
            turn = session.scalar(select(func.max(TurnRow.id)).where(TurnRow.user_id == user_id))
            session.add(FeedbackRow(user_id=user_id, item_id=node_id, kind="remove", turn=turn, created=_now()))

    def reset(self, user_id: str) -> None:
        """Start over: forget tastes, seen, rejected and shown cards; keep the user and the conversation log."""
        with self._write() as session:
            user = session.get(UserRow, user_id)
            if user is None:
                return  # not stored yet: nothing to forget
            for table in (PreferenceRow, FeedbackRow, ShownRow):
                session.execute(delete(table).where(table.user_id == user_id))
            user.novelty = None

    def forget(self, user_id: str) -> int:
        """Delete every row about the user, the user included; return how many rows were deleted."""
        with self._write() as session:
            deleted = sum(session.execute(delete(table).where(table.user_id == user_id)).rowcount
                          for table in USER_TABLES)
            return deleted + session.execute(delete(UserRow).where(UserRow.id == user_id)).rowcount

    # --- reads --------------------------------------------------------------------------------------
    def profile(self, user_id: str) -> Profile:
        """What we believe about the user now (an empty profile for an unknown user)."""
        with self._read() as session:
            user = session.get(UserRow, user_id)
            if user is None:
                return Profile(user_id)
            rows = session.scalars(
                select(PreferenceRow)
                .where(PreferenceRow.user_id == user_id, PreferenceRow.weight >= self.settings.preference_min_weight)
                .order_by(PreferenceRow.weight.desc(), PreferenceRow.node_id))
            entries = [ProfileEntry(r.node_id, r.kind, r.label, r.polarity, r.weight) for r in rows]
            events = session.execute(select(FeedbackRow.item_id, FeedbackRow.kind)
                                     .where(FeedbackRow.user_id == user_id).order_by(FeedbackRow.id))
            seen, rejected = _fold_feedback((row.item_id, row.kind) for row in events)
            recent = session.scalars(select(ShownRow.item_id).where(ShownRow.user_id == user_id)
                                     .order_by(ShownRow.id.desc()).limit(self.settings.shown_memory)).all()
            turns = session.scalar(select(func.count()).select_from(TurnRow).where(TurnRow.user_id == user_id)) or 0
            return Profile(user_id, entries, seen, rejected, list(reversed(dict.fromkeys(recent))), turns,
                           user.novelty)

    def export(self, user_id: str) -> dict[str, Any]:
        """Everything stored about the user, as JSON-serializable data ("export my data")."""
        with self._read() as session:
            user = _require_user(session, user_id)
            data: dict[str, Any] = {"user": _as_dict(user), "exported_at": _now().isoformat()}
            for table in reversed(USER_TABLES):
                rows = session.scalars(select(table).where(table.user_id == user_id)
                                       .order_by(*inspect(table).primary_key))
                data[table.__tablename__] = [_as_dict(row) for row in rows]
            return data

    # --- internals ----------------------------------------------------------------------------------
    def _create_engine(self, in_memory: bool) -> Engine:
        try:
            return self._create_engine_unchecked(in_memory)
        except ArgumentError as exc:  # NoSuchModuleError: a dialect or driver name SQLAlchemy does not know
            raise StoreError(f"LINER_DATABASE_URL names a database SQLAlchemy does not know "
                             f"({self.url.drivername}): {_DATABASE_URL_HELP}") from exc
        except ImportError as exc:
            raise StoreError(f"the Python driver for {self.url.drivername} databases is not installed (no module "
                             f"{exc.name!r}): install it into .venv, or {_DATABASE_URL_HELP} (psycopg is "
                             "installed)") from exc

    def _create_engine_unchecked(self, in_memory: bool) -> Engine:
        if not self._sqlite:
            connect_args = {}
            if self.url.get_backend_name() == "postgresql":
                # An unreachable host must fail in seconds with a clear message, not hang on TCP retries.
                connect_args["connect_timeout"] = self.settings.database_connect_timeout_s
            return create_engine(self.url, pool_pre_ping=True, connect_args=connect_args)
        if self._path is not None:
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder of the profile database {self._path} ({exc}): set "
                                 "LINER_DATA_DIR or LINER_DATABASE_URL to a writable place") from exc
        sqlite_args = {"check_same_thread": False, "timeout": 30.0}
        if in_memory:
            engine = create_engine(self.url, connect_args=sqlite_args, poolclass=StaticPool)
        else:
            engine = create_engine(self.url, connect_args=sqlite_args)
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
        """Serialize in-memory use, and turn every database fault into a StoreError that says what to do (the
        transaction has rolled back: nothing of the call was written)."""
        with self._lock:
            try:
                yield
            except (DBAPIError, sqlite3.DatabaseError) as exc:
                raise self._problem(exc) from exc

    def _problem(self, exc: Exception) -> StoreError:
        cause = str(getattr(exc, "orig", None) or exc).strip()
        detail = (cause.splitlines() or [type(exc).__name__])[0].strip()
        text = cause.lower()
        where = self._where()
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return StoreError(
                f"the profile database {where} is corrupt or not an SQLite file ({detail}): move it aside "
                f"(mv {where} {where}.broken) to start with an empty store, or set LINER_DATABASE_URL to another "
                "database")
        if "disk is full" in text or "no space left" in text or "could not extend file" in text:
            return StoreError(f"the profile database {where} could not be written: the disk is full ({detail}); "
                              "free some space, or set LINER_DATABASE_URL to a database on another disk")
        if "unable to open" in text or "readonly" in text or "read-only" in text:
            return StoreError(f"cannot open the profile database {where} for writing ({detail}): fix its "
                              "permissions, or set LINER_DATABASE_URL to another database")
        if isinstance(exc, IntegrityError):
            return StoreError(f"the profile database {where} refused a write ({detail}); if another process wrote "
                              "the same row at the same moment, try again")
        if not self._sqlite and isinstance(exc, (OperationalError, InterfaceError)):
            return StoreError(f"cannot reach the profile database {where} ({detail}): start the database server, "
                              "or fix LINER_DATABASE_URL")
        return StoreError(f"the profile database {where} failed ({detail}): check it, or set LINER_DATABASE_URL "
                          "to another database")

    def _where(self) -> str:
        return str(self._path) if self._path is not None else self.url.render_as_string(hide_password=True)


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


def _parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as exc:  # the value is not echoed: it may hold a password
        raise StoreError(f"LINER_DATABASE_URL is not a database URL ({exc}): {_DATABASE_URL_HELP}") from exc


def _require_user(session: Session, user_id: str) -> UserRow:
    user = session.get(UserRow, user_id)
    if user is None:
        raise UnknownUserError(f"unknown user {user_id!r}: nothing is stored about them (ProfileStore.ensure_user() "
                               "creates one)")
    return user


def _check_user_id(user_id: str) -> None:
    if not isinstance(user_id, str) or not re.fullmatch(r"[0-9a-f]{32}", user_id):
        raise StoreError(f"unknown user {user_id!r}: get an id from ProfileStore.new_anonymous(), "
                         "user_for_token() or ensure_user()")


def _user_row(session: Session, user_id: str) -> UserRow:
    """The user's row, stored now if this is their first write (new users are not stored before)."""
    user = session.get(UserRow, user_id)
    if user is None:
        _check_user_id(user_id)
        _insert_ignoring_conflict(session, UserRow, id=user_id, name=None, created=_now())
        user = session.get(UserRow, user_id)
        assert user is not None  # inserted now, or by a concurrent write of the same user
    return user


def _insert_ignoring_conflict(session: Session, table: type[Base], **values: Any) -> None:
    """INSERT that leaves the row another transaction inserted first (PostgreSQL without a write lock)."""
    try:
        with session.begin_nested():
            session.execute(insert(table).values(**values))
    except IntegrityError:
        pass


def _token_user_id(token: str) -> str:
    """An anonymous user's id: derived from their token, so no row is needed to find them again."""
    return hashlib.sha256(b"liner-user:" + token.encode()).hexdigest()[:32]


def _session_tag(user_id: str, nonce: str) -> str:
    return hashlib.sha256(f"liner-session:{user_id}:{nonce}".encode()).hexdigest()[:16]


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _hash_passphrase(passphrase: str) -> str:
    return _PASSPHRASES.hash(passphrase)


def _check_passphrase(passphrase: str, stored: str | None) -> bool:
    """Whether ``passphrase`` matches ``stored`` (argon2, or a legacy scrypt hash). A missing hash costs the same
    argon2 work as a wrong passphrase, so a name nobody has answers as slowly as a taken one."""
    if stored is not None and stored.startswith(_LEGACY_SCRYPT_PREFIX):
        return _check_legacy_scrypt(passphrase, stored)
    try:
        return _PASSPHRASES.verify(stored or _no_user_hash(), passphrase) and stored is not None
    except (VerificationError, InvalidHashError):  # a wrong passphrase, or a hash no argon2 can read
        return False


def _needs_rehash(stored: str) -> bool:
    return stored.startswith(_LEGACY_SCRYPT_PREFIX) or _PASSPHRASES.check_needs_rehash(stored)


def _check_legacy_scrypt(passphrase: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
        expected = base64.b64decode(digest, validate=True)
        computed = hashlib.scrypt(passphrase.encode(), salt=base64.b64decode(salt, validate=True), **_LEGACY_SCRYPT)
    except ValueError:  # not "scrypt$SALT$DIGEST" in base64: matches nothing
        log.warning("a stored scrypt passphrase hash is malformed; its owner must set a new passphrase")
        return False
    return hmac.compare_digest(computed, expected)


@functools.cache
def _no_user_hash() -> str:
    """An argon2 hash of a random secret: what a sign-in for a name nobody has is checked against."""
    return _PASSPHRASES.hash(secrets.token_urlsafe(32))


def _upsert_preferences(session: Session, user_id: str, preferences: Iterable[Preference],
                        turn_id: int | None) -> None:
    latest = {p.node_id: p for p in preferences}  # a node said twice in one message: the last word counts
    if not latest:
        return
    existing = {row.node_id: row for row in session.scalars(
        select(PreferenceRow).where(PreferenceRow.user_id == user_id, PreferenceRow.node_id.in_(latest)))}
    for node_id, preference in latest.items():
        if preference.polarity == 0:
            raise ValueError(f"preference {node_id!r} has polarity 0; use +1 (likes) or -1 (dislikes)")
        values = {
            "kind": preference.kind,
            "label": _clean(preference.label, LABEL_CHARS),
            "polarity": 1 if preference.polarity > 0 else -1,
            "weight": min(1.0, max(0.0, preference.strength)),
            "updated_turn": turn_id,
        }
        row = existing.get(node_id)
        if row is None:
            session.add(PreferenceRow(user_id=user_id, node_id=node_id, **values))
        else:
            for key, value in values.items():
                setattr(row, key, value)


def _add_shown(session: Session, user_id: str, turn_id: int, cards: list[ShownCard]) -> None:
    session.add_all(ShownRow(user_id=user_id, turn_id=turn_id, item_id=card.item_id, rank=card.rank,
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
        elif kind == "remove" and (removed := item_id_of(item_id)) is not None:
            rejected.discard(removed)  # a "remove" event's item_id holds the removed entry's node id
    return seen, rejected


def _clean(text: str, limit: int | None) -> str:
    """Text as given, minus control characters (tab and newline kept), cut to ``limit`` characters."""
    text = strip_control(text)
    return text[:limit] if limit is not None else text


def _as_dict(row: Base) -> dict[str, Any]:
    values = {attr.key: getattr(row, attr.key) for attr in inspect(row).mapper.column_attrs}
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in values.items()}


def _now() -> datetime:
    return datetime.now(timezone.utc)
