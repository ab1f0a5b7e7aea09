"""Evidence for one recommendation: the item's facts, what links it to this user, and what may not fit.

Everything an explanation may state comes from here; explain/support_check.py checks each line against it.
Links are read from the knowledge graph (node ids and the relations on their edges, see knowledge_graph/), with
the catalog item's own fields used when the graph lacks the node (e.g. a graph built from an older catalog).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

import langcodes

from core.catalog import Catalog, normalize_title, split_title_year
from core.ids import NodeId, item_node, node_id
from core.item import Item
from core.profile import Profile, ProfileEntry
from core.vocabulary import Kind, Relation
from explain.explanation_vocabulary import load_vocabulary
from knowledge_graph.graph import KnowledgeGraph

LEAD_BILLING = 3
"""The first-billed stars of a film are its leads: only they are "the star of" it."""


@dataclass(frozen=True)
class Match:
    """One link between the item and the user: e.g. ("person", "Denis Villeneuve", "directed by", "Arrival")."""

    kind: str
    """person | franchise | genre | keyword | decade"""
    label: str
    relation: str
    """A relation's phrase (core.vocabulary.Relation.phrase: "directed by", "starring", "genre", "about", ...)."""
    because: str
    """The liked title this is shared with ("Arrival"), or the liked thing itself ("Denis Villeneuve")."""
    via_title: bool = False
    """True when `because` is a liked title (the item shares `label` with it)."""
    because_relation: str = ""
    """For a person shared with a liked title: their role there, as a Relation phrase ("directed by")."""
    because_lead: bool = False
    """For a star shared with a liked title: one of its LEAD_BILLING first-billed stars."""
    series: str = ""
    """For a franchise match from the catalog's collections: the series' name ("Toy Story")."""
    next_in_series: bool = False
    """For a franchise match: the item is the film that comes right after `because` in the series."""

    def describe(self) -> str:
        """'directed by Denis Villeneuve, like Arrival' / 'science fiction, which you like'."""
        if self.kind == "franchise" and self.next_in_series:
            return f"the next film in the {self.series} series after {self.because}"
        if self.kind == "franchise" and self.series:
            return f"in the {self.series} series, like {self.because}"
        if self.kind == "franchise":
            return f"same series as {self.because}"
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
    description: str = ""
    """The item's whole description (empty when the catalog has no real overview): story hooks come from it."""
    popularity: float = 0.0
    runtime: int | None = None
    """Minutes; None = unknown."""
    language: str | None = None
    """Original language as an ISO 639-1 code ("fr"); None = unknown."""
    series: str = ""
    """The series (collection) the item belongs to, without "Collection" ("Toy Story"); empty = none known."""
    keyword_forms: dict[str, str] = field(default_factory=dict)
    """keyword -> how the catalog's descriptions write it when that is not plain lower case, with the article
    they give it ("cia" -> "the CIA", "new york" -> "New York", "future" -> "the future")."""
    matches: list[Match] = field(default_factory=list)
    """Strongest first."""
    cautions: list[str] = field(default_factory=list)
    """What may not fit, as short phrases ("Horror, which you said you don't like")."""

    @property
    def decade(self) -> str | None:
        return f"{self.year // 10 * 10}s" if self.year else None

    @property
    def language_name(self) -> str | None:
        """The original language in English ("French"); None when unknown or not a known language code."""
        return language_name(self.language)

    def key(self) -> str:
        """Identifies what an explanation of this item may say: equal keys, interchangeable explanations."""
        text = repr((self.item_id, [(m.kind, m.label, m.relation, m.because, m.via_title, m.because_relation,
                                     m.because_lead, m.series, m.next_in_series) for m in self.matches]))
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def people(self) -> list[str]:
        return list(dict.fromkeys(self.directors + self.stars + self.writers + self.composers))


def language_name(code: str | None) -> str | None:
    """"fr" -> "French"; None for no code or one langcodes does not know (TMDb's "xx", "cn")."""
    if not code:
        return None
    language = langcodes.Language.get(code)
    return language.display_name() if language.is_valid() and language.has_name_data() else None


def series_name(collection: str | None) -> str:
    """"The Dark Knight Collection" -> "The Dark Knight": how the series is said in a line."""
    return re.sub(r"\s+collection$", "", (collection or "").strip(), flags=re.IGNORECASE)


