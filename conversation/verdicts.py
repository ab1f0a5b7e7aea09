"""What the cues of one segment say about its targets: sentiment with negation and intensity, seen, exclusion."""

from __future__ import annotations

from dataclasses import dataclass

from conversation.lexicon import PLAIN, STRONG, WEAK, Cue
from conversation.units import Unit


@dataclass(frozen=True)
class SentimentCue:
    position: int
    """Where in the segment the cue stands."""
    polarity: int
    strength: float


def sentiment_cues(units: list[Unit], segment: list[int], praise_ok: bool) -> list[SentimentCue]:
    """The user's own sentiment cues of a segment, negation, intensifiers and hedges applied; praise_ok: a
    praising mood word ("hilarious") counts as liking."""
    cues = []
    for at, index in enumerate(segment):
        unit = units[index]
        if Cue.SENT in unit.cats:
            polarity, strength = unit.cats[Cue.SENT]
        elif Cue.TOO in unit.cats and at + 1 < len(segment):
            polarity, strength = -1, PLAIN
        elif praise_ok and unit.targets and unit.targets[0].mood is not None and unit.targets[0].mood.praise:
            polarity, strength = 1, PLAIN
        else:
            continue
        if _someone_else(units, segment, at):
            continue
        negated, boosted, hedged = _negated(units, segment, at)
        if negated:
            strength = PLAIN if (polarity > 0 and strength == PLAIN) else WEAK
            polarity = -polarity
        elif boosted and strength == PLAIN:
            strength = STRONG
        elif hedged:
            strength = PLAIN if strength == STRONG else WEAK
        cues.append(SentimentCue(at, polarity, strength))
    return cues


def seen_cue(units: list[Unit], segment: list[int], question: bool) -> bool:
    """Whether the segment says the user has seen what it names."""
    if question:
        return False
    for at, index in enumerate(segment):
        if Cue.SEEN in units[index].cats:
            negated, _, _ = _negated(units, segment, at, window=2)
            if not negated and not _someone_else(units, segment, at):
                return True
    return False


def excluded(units: list[Unit], segment: list[int], at: int) -> bool:
    """Whether an exclusion cue ("no", "nothing too", "don't want any") stands right before position `at`."""
    for j in reversed(segment[:at]):
        cats = units[j].cats
        if Cue.EXCL in cats:
            return True
        if Cue.FILLER in cats and not units[j].is_target:
            continue
        return False
    return False


def dummy_pronoun(units: list[Unit], segment: list[int], at: int, dummy_next: frozenset[str]) -> bool:
    """"I hate it when…", "I'd like it to be funny": the pronoun points forward, not at a film."""
    return at + 1 < len(segment) and units[segment[at + 1]].text in dummy_next


def _negated(units: list[Unit], segment: list[int], at: int, window: int = 3) -> tuple[bool, bool, bool]:
    """(negated, intensified, hedged) from the few units before position `at` of the segment."""
    negated = boosted = hedged = False
    for j in reversed(segment[max(0, at - window):at]):
        cats = units[j].cats
        if Cue.SENT in cats or Cue.SEEN in cats:
            break
        negated = negated or Cue.NEG in cats
        boosted = boosted or Cue.INTENS in cats
        hedged = hedged or Cue.HEDGE in cats
    return negated, boosted, hedged


def _someone_else(units: list[Unit], segment: list[int], at: int) -> bool:
    """Whether the cue at position `at` states someone else's taste ("my wife likes it", "do you like X")."""
    for j in reversed(segment[:at]):
        if Cue.FIRST in units[j].cats:
            return False
        if Cue.THIRD in units[j].cats:
            return True
    return False
