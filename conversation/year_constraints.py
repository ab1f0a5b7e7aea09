"""The years a message asks for: decades ("the 80's"), years and ranges ("before 2000", "1990 to 2000") and the
words "recent" (the last settings.recent_years years up to the catalog's newest film) and "old"
(settings.old_year_max)."""

from __future__ import annotations

from datetime import date

from conversation.lexicon import Cue
from conversation.reading import Reading
from conversation.units import is_open, year_of
from conversation.verdicts import excluded
from core.ids import NodeId
from core.settings import Settings


def year_constraints(reading: Reading, settings: Settings, newest_year: int | None = None) -> tuple[int | None,
                                                                                                 int | None]:
    """(first year, last year) the user wants, None where they said nothing. Explicit years and decades win
    over "recent" / "old"; contradicting words ("old but recent") say nothing. newest_year: the catalog's newest
    film's year, which "recent" counts back from (this year when not given)."""
    recent_min = (newest_year or date.today().year) - settings.recent_years + 1
    units = reading.units
    explicit_min: list[int] = []
    explicit_max: list[int] = []
    word_min: int | None = None
    word_max: int | None = None
    for clause in reading.clauses:
        open_clause = is_open(units, clause)
        for seg in clause.segments:
            descriptive = any(t.kind == "item" for i in seg for t in units[i].targets)
            for at, index in enumerate(seg):
                unit = units[index]
                prev = units[seg[at - 1]] if at else None
                prev2 = units[seg[at - 2]] if at > 1 else None
                operator = prev if prev is not None and prev.text != "the" else prev2
                nxt = units[seg[at + 1]] if at + 1 < len(seg) else None
                decade = [t for t in unit.targets if t.kind == "decade"]
                year = year_of(unit.text) if not unit.targets else None
                if decade:
                    start = int(NodeId.parse(decade[0].node_id).key[:4])
                    low, high = start, start + 9
                elif year is not None:
                    low = high = year
                else:
                    if not descriptive and (Cue.RECENT in unit.cats or Cue.OLD in unit.cats
                                            or Cue.CLASSICS in unit.cats):
                        negated = excluded(units, seg, at) or (prev is not None and Cue.NEG in prev.cats)
                        if Cue.RECENT in unit.cats:
                            if negated:
                                word_max = recent_min - 1
                            else:
                                word_min = recent_min
                        else:
                            if negated:
                                word_min = settings.old_year_max
                            else:
                                word_max = settings.old_year_max
                    continue
                # "1990 to 2000", "1990-2000"; "between 1990 and 2000" is two segments whose years span it.
                range_start = nxt is not None and (Cue.TO in nxt.cats or year_of(nxt.text) is not None)
                range_end = prev is not None and (Cue.TO in prev.cats or year_of(prev.text) is not None)
                if range_start:
                    explicit_min.append(low)
                elif range_end:
                    explicit_max.append(high)
                elif operator is not None and Cue.BEFORE in operator.cats:
                    explicit_max.append(low - 1)
                elif operator is not None and Cue.AFTER in operator.cats:
                    explicit_min.append(high + 1)
                elif operator is not None and Cue.UNTIL in operator.cats:
                    explicit_max.append(high)
                elif (operator is not None and Cue.SINCE in operator.cats) or (
                        nxt is not None and Cue.OR_LATER in nxt.cats):
                    explicit_min.append(low)
                elif nxt is not None and Cue.OR_EARLIER in nxt.cats:
                    explicit_max.append(high)
                elif decade and decade[0].decided and decade[0].polarity < 0:
                    continue
                elif open_clause:
                    explicit_min.append(low)
                    explicit_max.append(high)
    if explicit_min or explicit_max:
        return (min(explicit_min) if explicit_min else None, max(explicit_max) if explicit_max else None)
    if word_min is not None and word_max is not None and word_min > word_max:
        return None, None
    return word_min, word_max
