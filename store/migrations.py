"""Schema migrations of the profile store: small registered functions, applied in order, recorded with the time.

Each migration receives a Connection inside the migration transaction and states its DDL explicitly (its own
MetaData), so it keeps describing the schema *as it was* when later migrations change it. Never edit a migration
that has shipped: register a new one (``@migration`` below the others) that alters what is there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
    text,
)
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

MigrationFn = Callable[[Connection], None]

SCHEMA_LOCK_KEY = 0x4C494E45524E4F54
"""PostgreSQL advisory-lock key held while migrating ("LINERNOT" in ASCII; any constant shared by all versions)."""


@dataclass(frozen=True)
class Migration:
    name: str
    apply: MigrationFn


MIGRATIONS: list[Migration] = []
"""Every migration of the store, in the order they are applied."""


def migration(fn: MigrationFn) -> MigrationFn:
    """Register ``fn`` as the next migration; its name is its identity in the ``migrations`` table."""
    if any(m.name == fn.__name__ for m in MIGRATIONS):
        raise ValueError(f"migration {fn.__name__} is registered twice (store/migrations.py)")
    MIGRATIONS.append(Migration(fn.__name__, fn))
    return fn


def _migrations_table(metadata: MetaData) -> Table:
    return Table(
        "migrations",
        metadata,
        Column("name", String(100), primary_key=True),
        Column("applied_at", DateTime(timezone=True), nullable=False),
    )


def migrate(connection: Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply the migrations not yet recorded, in order, inside the caller's transaction; return their names.

    Two processes starting at once on an empty database apply each migration exactly once: the schema lock
    (see _lock_schema) makes the second wait until the first has committed, then it finds them recorded.
    """
    steps = MIGRATIONS if migrations is None else migrations
    _lock_schema(connection)
    table = _migrations_table(MetaData())
    table.create(connection, checkfirst=True)
    applied = set(connection.scalars(select(table.c.name)))
    unknown = applied - {m.name for m in steps}
    if unknown:
        log.warning("profile database has migrations this version does not know (%s): it was written by a "
                    "newer Liner Notes", ", ".join(sorted(unknown)))
    done = []
    for step in steps:
        if step.name in applied:
            continue
        log.info("applying profile-store migration %s", step.name)
        step.apply(connection)
        connection.execute(table.insert().values(name=step.name, applied_at=datetime.now(timezone.utc)))
        done.append(step.name)
    return done


def _lock_schema(connection: Connection) -> None:
    """Hold the schema lock until the caller's transaction ends. PostgreSQL: a transaction-level advisory lock
    (without it, two first starts race on CREATE TABLE and one fails with IntegrityError). SQLite: the caller's
    BEGIN IMMEDIATE already is the lock (the store opens its write transactions that way)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})


def applied_migrations(engine: Engine) -> list[tuple[str, datetime]]:
    """(name, applied_at) of every recorded migration, in the order applied."""
    table = _migrations_table(MetaData())
    with engine.connect() as connection:
        rows = connection.execute(select(table.c.name, table.c.applied_at).order_by(table.c.applied_at, table.c.name))
        return [(row.name, row.applied_at) for row in rows]


@migration
def m001_initial(connection: Connection) -> None:
    metadata = MetaData()
    Table(
        "users",
        metadata,
        Column("id", String(32), primary_key=True),
        Column("name", String(200), unique=True, nullable=True),
        Column("created", DateTime(timezone=True), nullable=False),
        Column("novelty", String(16), nullable=True),
    )
    Table(
        "sessions",
        metadata,
        Column("id", String(32), primary_key=True),
        Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("started", DateTime(timezone=True), nullable=False),
    )
    Table(
        "turns",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("session_id", String(32), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        Column("index", Integer, nullable=False),
        Column("message", Text, nullable=False),
        Column("reply_text", Text, nullable=False),
        Column("action", String(32), nullable=False),
        Column("created", DateTime(timezone=True), nullable=False),
        Index("ix_turns_user_id", "user_id", "id"),
        Index("ix_turns_session_id", "session_id"),
    )
    Table(
        "preferences",
        metadata,
        Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        Column("node_id", String(400), primary_key=True),  # the key makes a node unique per user
        Column("kind", String(16), nullable=False),
        Column("label", String(400), nullable=False),
        Column("polarity", Integer, nullable=False),
        Column("weight", Float, nullable=False),
        Column("updated_turn", Integer, nullable=True),
    )
    Table(
        "feedback",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        Column("item_id", String(400), nullable=False),
        Column("kind", String(16), nullable=False),
        Column("turn", Integer, nullable=True),
        Column("created", DateTime(timezone=True), nullable=False),
        Index("ix_feedback_user_id", "user_id", "id"),
    )
    Table(
        "shown",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        Column("turn_id", Integer, ForeignKey("turns.id", ondelete="CASCADE"), nullable=False),
        Column("item_id", String(400), nullable=False),
        Column("rank", Integer, nullable=False),
        Column("explanation", Text, nullable=False),
        Column("grounded", Boolean, nullable=False),
        Column("source", String(32), nullable=False),
        Index("ix_shown_user_id", "user_id", "id"),
        Index("ix_shown_turn_id", "turn_id"),
    )
    metadata.create_all(connection)


@migration
def m002_identity(connection: Connection) -> None:
    """Secrets instead of bare names: a passphrase hash on users, and the hashes of the tokens signed in with it."""
    connection.execute(text("ALTER TABLE users ADD COLUMN passphrase_hash VARCHAR(200)"))
    metadata = MetaData()
    Table("users", metadata, Column("id", String(32), primary_key=True))  # for the foreign key only
    Table(
        "user_tokens",
        metadata,
        Column("token_hash", String(64), primary_key=True),
        Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("created", DateTime(timezone=True), nullable=False),
    )
    metadata.tables["user_tokens"].create(connection)
