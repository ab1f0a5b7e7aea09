"""A message cut into units (words, cue phrases, linked mentions, mood words) and the units into clauses (at
. ! ? ; : and "but"/"although") and segments (at commas and "and"/"or"); the targets a verdict is about."""

from __future__ import annotations

from dataclasses import dataclass, field

from conversation.lexicon import PLAIN, Cue, PhraseTable
from conversation.message_text import IGNORABLE, TOKEN
from conversation.moods import Mood
from core.ids import node_id
from core.mention import Mention
from core.vocabulary import Kind

CLAUSE_END = frozenset(".!?;:")
_STATEMENT = (Cue.FIRST, Cue.THIRD, Cue.SENT, Cue.SEEN, Cue.ASK_SEEN, Cue.WHY)
"""Cues that make a clause a statement about someone's taste or viewing, not an open answer."""


@dataclass(slots=True)
class Target:
    """What a verdict is about: a linked mention, a mood word, or what a pronoun refers to."""

    node_id: str
    kind: str
    label: str
    unit: int
    mention: Mention | None = None
    mood: Mood | None = None
    polarity: int = 0
    strength: float = 0.0
    excluded: bool = False
    seen: bool = False
    decided: bool = False
    why_target: bool = False


@dataclass(slots=True)
class Unit:
    text: str
    start: int
    end: int
    cats: dict[Cue, object] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)

    @property
    def is_target(self) -> bool:
        return bool(self.targets)


@dataclass
class Clause:
    units: list[int]
    question: bool
    segments: list[list[int]] = field(default_factory=list)
    request: bool = False


def build_units(text: str, mentions: list[Mention], table: PhraseTable) -> list[Unit]:
    """The units of a message: each mention's span is one unit, the longest table phrase is one unit."""
    raw: list[Unit] = []
    groups: dict[tuple[int, int], list[Mention]] = {}
    for mention in mentions:
        groups.setdefault((mention.start, mention.end), []).append(mention)
    spans = sorted(groups)
    span_index = 0
    for match in TOKEN.finditer(text):
        start, end = match.start(), match.end()
        while span_index < len(spans) and spans[span_index][0] < end:
            raw.append(_mention_unit(text, spans[span_index], groups))
            span_index += 1
        if raw and raw[-1].is_target and start < raw[-1].end:
            continue
        token = match.group().lower()
        if token in IGNORABLE:
            continue
        raw.append(Unit(token, start, end))
    for span in spans[span_index:]:
        raw.append(_mention_unit(text, span, groups))

    units: list[Unit] = []
    i = 0
    while i < len(raw):
        word = raw[i]
        if word.is_target:
            units.append(word)
            i += 1
            continue
        key: tuple[str, ...] = ()
        end = None
        for j in range(i, len(raw)):
            if raw[j].is_target:
                break
            key += (raw[j].text,)
            if key not in table.prefixes:
                break
            if key in table.phrases:
                end = j + 1
        if end is not None:
            window = raw[i:end]
            units.append(Unit(" ".join(u.text for u in window), window[0].start, window[-1].end,
                              dict(table.phrases[tuple(u.text for u in window)])))
            i = end
        else:
            if word.text.endswith("n't"):
                word.cats[Cue.NEG] = None
            units.append(word)
            i += 1

    lexicon = table.lexicon
    for index, unit in enumerate(units):
        for target in unit.targets:
            target.unit = index
        if unit.text == "like" and not unit.cats:
            previous = previous_word(units, index)
            if previous in lexicon.would:
                unit.cats[Cue.REQUEST] = None
            elif previous in lexicon.subjects:
                unit.cats[Cue.SENT] = (1, PLAIN)
            else:
                unit.cats[Cue.SIMILAR] = None
        if unit.text == "into" and not unit.cats and (
                previous_word(units, index, skip_intens=False) in lexicon.into_after):
            unit.cats[Cue.SENT] = (1, PLAIN)  # "I'm into", "really into", "not into" (not "turned into")
        if Cue.MOOD in unit.cats:
            if index and Cue.POSSESSIVE in units[index - 1].cats:
                del unit.cats[Cue.MOOD]
            else:
                mood = table.moods[unit.cats[Cue.MOOD]]
                unit.targets = [Target(node_id(Kind.MOOD, mood.name), "mood", mood.name, index, mood=mood)]
    return units


def _mention_unit(text: str, span: tuple[int, int], groups: dict[tuple[int, int], list[Mention]]) -> Unit:
    unit = Unit(text[span[0]:span[1]].lower(), span[0], span[1])
    unit.targets = [Target(m.node_id, m.kind, m.label, -1, mention=m) for m in groups[span]]
    return unit


def previous_word(units: list[Unit], index: int, skip_intens: bool = True) -> str:
    """The word before unit `index` (past intensifiers and hedges unless told not to), within two units."""
    for j in range(index - 1, max(index - 3, -1), -1):
        if skip_intens and (Cue.INTENS in units[j].cats or Cue.HEDGE in units[j].cats):
            continue
        return units[j].text
    return ""


def split_clauses(units: list[Unit]) -> list[Clause]:
    """The clauses of the units, each cut into segments, with whether it asks or requests something."""
    clauses: list[Clause] = []
    current: list[int] = []
    for index, unit in enumerate(units):
        if unit.text in CLAUSE_END or Cue.CONTRAST in unit.cats:
            if current:
                clauses.append(Clause(current, unit.text == "?"))
            current = []
            continue
        current.append(index)
    if current:
        clauses.append(Clause(current, False))
    for clause in clauses:
        segment: list[int] = []
        for index in clause.units:
            if Cue.SEP in units[index].cats and not units[index].is_target:
                if segment:
                    clause.segments.append(segment)
                segment = []
            else:
                segment.append(index)
        if segment:
            clause.segments.append(segment)
        clause.request = any(Cue.REQUEST in units[i].cats or Cue.SIMILAR in units[i].cats for i in clause.units)
        clause.question = clause.question or any(Cue.ASK_SEEN in units[i].cats for i in clause.units)
    return clauses


def is_open(units: list[Unit], clause: Clause) -> bool:
    """A request, or a clause that states nothing: an answer such as "The Matrix (1999)", "80's",
    "sci-fi or rom-coms, nothing too dark". What it names is what the user wants."""
    if clause.request:
        return True
    names_a_film = any(t.kind in ("item", "person") for i in clause.units for t in units[i].targets)
    return any(units[i].is_target or year_of(units[i].text) for i in clause.units) and not any(
        cat in units[i].cats for i in clause.units for cat in _STATEMENT) and not (
        names_a_film and any(t.mood is not None and t.mood.praise for i in clause.units for t in units[i].targets))


def year_of(text: str) -> int | None:
    """The year a word says ("1999"), None when it is not one."""
    if len(text) == 4 and text.isdigit() and 1900 <= int(text) <= 2039:
        return int(text)
    return None
