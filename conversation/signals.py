"""What one message says, as data: the output of conversation.nlu, the input of the store and the policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Intent(str, Enum):
    GREET = "greet"
    RECOMMEND = "recommend"       # "recommend something", or simply stating tastes
    MORE_LIKE = "more_like"       # "more like Arrival"
    WHY = "why"                   # "why Arrival?"
    RESET = "reset"               # "start over"
    INFORM = "inform"             # states tastes/seen/mood without asking
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Mention:
    """A span of the message linked to a knowledge-graph node."""

    node_id: str
    kind: str  # item | person | genre | keyword | decade
    label: str
    surface: str
    start: int
    end: int
    score: float = 1.0


@dataclass(frozen=True)
class Preference:
    node_id: str
    kind: str  # item | person | genre | keyword | decade | mood
    label: str
    polarity: int  # +1 like, -1 dislike
    strength: float = 1.0


@dataclass
class Constraints:
    year_min: int | None = None
    year_max: int | None = None
    include_genres: list[str] = field(default_factory=list)
    exclude_genres: list[str] = field(default_factory=list)
    moods: list[str] = field(default_factory=list)
    """Mood words as said ("light", "dark", "funny"); nlu maps them to genres/keywords in include/exclude."""

    @property
    def is_empty(self) -> bool:
        return not (self.year_min or self.year_max or self.include_genres or self.exclude_genres or self.moods)


@dataclass
class Signals:
    text: str
    """The message as understood (cleaned, truncated)."""
    intent: Intent = Intent.UNKNOWN
    mentions: list[Mention] = field(default_factory=list)
    preferences: list[Preference] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    """Item ids the user says they have already seen."""
    constraints: Constraints = field(default_factory=Constraints)
    target_item: str | None = None
    """Item id for "more like X" / "why X"."""
    novelty: str | None = None
    """"familiar" or "new" if the user said which they want."""
    notes: list[str] = field(default_factory=list)
    """Things to tell the user about their input (e.g. "your message was truncated")."""
