"""What one message says, as data: the output of conversation.nlu, the input of the store and the policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from conversation.questions import Question
from core.mention import Mention
from core.preferences import Constraints, Preference, ProfileUpdate


class Intent(str, Enum):
    GREET = "greet"
    RECOMMEND = "recommend"       # "recommend something", or simply stating tastes
    MORE_LIKE = "more_like"       # "more like Arrival"
    WHY = "why"                   # "why Arrival?"
    RESET = "reset"               # "start over"
    INFORM = "inform"             # states tastes/seen/mood without asking
    QUESTION = "question"         # "who directed Arrival?": asks about a film, states no taste
    CLARIFY = "clarify"           # "the Nolan one" with two Nolan films on the cards: we must ask which
    UNKNOWN = "unknown"


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
    question: Question | None = None
    """What a QUESTION asks, and about which films."""
    clarify: str | None = None
    """For CLARIFY: the short question to ask back ("Which one do you mean: Heat or Inception?")."""
    clarify_options: list[str] = field(default_factory=list)
    """Item ids the clarifying question offers (shown as its cards)."""

    def profile_update(self) -> ProfileUpdate:
        """What this message teaches the profile store."""
        return ProfileUpdate(tuple(self.preferences), tuple(self.seen), self.novelty)
