"""The typed result of one turn, as the UI, the terminal chat and the evaluators receive it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from core.profile import Profile


@dataclass
class Card:
    item_id: str
    title: str
    year: int | None
    genres: list[str]
    explanation: str = ""
    """Empty until the explanation is written (the UI streams it in)."""
    grounded: bool = False
    """True when the line passed the grounding check (LLM line) or was built from evidence (template)."""
    explanation_source: str = ""
    """llm | template | cache | "" (not explained yet)."""
    score: float = 0.0


@dataclass
class Reply:
    action: str
    """ask | recommend | explain | answer (a question about a film) | clarify (which film was meant) | reset |
    info"""
    text: str
    cards: list[Card] = field(default_factory=list)
    chips: list[str] = field(default_factory=list)
    """Quick-pick suggestions the user can click instead of typing."""
    profile: Profile | None = None
    notes: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    done: bool = True
    """False for the partial replies a streaming turn yields before its explanations are all written."""

    def to_json(self) -> dict:
        return {
            "action": self.action,
            "text": self.text,
            "cards": [asdict(card) for card in self.cards],
            "chips": list(self.chips),
            "profile": profile_to_json(self.profile) if self.profile else None,
            "notes": list(self.notes),
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }


def profile_to_json(profile: Profile) -> dict:
    return {
        "user_id": profile.user_id,
        "liked": [_entry(e) for e in profile.liked()],
        "disliked": [_entry(e) for e in profile.disliked()],
        "seen": sorted(profile.seen),
        "rejected": sorted(profile.rejected),
        "novelty": profile.novelty,
        "turns": profile.turns,
    }


def _entry(entry) -> dict:
    return {"node_id": entry.node_id, "kind": entry.kind, "label": entry.label, "weight": round(entry.weight, 3)}
