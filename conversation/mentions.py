"""The mentions a message is read with: the linker's, made safe and stripped of our own cue words, plus the
decades it left alone."""

from __future__ import annotations

import bisect
from collections.abc import Callable

from conversation.lexicon import Cue, PhraseTable
from conversation.units import CLAUSE_END, build_units
from core.ids import node_id
from core.mention import Mention
from core.vocabulary import DECADE_PHRASE, Kind, decade_start

Linker = Callable[[str], list[Mention]]
"""Entity linker: message text → non-overlapping mentions (knowledge_graph.aliases.AliasIndex.link)."""

_WEAK_CUES = frozenset({Cue.FILLER, Cue.SEP, Cue.POSSESSIVE})
"""Categories that never outrank a linked mention ("comedy movies" stays a genre)."""


def find_mentions(text: str, link: Linker, table: PhraseTable) -> list[Mention]:
    """The mentions of a cleaned message in text order."""
    linked = _valid_mentions(list(link(text)), text)
    linked = _without_cue_words(linked, text, table)
    return sorted(linked + _decade_mentions(text, linked), key=lambda m: m.start)


def _valid_mentions(mentions: list[Mention], text: str) -> list[Mention]:
    """In-range, non-overlapping mentions in text order; mentions sharing one span ("rom-com") stay together."""
    valid = [m for m in mentions if isinstance(m, Mention) and 0 <= m.start < m.end <= len(text)
             and isinstance(m.node_id, str) and ":" in m.node_id]
    valid.sort(key=lambda m: (m.start, -(m.end - m.start), -m.score))
    kept: list[Mention] = []
    for mention in valid:
        if kept and mention.start < kept[-1].end and (mention.start, mention.end) != (kept[-1].start,
                                                                                          kept[-1].end):
            continue
        if any(k.node_id == mention.node_id and k.start == mention.start for k in kept):
            continue
        kept.append(mention)
    return kept


def _decade_mentions(text: str, taken: list[Mention]) -> list[Mention]:
    """Decades the linker left alone ("80's", "the nineties"), as "decade:1980s" mentions."""
    found = []
    for match in DECADE_PHRASE.finditer(text):
        if any(m.start < match.end() and match.start() < m.end for m in taken):
            continue
        start_year = decade_start(match.group())
        if start_year is None:
            continue
        label = f"{start_year}s"
        found.append(Mention(node_id(Kind.DECADE, label), "decade", label, match.group(), match.start(),
                             match.end()))
    return found


def _at_sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \"'(")
    return not before or before[-1] in CLAUSE_END


def _without_cue_words(mentions: list[Mention], text: str, table: PhraseTable) -> list[Mention]:
    """Drop mentions that are really our cue words: "scary" is a mood, "Surprise me" a request, "It was ok" a
    pronoun. A title or name is only dropped when it is a single cue word that nothing marks as a title."""
    if all(m.kind in ("item", "person") and " " in m.surface.strip() for m in mentions):
        return mentions  # nothing a cue word could be
    cue_units = [u for u in build_units(text, [], table) if any(c not in _WEAK_CUES for c in u.cats)]
    starts = [u.start for u in cue_units]
    kept = []
    for mention in mentions:
        # Units do not overlap: only the last one starting at or before the mention can cover it.
        n = bisect.bisect_right(starts, mention.start) - 1
        cover = cue_units[n] if n >= 0 and mention.end <= cue_units[n].end else None
        if cover is not None and (mention.kind not in ("item", "person") or (
                (cover.start, cover.end) == (mention.start, mention.end) and " " not in mention.surface.strip()
                and (mention.surface[:1].islower() or _at_sentence_start(text, mention.start)))):
            continue
        kept.append(mention)
    return kept
