"""Evidence for one recommendation: the item's facts, what links it to this user, and what may not fit.

Everything an explanation may state comes from here; `allowed_terms` is what the grounding check accepts.
Links are read from the knowledge graph (node ids and `relations` edge attributes, see knowledge_graph/), with the
catalog item's own fields used when the graph lacks the node (e.g. a graph built from an older catalog).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from recommender.catalog import Catalog, Item, normalize_title, split_title_year
from recommender.profile import Profile, ProfileEntry

RELATION_PHRASES = {
    "directed_by": "directed by",
    "stars": "starring",
    "written_by": "written by",
    "composed_by": "music by",
    "has_genre": "genre",
    "has_keyword": "about",
    "from_decade": "from the",
}
"""How each graph relation reads in a sentence."""

_ROLE_RELATIONS = {"director": "directed_by", "star": "stars", "writer": "written_by", "composer": "composed_by"}
# When a person holds several roles on one item, the first of these is the one worth saying.
_RELATION_ORDER = ("directed_by", "stars", "written_by", "composed_by", "has_genre", "has_keyword", "from_decade")


@dataclass(frozen=True)
class Match:
    """One link between the item and the user: e.g. ("person", "Denis Villeneuve", "directed by", "Arrival")."""

    kind: str
    """person | genre | keyword | decade"""
    label: str
    relation: str
    """A phrase from RELATION_PHRASES ("directed by", "starring", "genre", "about", ...)."""
    because: str
    """The liked title this is shared with ("Arrival"), or the liked thing itself ("Denis Villeneuve")."""
    via_title: bool = False
    """True when `because` is a liked title (the item shares `label` with it)."""

    def describe(self) -> str:
        """'directed by Denis Villeneuve, like Arrival' / 'science fiction, which you like'."""
        subject = self.label.lower() if self.kind == "genre" else self.label
        phrase = subject if self.relation == "genre" else f"{self.relation} {subject}"
        return f"{phrase}, like {self.because}" if self.via_title else f"{phrase}, which you like"


@dataclass
class Evidence:
    item_id: str
    title: str
    year: int | None
    genres: list[str] = field(default_factory=list)
    directors: list[str] = field(default_factory=list)
    stars: list[str] = field(default_factory=list)
    writers: list[str] = field(default_factory=list)
    composers: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    overview: str = ""
    """The first sentence of the description, at most 20 words."""
    popularity: float = 0.0
    matches: list[Match] = field(default_factory=list)
    """Strongest first."""
    cautions: list[str] = field(default_factory=list)
    """What may not fit, as short phrases ("Horror, which you said you don't like")."""

    @property
    def decade(self) -> str | None:
        return f"{self.year // 10 * 10}s" if self.year else None

    def key(self) -> str:
        """Identifies what an explanation of this item may say: equal keys, interchangeable explanations."""
        text = repr((self.item_id, [(m.kind, m.label, m.relation, m.because, m.via_title) for m in self.matches]))
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def people(self) -> list[str]:
        return list(dict.fromkeys(self.directors + self.stars + self.writers + self.composers))

    def allowed_terms(self) -> set[str]:
        """Every title, name, number, genre and keyword a line about this item may state (normalized with
        catalog.normalize_title: case-, accent- and punctuation-insensitive). Surnames of the people count."""
        terms = {self.title, *self.genres, *self.keywords, *self.people()}
        terms |= {m.label for m in self.matches} | {m.because for m in self.matches}
        for name in self.people() + [m.label for m in self.matches if m.kind == "person"]:
            terms |= {part for part in name.split() if len(part) > 2}
        if self.year:
            decade = self.year // 10 * 10
            terms |= {str(self.year), f"{decade}s", f"{decade % 100:02d}s"}
        normalized = {normalize_title(t) for t in terms}
        return {t for t in normalized if t}


def _first_sentence(text: str, max_words: int = 20) -> str:
    sentence = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    words = sentence.split()
    return " ".join(words[:max_words]) + ("…" if len(words) > max_words else "")


def _facets(item: Item, graph) -> dict[str, str]:
    """node id -> relation for everything the item links to (people, genres, keywords, decade)."""
    node = f"item:{item.item_id}"
    facets: dict[str, str] = {}
    if graph is not None and node in graph:
        for neighbour, data in graph[node].items():
            relations = [r for r in _RELATION_ORDER if r in tuple(data.get("relations", ()))]
            if relations:
                facets[neighbour] = relations[0]
        return facets
    for role, name in item.all_people():
        facets.setdefault(f"person:{name}", _ROLE_RELATIONS[role])
    facets.update({f"genre:{g}": "has_genre" for g in item.genres})
    facets.update({f"keyword:{k}": "has_keyword" for k in item.keywords})
    if item.decade:
        facets[f"decade:{item.decade}"] = "from_decade"
    return facets


def _label(node_id: str, graph) -> str:
    if graph is not None and node_id in graph:
        return str(graph.nodes[node_id].get("label") or node_id.split(":", 1)[1])
    return node_id.split(":", 1)[1]


def _kind(node_id: str) -> str:
    return node_id.split(":", 1)[0]


# Match priority: a person shared with a liked title is the most personal reason; a shared genre the least.
_PRIORITY = {("person", True): 0, ("person", False): 1, ("keyword", True): 2, ("genre", False): 3,
             ("keyword", False): 4, ("decade", False): 5, ("genre", True): 6}


def _liked_title(entry: ProfileEntry, catalog: Catalog) -> tuple[Item | None, str]:
    liked = catalog.get(entry.node_id.removeprefix("item:"))
    return liked, liked.title if liked else split_title_year(entry.label)[0]


def build_evidence(item: Item, profile: Profile, kg, catalog: Catalog, max_matches: int = 6) -> Evidence:
    """The evidence for recommending `item` to this user. `kg` is anything with a networkx `graph` (or None)."""
    graph = getattr(kg, "graph", None)
    facets = _facets(item, graph)
    matches: list[Match] = []
    for entry in sorted(profile.liked(), key=lambda e: -e.weight):
        if entry.kind == "item":
            liked, title = _liked_title(entry, catalog)
            if liked is None or liked.item_id == item.item_id:
                continue
            for node in sorted(_facets(liked, graph).keys() & facets.keys()):
                if _kind(node) in {"person", "keyword", "genre"}:
                    matches.append(Match(_kind(node), _label(node, graph), RELATION_PHRASES[facets[node]], title,
                                         via_title=True))
        elif entry.node_id in facets and entry.kind in {"person", "genre", "keyword", "decade"}:
            label = _label(entry.node_id, graph)
            matches.append(Match(entry.kind, label, RELATION_PHRASES[facets[entry.node_id]], label))
        elif entry.kind == "mood" and f"keyword:{entry.label.lower()}" in facets:
            node = f"keyword:{entry.label.lower()}"
            matches.append(Match("keyword", _label(node, graph), "about", entry.label))
    # Stable sort keeps the profile's weight order within one priority and role.
    relation_rank = {RELATION_PHRASES[r]: i for i, r in enumerate(_RELATION_ORDER)}
    matches.sort(key=lambda m: (_PRIORITY.get((m.kind, m.via_title), 9), relation_rank[m.relation]))
    unique: dict[tuple[str, str], Match] = {}
    for match in matches:
        unique.setdefault((match.kind, normalize_title(match.label)), match)
    return Evidence(
        item_id=item.item_id, title=item.title, year=item.year, genres=list(item.genres),
        directors=list(item.people.get("director", ())), stars=list(item.people.get("star", ()))[:4],
        writers=list(item.people.get("writer", ())), composers=list(item.people.get("composer", ())),
        keywords=list(item.keywords[:6]), overview=_first_sentence(item.description) if item.has_overview else "",
        popularity=item.popularity, matches=list(unique.values())[:max_matches],
        cautions=_cautions(item, profile, facets, graph, catalog),
    )


def _cautions(item: Item, profile: Profile, facets: dict[str, str], graph, catalog: Catalog) -> list[str]:
    cautions = []
    for entry in profile.disliked():
        if entry.kind == "item":
            disliked, title = _liked_title(entry, catalog)
            if disliked is None or disliked.item_id == item.item_id:
                continue
            shared = sorted(n for n in _facets(disliked, graph).keys() & facets.keys() if _kind(n) == "person")
            cautions += [f"{RELATION_PHRASES[facets[n]]} {_label(n, graph)}, like {title}, which you didn't like"
                         for n in shared[:1]]
        elif entry.node_id in facets:
            label = _label(entry.node_id, graph)
            what = label if entry.kind != "person" else f"{RELATION_PHRASES[facets[entry.node_id]]} {label}"
            cautions.append(f"{what}, which you said you don't like")
    wanted = [e.label for e in profile.liked("decade")]
    if wanted and item.decade and item.decade not in wanted:
        cautions.append(f"from {item.year}, not the {' or '.join(wanted)} you asked for")
    return cautions