@lru_cache(maxsize=2)
def _series_order(catalog: Catalog) -> dict[str, list[str]]:
    """Collection -> its films' item ids in release order (films without a year last)."""
    members: dict[str, list[Item]] = defaultdict(list)
    for item in catalog:
        if item.series:
            members[item.series].append(item)
    return {name: [i.item_id for i in sorted(items, key=lambda i: (i.year or 9999, i.item_id))]
            for name, items in members.items()}


def _follows(item: Item, liked: Item, catalog: Catalog) -> bool:
    """True when `item` is the next film after `liked` in their collection (both of one collection)."""
    order = _series_order(catalog).get(item.series or "", [])
    if item.item_id not in order or liked.item_id not in order:
        return False
    return order.index(item.item_id) == order.index(liked.item_id) + 1


_DETERMINERS = frozenset("his her their its my your our this that these those one every each no another".split())
_WORD_RUN = re.compile(r"[^\W_]+(?:['’.\-][^\W_]+)*")


@lru_cache(maxsize=2)
def keyword_forms(catalog: Catalog) -> dict[str, str]:
    """keyword -> how the catalog's descriptions usually write it: with the article they give it ("a small town",
    "the future", or none: "time travel") and capitalised where they capitalise it ("New York", "the FBI"). Read
    from every description once, counting only occurrences that do not open a sentence (where every word is
    capitalised); a keyword seen fewer than three times, or written no one way three times in four, has none."""
    keywords = {k for item in catalog for k in item.keywords}
    # Every word-prefix of a keyword ("new", "new york"): a phrase that is none cannot grow into one, which ends
    # the scan from a word after a step or two instead of at the longest keyword's length.
    prefixes: set[str] = set()
    for keyword in keywords:
        words = keyword.split(" ")
        prefixes.update(" ".join(words[:n]) for n in range(1, len(words) + 1))
    articles: dict[str, Counter] = defaultdict(Counter)
    casings: dict[str, Counter] = defaultdict(Counter)
    for item in catalog:
        if not item.has_overview:
            continue
        for sentence in re.split(r"(?<=[.!?])\s+", item.description):
            tokens = _WORD_RUN.findall(sentence)
            lowered = [t.lower() for t in tokens]
            for start in range(1, len(tokens)):
                phrase, end = lowered[start], start + 1
                while phrase in prefixes:
                    if phrase in keywords:
                        previous = lowered[start - 1]
                        if previous in {"a", "an", "the"}:
                            articles[phrase][previous] += 1
                        elif previous not in _DETERMINERS:  # "his daughter" tells nothing of the article
                            articles[phrase][""] += 1
                        casings[phrase][" ".join(tokens[start:end])] += 1
                    if end == len(tokens):
                        break
                    phrase, end = f"{phrase} {lowered[end]}", end + 1
    forms = {}
    for keyword, counts in casings.items():
        casing, seen = counts.most_common(1)[0]
        words = casing.split()
        # "War veteran" opened a clause after a colon: a casing counts when every word or none is capitalised.
        uniform = all(w[:1].isupper() for w in words) or not any(w[:1].isupper() for w in words)
        if not (seen >= 3 and seen * 4 >= sum(counts.values()) * 3 and uniform):
            casing = keyword
        article, used = articles[keyword].most_common(1)[0] if articles[keyword] else ("", 0)
        if not (used >= 3 and used * 4 >= sum(articles[keyword].values()) * 3):
            article = ""
        form = f"{article} {casing}".strip()
        if form != keyword:
            forms[keyword] = form
    return forms


@lru_cache(maxsize=2)
def _genre_shares(catalog: Catalog) -> dict[str, float]:
    """Genre -> the share of the catalog's films that have it."""
    counts = Counter(genre for item in catalog for genre in item.genres)
    return {genre: count / len(catalog) for genre, count in counts.items()}


def _first_sentence(text: str, max_words: int = 20) -> str:
    sentence = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    words = sentence.split()
    return " ".join(words[:max_words]) + ("…" if len(words) > max_words else "")


