"""A catalog item: the one record every layer reads (graph, retrieval, explanations, the UI)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from core.vocabulary import ROLES


def _shared(texts: Iterable[str]) -> tuple[str, ...]:
    """Interned: a catalog names the same genres, keywords and people thousands of times, and one copy of each string
    then serves every item (sys.intern frees a string again once no item holds it)."""
    return tuple(map(sys.intern, texts))


# One copy of each genre list and year for all items: a few thousand genre lists and a century of years serve a
# catalog of any size (the 16,654 shipped items have 2,646 genre lists and 119 years).
_GENRE_LISTS: dict[tuple[str, ...], tuple[str, ...]] = {}
_YEARS: dict[int, int] = {}


def _is_provenance(source: str) -> bool:
    """A `sources` value that names datasets ("facts.director": "tmdb_movies_10866 ..."), shared by many items,
    rather than the item's own record id ("imdb": "tt0114709"), which no other item has."""
    return source.startswith("facts.") or source == "recent"


# slots: no __dict__ per item (a million items are loaded at once).
@dataclass(frozen=True, slots=True)
class Item:
    item_id: str
    title: str
    year: int | None
    aliases: tuple[str, ...] = ()
    """Other titles the item is known by ("Se7en", "12 Monkeys")."""
    genres: tuple[str, ...] = ()
    people: dict[str, tuple[str, ...]] = field(default_factory=dict)
    keywords: tuple[str, ...] = ()
    description: str = ""
    has_overview: bool = False
    popularity: float = 0.0
    """0..1, a percentile of rating counts and TMDB popularity (never of ReDial mentions)."""
    sources: dict[str, str] = field(default_factory=dict)
    runtime: int | None = None
    """Minutes; None = unknown."""
    language: str | None = None
    """Original language, an ISO 639-1 code ("en", "fr"); None = unknown."""
    series: str | None = None
    """The collection the film belongs to ("The Dark Knight Collection"); None = none known."""

    @property
    def label(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title

    @property
    def decade(self) -> str | None:
        return f"{self.year // 10 * 10}s" if self.year else None

    def all_people(self) -> list[tuple[str, str]]:
        """(role, name) pairs, the most telling role first (core.vocabulary.ROLES)."""
        return [(role, name) for role in ROLES for name in self.people.get(role, ())]

    def to_json(self) -> dict:
        # Field by field rather than dataclasses.asdict, which deep-copies every value: 4 times faster, and the
        # catalog's fingerprint (every item's JSON) is read at each start.
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        data["aliases"] = list(self.aliases)
        data["genres"] = list(self.genres)
        data["keywords"] = list(self.keywords)
        data["people"] = {role: list(names) for role, names in self.people.items()}
        data["sources"] = dict(self.sources)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Item":
        # What many items repeat (names, genres, keys, dataset names) is shared; each item's own text stays its own.
        year = int(data["year"]) if data.get("year") else None
        genres = _shared(data.get("genres") or ())
        return cls(
            item_id=str(data["item_id"]),
            title=str(data["title"]),
            year=None if year is None else _YEARS.setdefault(year, year),
            aliases=tuple(data.get("aliases") or ()),
            genres=_GENRE_LISTS.setdefault(genres, genres),
            people={sys.intern(role): _shared(names) for role, names in (data.get("people") or {}).items() if names},
            keywords=_shared(data.get("keywords") or ()),
            description=str(data.get("description") or ""),
            has_overview=bool(data.get("has_overview")),
            popularity=float(data.get("popularity") or 0.0),
            sources={sys.intern(k): sys.intern(str(v)) if _is_provenance(k) else str(v)
                     for k, v in (data.get("sources") or {}).items()},
            runtime=int(data["runtime"]) if data.get("runtime") else None,
            language=sys.intern(str(data["language"])) if data.get("language") else None,
            series=sys.intern(str(data["series"])) if data.get("series") else None,
        )


_FIELD_NAMES = tuple(f.name for f in fields(Item))
