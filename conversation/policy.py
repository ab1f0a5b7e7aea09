"""Decide what a turn does: ask an onboarding question, recommend, explain, answer a question about a film, ask
which film was meant, or start over."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from conversation.signals import Intent, Signals
from core.profile import Profile


@dataclass(frozen=True)
class Decision:
    action: Literal["ask", "recommend", "explain", "answer", "clarify", "reset"]
    """A greeting is not an action of its own: it gets the first onboarding question ("ask")."""
    target_item: str | None = None


def has_taste(profile: Profile, signals: Signals) -> bool:
    """Enough to recommend from: something liked, a constraint, or an item to recommend around."""
    return bool(
        profile.liked()
        or any(p.polarity > 0 for p in signals.preferences)
        or not signals.constraints.is_empty
        or signals.target_item
    )


def decide(signals: Signals, profile: Profile, questions_asked: int, questions_total: int,
           shown_before: bool, last_item: str | None = None) -> Decision:
    """last_item: the item the conversation was last about (the top card shown), for a bare "why?"."""
    if signals.intent == Intent.RESET:
        return Decision("reset")
    # A question is answered whatever the profile holds: it states no taste and must not turn into picks.
    if signals.intent == Intent.QUESTION:
        return Decision("answer")
    if signals.intent == Intent.CLARIFY:
        return Decision("clarify")
    if signals.intent == Intent.WHY:
        target = signals.target_item or last_item
        if target:
            return Decision("explain", target)
    if has_taste(profile, signals):
        return Decision("recommend")
    # Cold start: ask the onboarding questions, but never more than there are, and honour an explicit request
    # once one question has been asked — useful cards after at most two answers.
    if signals.intent == Intent.RECOMMEND and (questions_asked >= 1 or shown_before):
        return Decision("recommend")
    if questions_asked < questions_total:
        return Decision("ask")
    return Decision("recommend")