def _facets(item: Item, kg: KnowledgeGraph | None) -> dict[str, Relation]:
    """node id -> relation for everything the item links to (people, genres, keywords, decade); where one node
    is linked by several relations (a director who also wrote it), the most telling one."""
    node = item_node(item.item_id)
    facets: dict[str, Relation] = {}
    if kg is not None and node in kg:
        for neighbour, relations in kg.edges(node):
            if relations:
                facets[neighbour] = Relation.most_telling(relations)
        return facets
    for role, name in item.all_people():
        facets.setdefault(node_id(Kind.PERSON, name), Relation.for_role(role))
    facets.update({node_id(Kind.GENRE, g): Relation.HAS_GENRE for g in item.genres})
    facets.update({node_id(Kind.KEYWORD, k): Relation.HAS_KEYWORD for k in item.keywords})
    if item.decade:
        facets[node_id(Kind.DECADE, item.decade)] = Relation.FROM_DECADE
    return facets


def _label(node: str, kg: KnowledgeGraph | None) -> str:
    return kg.label(node) if kg is not None and node in kg else NodeId.parse(node).key


def _kind(node: str) -> str:
    return NodeId.parse(node).kind.value


# Match priority: a person shared with a liked title is the most personal reason; a shared genre the least.
_PRIORITY = {("person", True): 0, ("person", False): 1, ("franchise", True): 2, ("keyword", True): 3,
             ("genre", False): 4, ("keyword", False): 5, ("decade", False): 6, ("genre", True): 7}


_SERIES_TAIL = re.compile(r"\s+(?:part\s+)?(?:\d+|[ivx]+|chapter\s+\w+)$")
_ARTICLES = {"the", "a", "an"}


def _series_stem(title: str) -> str:
    """"Toy Story 2" -> "toy story"; "Alien: Covenant" -> "alien"; "Aliens" -> "alien"."""
    stem = normalize_title(re.split(r":| - | – ", title, maxsplit=1)[0])
    stem = _SERIES_TAIL.sub("", stem)
    return stem[:-1] if stem.endswith("s") and len(stem) >= 5 and " " not in stem else stem


def same_series(a: Item, b: Item, series_keywords: frozenset[str]) -> bool:
    """Both titles belong to one series: one is the other with a number ("Toy Story" / "Toy Story 2"); or they
    share a title stem ("Alien" / "Aliens" / "Alien: Covenant"), or one stem opens the other with two or more
    real words ("The Dark Knight" / "The Dark Knight Rises") — and then, since titles alone mislead ("Heat" /
    "Heat: A Story"), a shared person or a sequel-like keyword as well."""
    title_a, title_b = normalize_title(a.title), normalize_title(b.title)
    if not title_a or not title_b or title_a == title_b:
        return False
    if _SERIES_TAIL.sub("", title_a) == title_b or _SERIES_TAIL.sub("", title_b) == title_a:
        return True
    stem_a, stem_b = _series_stem(a.title), _series_stem(b.title)
    short, long = sorted((stem_a, stem_b), key=len)
    related = bool(short) and (short == long or (long.startswith(short + " ")
                                                 and len([w for w in short.split() if w not in _ARTICLES]) >= 2))
    if not related:
        return False
    shared_people = {n for _, n in a.all_people()} & {n for _, n in b.all_people()}
    return bool(shared_people) or bool(series_keywords & (set(a.keywords) | set(b.keywords)))


def _liked_title(entry: ProfileEntry, catalog: Catalog) -> tuple[Item | None, str]:
    liked = catalog.get(entry.item_id)
    return liked, liked.title if liked else split_title_year(entry.label)[0]


