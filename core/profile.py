"""What the app believes about a user: the snapshot the recommender reads and the UI shows."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.ids import item_id_of


@dataclass(frozen=True)
class ProfileEntry:
    node_id: str
    """Knowledge-graph node: "item:<item_id>", "person:<name>", "genre:<Genre>", "keyword:<kw>", "decade:1990s",
    or "mood:<word>" for moods that are not graph nodes."""
    kind: str
    """item | person | genre | keyword | decade | mood"""
    label: str
    polarity: int
    """+1 liked, -1 disliked."""
    weight: float
    """Strength after per-turn decay (1.0 = said this turn, firmly)."""

    @property
    def item_id(self) -> str | None:
        """The catalog item id of an item entry, None for an entry of another kind."""
        return item_id_of(self.node_id)


@dataclass
class Profile:
    user_id: str
    entries: list[ProfileEntry] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    """Item ids the user has seen (never recommended again)."""
    rejected: set[str] = field(default_factory=set)
    """Item ids the user turned down ("not for me"); never recommended again."""
    shown: list[str] = field(default_factory=list)
    """Item ids already shown as cards, most recent last."""
    turns: int = 0
    novelty: str | None = None
    """"familiar" or "new" when the user said which they prefer."""

    def liked(self, kind: str | None = None) -> list[ProfileEntry]:
        return [e for e in self.entries if e.polarity > 0 and (kind is None or e.kind == kind)]

    def disliked(self, kind: str | None = None) -> list[ProfileEntry]:
        return [e for e in self.entries if e.polarity < 0 and (kind is None or e.kind == kind)]

    @property
    def is_empty(self) -> bool:
        return not self.entries and not self.seen and not self.rejected
