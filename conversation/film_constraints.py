"""How long and in which language: "something short", "under two hours", "not too long", "a long epic", "90
minutes or less"; "in French", "a Korean film", "a foreign-language film", "with subtitles".

The words are the "film_constraints" section of assets/nlu_lexicon.json. A language word inside a title or name
("The French Connection", "Dawn French") says nothing about the language; the spans read here are returned so
that the linker's mentions inside them ("French" as a keyword) are not also read as tastes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from conversation.lexicon import LEXICON_FILE, load_section
from conversation.message_text import normalize_phrase
from core.mention import Mention

ENGLISH = "en"


@dataclass(frozen=True)
class FilmConstraintWords:
    runtime: dict[str, tuple[int | None, int | None]]
    """Phrase -> (min, max) minutes."""
    below: tuple[str, ...]
    above: tuple[str, ...]
    after: dict[str, str]
    """Words after a duration that make it a bound: "or less" -> max."""
    negators: tuple[str, ...]
    """Words just before a bound that turn it round: "nothing shorter than 2 hours" is at least 2 hours."""
    hour_words: frozenset[str]
    numbers: dict[str, float]
    languages: dict[str, str]
    foreign: tuple[str, ...]
    not_language: frozenset[str]
    """Words that make a language word before them something else ("French fries")."""
    duration: re.Pattern
    """"under 2 hours", "90 minutes or less": a bound, a number and a unit."""


@lru_cache(maxsize=4)
def constraint_words(assets_dir: Path) -> FilmConstraintWords:
    data = load_section(Path(assets_dir) / LEXICON_FILE, "film_constraints")
    below = tuple(normalize_phrase(p) for p in data["runtime_below"])
    above = tuple(normalize_phrase(p) for p in data["runtime_above"])
    after = {normalize_phrase(k): v for k, v in data["runtime_after"].items()}
    numbers = {normalize_phrase(k): float(v) for k, v in data["number_words"].items()}
    units = list(data["hour_words"]) + list(data["minute_words"])
    return FilmConstraintWords(
        runtime={normalize_phrase(k): (v.get("min"), v.get("max")) for k, v in data["runtime"].items()},
        below=below, above=above, after=after,
        negators=tuple(normalize_phrase(p) for p in data["runtime_negators"]),
        hour_words=frozenset(data["hour_words"]), numbers=numbers,
        languages={normalize_phrase(k): v for k, v in data["languages"].items()},
        foreign=tuple(normalize_phrase(p) for p in data["foreign"]),
        not_language=frozenset(data["not_language"]),
        duration=re.compile(
            rf"(?<![\w'])(?:(?P<below>{_alternatives(below)})|(?P<above>{_alternatives(above)}))?\s*"
            rf"(?P<n>\d+(?:\.\d+)?|{_alternatives(numbers)})\s*(?P<unit>{_alternatives(units)})(?![\w'])"
            rf"(?:\s+(?P<after>{_alternatives(after)})(?![\w']))?"),
    )


def _alternatives(phrases) -> str:
    """A regex alternation of phrases, longest first, any run of spaces between words."""
    return "|".join(r"\s+".join(map(re.escape, p.split())) for p in sorted(phrases, key=len, reverse=True))


@dataclass
class FilmConstraints:
    runtime_min: int | None = None
    runtime_max: int | None = None
    languages: list[str] = field(default_factory=list)
    exclude_languages: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    """Where in the message they were said."""


def film_constraints(text: str, mentions: list[Mention], words: FilmConstraintWords) -> FilmConstraints:
    """The runtime and language limits of a cleaned message; words inside a title or a name are not read."""
    lowered = text.lower().replace("-", " ")
    names = [(m.start, m.end) for m in mentions if m.kind in ("item", "person")]
    found = FilmConstraints()

    def free(start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e in names)

    for match in words.duration.finditer(lowered):
        if not free(match.start(), match.end()):
            continue
        minutes = _minutes(match.group("n"), match.group("unit"), words)
        if minutes is None:
            continue
        bound = "max" if match.group("below") else "min" if match.group("above") else \
            words.after.get(normalize_phrase(match.group("after") or ""))
        before = " ".join(lowered[:match.start()].split()[-2:])
        if bound and any(_phrase(n).search(before) for n in words.negators):
            bound = "min" if bound == "max" else "max"
        if bound == "max":
            found.runtime_max = minutes
        elif bound == "min":
            found.runtime_min = minutes
        else:
            continue
        found.spans.append(match.span())
    if found.runtime_min is None and found.runtime_max is None:
        for phrase, (low, high) in sorted(words.runtime.items(), key=lambda kv: -len(kv[0])):
            match = _phrase(phrase).search(lowered)
            if match and free(*match.span()) and not _inside(match.span(), found.spans):
                found.runtime_min, found.runtime_max = low, high
                found.spans.append(match.span())
                break
    for phrase, code in sorted(words.languages.items(), key=lambda kv: -len(kv[0])):
        for match in _phrase(phrase).finditer(lowered):
            following = lowered[match.end():].split()[:1]
            if not free(*match.span()) or _inside(match.span(), found.spans) or (
                    following and following[0].strip(".,!?") in words.not_language):
                continue
            if code not in found.languages:
                found.languages.append(code)
            found.spans.append(match.span())
    for phrase in sorted(words.foreign, key=len, reverse=True):
        match = _phrase(phrase).search(lowered)
        if match and free(*match.span()) and not _inside(match.span(), found.spans):
            found.spans.append(match.span())
            if ENGLISH not in found.languages:
                found.exclude_languages = [ENGLISH]
    if found.exclude_languages and found.languages:
        found.exclude_languages = []  # "a foreign film in Korean" is simply Korean
    return found


def _inside(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(s <= span[0] and span[1] <= e for s, e in spans)


@lru_cache(maxsize=512)
def _phrase(phrase: str) -> re.Pattern:
    return re.compile(r"(?<![\w'])" + r"\s+".join(map(re.escape, phrase.split())) + r"(?![\w'])")


def _minutes(number: str, unit: str, words: FilmConstraintWords) -> int | None:
    value = words.numbers.get(normalize_phrase(number))
    if value is None:
        try:
            value = float(number)
        except ValueError:
            return None
    minutes = value * 60 if unit in words.hour_words else value
    return int(round(minutes)) if 20 <= minutes <= 600 else None