def build_evidence(item: Item, profile: Profile, kg: KnowledgeGraph | None, catalog: Catalog,
                   max_matches: int = 6) -> Evidence:
    """The evidence for recommending `item` to this user (from the item's own fields where kg is None or lacks it)."""
    series_keywords = load_vocabulary().series_keywords
    facets = _facets(item, kg)
    matches: list[Match] = []
    for entry in sorted(profile.liked(), key=lambda e: -e.weight):
        if entry.kind == "item":
            liked, title = _liked_title(entry, catalog)
            if liked is None or liked.item_id == item.item_id:
                continue
            if item.series and item.series == liked.series:
                matches.append(Match("franchise", title, "same series as", title, via_title=True,
                                     series=series_name(item.series),
                                     next_in_series=_follows(item, liked, catalog)))
            elif not (item.series and liked.series) and same_series(item, liked, series_keywords):
                # Titles only where the catalog names no collection for one of them.
                matches.append(Match("franchise", title, "same series as", title, via_title=True))
            liked_facets = _facets(liked, kg)
            for node in sorted(liked_facets.keys() & facets.keys()):
                if _kind(node) in {"person", "keyword", "genre"}:
                    label = _label(node, kg)
                    matches.append(Match(_kind(node), label, facets[node].phrase, title, via_title=True,
                                         because_relation=liked_facets[node].phrase,
                                         because_lead=label in liked.people.get("star", ())[:LEAD_BILLING]))
        elif entry.node_id in facets and entry.kind in {"person", "genre", "keyword", "decade"}:
            label = _label(entry.node_id, kg)
            matches.append(Match(entry.kind, label, facets[entry.node_id].phrase, label))
        elif entry.kind == "mood" and (node := node_id(Kind.KEYWORD, entry.label.lower())) in facets:
            matches.append(Match("keyword", _label(node, kg), "about", entry.label))
    # Stable sort keeps the profile's weight order within one priority and role.
    relation_rank = {r.phrase: r.order for r in Relation} | {"same series as": 0}
    # Among shared genres the rarer says more ("Crime" before "Drama").
    share = _genre_shares(catalog)
    matches.sort(key=lambda m: (_PRIORITY.get((m.kind, m.via_title), 9), relation_rank[m.relation],
                                share.get(m.label, 0.0) if m.kind == "genre" else 0.0))
    unique: dict[tuple[str, str], Match] = {}
    for match in matches:
        unique.setdefault((match.kind, normalize_title(match.label)), match)
    return Evidence(
        item_id=item.item_id, title=item.title, year=item.year, genres=list(item.genres),
        directors=list(item.people.get("director", ())), stars=list(item.people.get("star", ()))[:4],
        writers=list(item.people.get("writer", ())), composers=list(item.people.get("composer", ())),
        keywords=list(item.keywords[:6]), overview=_first_sentence(item.description) if item.has_overview else "",
        description=item.description if item.has_overview else "",
        popularity=item.popularity, runtime=item.runtime, language=item.language,
        series=series_name(item.series),
        keyword_forms={k: f for k in {*item.keywords, *(m.label for m in unique.values() if m.kind == "keyword")}
                       if (f := keyword_forms(catalog).get(k.lower()))},
        matches=_keep_each_kind(list(unique.values()), max_matches),
        cautions=_cautions(item, profile, facets, kg, catalog),
    )


def _keep_each_kind(matches: list[Match], limit: int) -> list[Match]:
    """The first `limit` matches, but with the best match of every kind among them (a film sharing six people
    with a liked title still shows that it is the same series), in their original order."""
    firsts = {id(next(m for m in matches if m.kind == kind)) for kind in dict.fromkeys(m.kind for m in matches)}
    kept = {id(m) for m in matches if id(m) in firsts}
    kept |= {id(m) for m in [m for m in matches if id(m) not in firsts][: max(0, limit - len(kept))]}
    return [m for m in matches if id(m) in kept]


def _cautions(item: Item, profile: Profile, facets: dict[str, Relation], kg: KnowledgeGraph | None,
              catalog: Catalog) -> list[str]:
    cautions = []
    for entry in profile.disliked():
        if entry.kind == "item":
            disliked, title = _liked_title(entry, catalog)
            if disliked is None or disliked.item_id == item.item_id:
                continue
            shared = sorted(n for n in _facets(disliked, kg).keys() & facets.keys() if _kind(n) == "person")
            cautions += [f"{facets[n].phrase} {_label(n, kg)}, like {title}, which you didn't like"
                         for n in shared[:1]]
        elif entry.node_id in facets:
            label = _label(entry.node_id, kg)
            what = label if entry.kind != "person" else f"{facets[entry.node_id].phrase} {label}"
            cautions.append(f"{what}, which you said you don't like")
    wanted = [e.label for e in profile.liked("decade")]
    if wanted and item.decade and item.decade not in wanted:
        cautions.append(f"from {item.year}, not the {' or '.join(wanted)} you asked for")
    return cautions
