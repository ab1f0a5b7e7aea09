"""The ORM mapping of the profile store's current schema: users, sign-in tokens, sessions, turns, preferences,
feedback and shown cards. The DDL that creates and upgrades it lives in store/migrations.py; a test compares the
two."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

LABEL_CHARS = 400
NAME_CHARS = 200


class Base(DeclarativeBase):
    pass


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(NAME_CHARS), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    novelty: Mapped[str | None] = mapped_column(String(16))
    passphrase_hash: Mapped[str | None] = mapped_column(String(200))


class TokenRow(Base):
    """A sign-in token of a user (by hash). Anonymous users need no row here: their id is derived from their
    token (see _token_user_id), so a page load stores nothing."""

    __tablename__ = "user_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SessionRow(Base):
    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    started: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TurnRow(Base):
    __tablename__ = "turns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(32), ForeignKey("sessions.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    reply_text: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(32))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PreferenceRow(Base):
    __tablename__ = "preferences"
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(LABEL_CHARS), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(LABEL_CHARS))
    polarity: Mapped[int] = mapped_column(Integer)
    weight: Mapped[float] = mapped_column(Float)
    updated_turn: Mapped[int | None] = mapped_column(Integer)


class FeedbackRow(Base):
    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(LABEL_CHARS))
    """The item id; for "remove" events the removed profile node id."""
    kind: Mapped[str] = mapped_column(String(16))
    turn: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ShownRow(Base):
    __tablename__ = "shown"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    turn_id: Mapped[int] = mapped_column(Integer, ForeignKey("turns.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(LABEL_CHARS))
    rank: Mapped[int] = mapped_column(Integer)
    explanation: Mapped[str] = mapped_column(Text)
    grounded: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(32))


SCHEMA = Base.metadata
"""The schema the store expects once every migration has run (tests compare it with the migrated database)."""
USER_TABLES: tuple[type[ShownRow | FeedbackRow | PreferenceRow | TurnRow | SessionRow | TokenRow], ...] = (
    ShownRow, FeedbackRow, PreferenceRow, TurnRow, SessionRow, TokenRow)
"""Tables holding a user's rows, children before parents so deletes work without ON DELETE CASCADE."""
