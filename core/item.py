"""A catalog item: the one record every layer reads (graph, retrieval, explanations, the UI)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from core.vocabulary import ROLES


@dataclass(frozen=True)
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
        data = asdict(self)
        data["aliases"] = list(self.aliases)
        data["genres"] = list(self.genres)
        data["keywords"] = list(self.keywords)
        data["people"] = {role: list(names) for role, names in self.people.items()}
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Item":
        return cls(
            item_id=str(data["item_id"]),
            title=str(data["title"]),
            year=int(data["year"]) if data.get("year") else None,
            aliases=tuple(data.get("aliases") or ()),
            genres=tuple(data.get("genres") or ()),
            people={role: tuple(names) for role, names in (data.get("people") or {}).items() if names},
            keywords=tuple(data.get("keywords") or ()),
            description=str(data.get("description") or ""),
            has_overview=bool(data.get("has_overview")),
            popularity=float(data.get("popularity") or 0.0),
            sources={k: str(v) for k, v in (data.get("sources") or {}).items()},
            runtime=int(data["runtime"]) if data.get("runtime") else None,
            language=str(data["language"]) if data.get("language") else None,
            series=str(data["series"]) if data.get("series") else None,
        )
