"""What the page shows, as plain data: the handlers return these, the layout turns them into components and the
templates into HTML. Nothing here knows about Gradio."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from conversation.reply import Card
from core.ids import item_node
from core.profile import Profile

PENDING = "pending"
"""A card whose reason is still being written."""

FEEDBACK_NOTES = {
    "like": "Liked. Your next picks will lean this way.",
    "dislike": "Not for you. It won't be shown again.",
    "seen": "Seen. It won't be suggested again.",
}
FEEDBACK_KINDS = tuple(FEEDBACK_NOTES)


@dataclass(frozen=True)
class CardView:
    """One recommendation card on screen."""

    item_id: str
    title: str
    meta: str
    """Year and up to three genres, e.g. "1994 · Crime, Thriller"."""
    reason: str = ""
    reason_state: str = ""
    """pending (being written) | the line's source (llm, rerank, grammar, cache, template) | "" (no reason)."""
    mark: str | None = None
    """What the user said about it: like | dislike | seen."""

    @classmethod
    def of(cls, card: Card, *, pending: bool) -> "CardView":
        meta = " · ".join(part for part in (str(card.year) if card.year else "", ", ".join(card.genres[:3])) if part)
        if card.explanation:
            return cls(card.item_id, card.title, meta, card.explanation, card.explanation_source or "template")
        return cls(card.item_id, card.title, meta, "", PENDING if pending else "")

    def with_reason(self, text: str, source: str) -> "CardView":
        return replace(self, reason=text, reason_state=source)

    def marked(self, kind: str) -> "CardView":
        return replace(self, mark=kind)

    @property
    def pending(self) -> bool:
        return self.reason_state == PENDING


@dataclass(frozen=True)
class ProfileRow:
    node_id: str
    label: str
    weight: float | None
    """Rounded preference weight; None for seen / turned-down titles (they carry none)."""


@dataclass(frozen=True)
class ProfileSection:
    title: str
    rows: tuple[ProfileRow, ...]


def profile_sections(profile: Profile | None, label_of: Callable[[str], str]) -> list[ProfileSection]:
    """The profile grouped for display, strongest first in each group; empty groups left out."""
    if profile is None:
        return []

    def rows(entries) -> list[ProfileRow]:
        return [ProfileRow(e.node_id, e.label, round(e.weight, 2)) for e in sorted(entries, key=lambda e: -e.weight)]

    def titles(item_ids) -> list[ProfileRow]:
        return [ProfileRow(node, label_of(node), None) for node in map(item_node, sorted(item_ids))]

    liked = profile.liked()
    disliked = profile.disliked()
    disliked_items = {e.item_id for e in disliked}
    groups = [
        ("Titles you like", rows(e for e in liked if e.kind == "item")),
        ("People you like", rows(e for e in liked if e.kind == "person")),
        ("Genres you like", rows(e for e in liked if e.kind == "genre")),
        ("Moods", rows(e for e in liked if e.kind == "mood")),
        ("Other things you like", rows(e for e in liked if e.kind in {"keyword", "decade"})),
        ("Not for you", rows(disliked) + titles(profile.rejected - disliked_items)),
        ("Seen", titles(profile.seen)),
    ]
    return [ProfileSection(title, tuple(entries)) for title, entries in groups if entries]


@dataclass
class Changes:
    """What one handler changes on the page. None leaves that part as it is."""

    history: list[dict[str, Any]] | None = None
    """The whole conversation, as Gradio's messages format ({"role", "content"})."""
    message: str | None = None
    """The text box (set to "" to clear it after sending)."""
    chips: list[str] | None = None
    cards: list[CardView] | None = None
    """Every card on screen (an empty list hides them all)."""
    profile: list[ProfileSection] | None = None
    notes: str | None = None
    """Short notes under the chat: truncation, an unsaved turn, reasons written from templates."""
    status: str | None = None
    """The line under the profile panel's buttons: sign-in, export, forget."""
    why_open: bool | None = None
    why_html: str | None = None
    forget_confirm: bool | None = None
    diversity_note: str | None = None
    export_json: str | None = None
    """This visitor's data, handed to the page to download (never written to a file on the server)."""
    token: str | None = None
    """The secret the browser keeps to come back as the same user (see webui.visitor)."""
    passphrase: str | None = None
    """The passphrase box (set to "" to clear it)."""

    def merged(self, later: "Changes") -> "Changes":
        """These changes followed by `later` (its set fields win)."""
        values = {name: value for name, value in vars(later).items() if value is not None}
        return replace(self, **values)
