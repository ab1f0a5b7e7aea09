"""The reading of a message: its units and clauses, and every target with its verdict.

Each target (a mention or a mood) takes its verdict from the cues of its own segment or, without one, from its
list neighbours ("I loved Superbad, Juno and Up"); a pronoun next to a cue takes the place of what it refers to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conversation.lexicon import PLAIN, Cue, Lexicon, PhraseTable
from conversation.units import Clause, Target, Unit, build_units, split_clauses
from conversation.verdicts import dummy_pronoun, excluded, seen_cue, sentiment_cues
from core.ids import item_node
from core.mention import Mention


@dataclass
class Reading:
    units: list[Unit]
    clauses: list[Clause]
    lexicon: Lexicon
    targets: list[Target] = field(default_factory=list)
    """Every target in message order, pronoun references included."""


def read(text: str, mentions: list[Mention], table: PhraseTable, last_item: tuple[str, str] | None) -> Reading:
    """Read a cleaned message with its mentions; last_item: (item id, label) a pronoun may refer to."""
    units = build_units(text, mentions, table)
    reading = Reading(units, split_clauses(units), table.lexicon)
    previous_question: Clause | None = None
    for clause in reading.clauses:
        _answer_seen(reading, clause, previous_question)
        has_cues = [_read_segment(reading, clause, segment, last_item) for segment in clause.segments]
        _inherit(reading, clause, has_cues)
        previous_question = clause if clause.question else None
    return reading


def resolve_pronoun(targets_so_far: list[Target], last_item: tuple[str, str] | None,
                    unit_index: int) -> Target | None:
    """What a pronoun at unit_index refers to: the latest target before it, else the last item shown."""
    for target in reversed(targets_so_far):
        if target.kind != "mood" and not target.why_target:
            return Target(target.node_id, target.kind, target.label, unit_index, mention=target.mention)
    if last_item:
        item_id, label = last_item
        return Target(item_node(item_id), "item", label, unit_index)
    return None


def _read_segment(reading: Reading, clause: Clause, segment: list[int],
                  last_item: tuple[str, str] | None) -> bool:
    """Give the segment's targets the verdicts of its own cues; whether it had any cue."""
    units = reading.units
    cues = sentiment_cues(units, segment, praise_ok=not clause.request)
    seen = seen_cue(units, segment, clause.question)
    targets = [t for i in segment for t in units[i].targets]
    if (cues or seen) and not any(t.kind != "mood" for t in targets):
        for at, index in enumerate(segment):
            if Cue.PRONOUN in units[index].cats and not dummy_pronoun(units, segment, at,
                                                                       reading.lexicon.dummy_next):
                ref = resolve_pronoun(reading.targets, last_item, index)
                if ref is not None:
                    units[index].targets.append(ref)
                    targets.append(ref)
                break
    for target in targets:
        at = segment.index(target.unit)
        own = [c for c in cues if c.position != at or target.mood is None]
        before = [c for c in own if c.position < at]
        after = [c for c in own if c.position > at]
        cue = before[-1] if before else (after[0] if after else None)
        if excluded(units, segment, at):
            target.excluded, target.polarity, target.strength, target.decided = True, -1, PLAIN, True
        elif cue is not None:
            target.polarity, target.strength, target.decided = cue.polarity, cue.strength, True
        if seen and target.kind == "item":
            target.seen = True
    reading.targets.extend(targets)
    return bool(cues or seen or any(Cue.EXCL in units[i].cats for i in segment))


def _inherit(reading: Reading, clause: Clause, has_cues: list[bool]) -> None:
    """Lists share one verdict: "I loved Superbad, Juno and Up", "no horror or gore", "Titanic and Avatar were
    boring" (a list of bare names takes the verdict of the segment that follows it)."""
    units = reading.units
    verdicts: list[tuple[int, float, bool, bool] | None] = []
    for segment, cued in zip(clause.segments, has_cues):
        decided = [t for i in segment for t in units[i].targets if t.decided or t.seen]
        verdicts.append((decided[-1].polarity, decided[-1].strength, decided[-1].excluded, decided[-1].seen)
                        if cued and decided else None)
    for n, segment in enumerate(clause.segments):
        targets = [t for i in segment for t in units[i].targets]
        if has_cues[n] or not targets:
            continue
        verdict = verdicts[n - 1] if n else None
        if verdict is None and _only_targets(units, segment):
            for m in range(n + 1, len(clause.segments)):
                if has_cues[m]:
                    # Only a predicate after its subject looks back: "Avatar were boring", not "nothing dark".
                    if units[clause.segments[m][0]].is_target:
                        verdict = verdicts[m]
                    break
                if not _only_targets(units, clause.segments[m]):
                    break
        if verdict is None:
            continue
        for target in targets:
            target.polarity, target.strength, target.excluded, seen = verdict
            target.seen = seen and target.kind == "item"
            target.decided = target.polarity != 0 or target.excluded
        verdicts[n] = verdict


def _only_targets(units: list[Unit], segment: list[int]) -> bool:
    return all(units[i].is_target or Cue.FILLER in units[i].cats for i in segment)


def _answer_seen(reading: Reading, clause: Clause, question: Clause | None) -> None:
    """"Have you seen Titanic? I have" — the user has seen what the question named."""
    if question is None:
        return
    words = [reading.units[i] for i in clause.units if reading.units[i].text not in reading.lexicon.yes]
    if not words or Cue.ANSWER not in words[0].cats:
        return
    if len(words) > 1 and Cue.NEG in words[1].cats:
        return
    for index in question.units:
        for target in reading.units[index].targets:
            if target.kind == "item":
                target.seen = True
