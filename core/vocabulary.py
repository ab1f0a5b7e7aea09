"""The domain's words in one place: node kinds and graph relations as enums carrying their phrase, role and
order, the keyword blocklists and the decade words. The words are data (assets/vocabulary.json); this module
only reads and checks them, so a wording change never touches code."""

from __future__ import annotations

import re
import json
from enum import StrEnum
from pathlib import Path
from typing import Any, Iterable

from core.errors import FixableError

VOCABULARY_PATH = Path(__file__).resolve().parent.parent / "assets" / "vocabulary.json"


class VocabularyError(FixableError):
    """The vocabulary file is missing or does not match the enums; the message names the file and the fix."""


def _load(path: Path) -> dict[str, Any]:
    fix = f"restore it with `git checkout -- {path.name}` in {path.parent}"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VocabularyError(f"vocabulary file {path} is unreadable ({exc.__class__.__name__}: {exc}): {fix}") from exc


_DATA = _load(VOCABULARY_PATH)


def _entries(section: str) -> dict[str, Any]:
    return {name: value for name, value in _DATA[section].items() if not name.startswith("_")}


class Kind(StrEnum):
    """What a knowledge-graph node (or a preference) is about; the value is the prefix of its node id."""

    ITEM = "item"
    PERSON = "person"
    GENRE = "genre"
    KEYWORD = "keyword"
    DECADE = "decade"
    MOOD = "mood"
    """Moods are preferences, not graph nodes ("mood:light")."""
    SERIES = "series"
    """A film series (the catalog's `series`, a TMDb collection): "series:Toy Story Collection"."""

    @property
    def link_precedence(self) -> int | None:
        """When one phrase names several kinds, the lowest precedence wins; None for kinds never linked."""
        return _KINDS[self.value]["link_precedence"]


class Relation(StrEnum):
    """The relation on an item–attribute edge of the knowledge graph; members are ordered most telling first."""

    DIRECTED_BY = "directed_by"
    STARS = "stars"
    WRITTEN_BY = "written_by"
    COMPOSED_BY = "composed_by"
    IN_SERIES = "in_series"
    HAS_GENRE = "has_genre"
    HAS_KEYWORD = "has_keyword"
    FROM_DECADE = "from_decade"

    @property
    def phrase(self) -> str:
        """How the relation reads in a sentence, item first: "directed by", "starring", "about"."""
        return _RELATIONS[self.value]["phrase"]

    @property
    def role(self) -> str | None:
        """The catalog people role this relation comes from ("director"), None for genre, keyword, decade."""
        return _RELATIONS[self.value]["role"]

    @property
    def did(self) -> str | None:
        """What a person of this relation's role did to a title ("who starred in Alien"), None for genre, keyword,
        decade."""
        return _RELATIONS[self.value]["did"]

    @property
    def does(self) -> str | None:
        """The same in the present ("Sigourney Weaver stars too"), None for genre, keyword, decade."""
        return _RELATIONS[self.value]["does"]

    @property
    def target(self) -> Kind:
        """The kind of node at the attribute end of the edge."""
        return Kind(_RELATIONS[self.value]["target"])

    @property
    def order(self) -> int:
        """0 for the most telling relation; the one to show when an edge carries several."""
        return _RELATION_ORDER[self.value]

    @classmethod
    def for_role(cls, role: str) -> "Relation":
        """The relation of a catalog people role: "director" -> DIRECTED_BY."""
        return _BY_ROLE[role]

    @classmethod
    def most_telling(cls, names: Iterable[str]) -> "Relation":
        """The most telling of some relation names (e.g. an edge's `relations`); unknown names are ignored."""
        names = list(names)
        known = [cls(name) for name in names if name in _RELATION_ORDER]
        if not known:
            raise ValueError(f"no known relation among {names!r}")
        return min(known, key=lambda relation: relation.order)


_KINDS = _entries("kinds")
_RELATIONS = _entries("relations")
_RELATION_ORDER = {name: i for i, name in enumerate(_RELATIONS)}
_missing = [m.value for m in Kind if m.value not in _KINDS] + [m.value for m in Relation if m.value not in _RELATIONS]
if _missing or set(_RELATIONS) != {m.value for m in Relation}:
    raise VocabularyError(
        f"vocabulary file {VOCABULARY_PATH} does not match core/vocabulary.py (missing or unknown: "
        f"{sorted(set(_missing) | (set(_RELATIONS) ^ {m.value for m in Relation}))}): add the entry to one or the other"
    )
_BY_ROLE = {_RELATIONS[m.value]["role"]: m for m in Relation if _RELATIONS[m.value]["role"]}

ROLES: tuple[str, ...] = tuple(_DATA["roles"]["order"])
"""People roles a catalog item may carry, in the order its people are listed ("director", "star", "writer",
"composer"); each is the role of one Relation."""
if set(ROLES) != set(_BY_ROLE):
    raise VocabularyError(f"vocabulary file {VOCABULARY_PATH}: roles {ROLES} are not the relations' roles "
                          f"{tuple(_BY_ROLE)}: make them the same")

PRODUCTION_KEYWORDS = frozenset(_DATA["production_keywords"]["words"])
"""Keywords that describe the production ("duringcreditsstinger", "3d"): never a graph node nor evidence."""

GENERIC_KEYWORDS = frozenset(_DATA["generic_keywords"]["words"])
"""Keywords too generic to be a taste on their own ("sequel", "based on novel")."""

UNINFORMATIVE_KEYWORDS = PRODUCTION_KEYWORDS | GENERIC_KEYWORDS
"""Keywords that say nothing about a film to a reader or a model."""

DECADE_WORDS: dict[str, int] = dict(_DATA["decade_words"]["words"])
"""Decades said as words, to their first year: "nineties" -> 1990."""

DECADE_PHRASE = re.compile(r"\b(?:(?:19|20)?\d0'?s|" + "|".join(DECADE_WORDS) + r")\b", re.IGNORECASE)
"""A decade as people write it: "1980s", "80s", "80's", "eighties"."""


def decade_start(phrase: str) -> int | None:
    """The first year of the decade a phrase names ("80's" -> 1980, "the nineties" -> 1990, "00s" -> 2000); None
    when it names none, or two: "20s" is the 1920s or the 2020s."""
    phrase = phrase.strip().lower().removeprefix("the ").strip()
    if phrase in DECADE_WORDS:
        return DECADE_WORDS[phrase]
    match = re.fullmatch(r"(19|20)?(\d)0'?s", phrase)
    if match is None:
        return None
    century, digit = match.group(1), int(match.group(2))
    if century:
        return int(century) * 100 + digit * 10
    if digit == 2:
        return None
    return (2000 if digit < 2 else 1900) + digit * 10


def decade_phrases(start: int) -> list[str]:
    """The ways people name the decade starting in `start` that decade_start reads back to it: "1980s", "80s",
    "eighties"."""
    words = [word for word, year in DECADE_WORDS.items() if year == start]
    return [phrase for phrase in (f"{start}s", f"{start % 100:02d}s", *words) if decade_start(phrase) == start]
