"""Build the shipped assets (catalog, co-occurrence, item embeddings, merge report) from ../shared/data.

Sources, all under ``--shared`` (see each folder's SOURCE.md and assets/README.md for licences):
- redial/movies_with_mentions.csv: the ReDial movie list (CC BY 4.0);
- redial/train_*.jsonl: the ReDial train conversations (co-mentions; dialogue text as merge evidence);
- movielens_small/: titles, genres, tags, ratings (GroupLens research licence);
- tmdb_5000/: overviews, keywords, genres, popularity, countries, languages (TMDb API terms);
- dbpedia_redial_kg/: directors, stars, writers, composers, film genres (CC BY-SA 3.0).

Steps: read every source record; link TMDB and DBpedia by ids or title and year; audit the DBpedia links against
TMDB's countries and languages; merge records of the same film (recommender/entity_resolution.py), keeping every
source id resolvable; then write the files. ReDial mention counts are deliberately not used for popularity: they
would leak the evaluation data.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import re
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse

from core.item import Item
from core.stats import percentile_ranks
from recommender.catalog import load_catalog, normalize_title, split_title_year, write_catalog
from recommender.embedding_asset import catalog_vectors, write_embedding_asset
from recommender.encoder import Encoder
from recommender.entity_resolution import MAX_YEAR_GAP, DialogueEvidence, FilmFacts, same_film
from recommender.settings import Settings, load_settings

log = logging.getLogger(__name__)

# MovieLens and TMDB spell genres differently; one vocabulary for the graph and the UI.
GENRE_NAMES = {
    "sci-fi": "Science Fiction",
    "science fiction": "Science Fiction",
    "children": "Family",
    "family": "Family",
    "film-noir": "Film Noir",
    "musical": "Musical",
    "music": "Music",
    "tv movie": "TV Movie",
    "imax": None,
    "(no genres listed)": None,
    "foreign": None,
}
# DBpedia's genre relation mostly holds music genres (soundtrack albums); only these are film genres.
DBPEDIA_FILM_GENRES = {
    "Science_fiction": "Science Fiction",
    "Science_fiction_film": "Science Fiction",
    "Fantasy": "Fantasy",
    "Fantasy_film": "Fantasy",
    "Horror_fiction": "Horror",
    "Horror_film": "Horror",
    "Crime_fiction": "Crime",
    "Crime_film": "Crime",
    "Black_comedy": "Comedy",
    "Satire": "Comedy",
    "Comedy": "Comedy",
    "Thriller_(genre)": "Thriller",
    "Drama": "Drama",
    "Documentary_film": "Documentary",
    "Animation": "Animation",
    "Western_(genre)": "Western",
    "Action_film": "Action",
    "Romance_film": "Romance",
    "Mystery_fiction": "Mystery",
}
DBPEDIA_ROLES = {
    "director": "director",
    "starring": "star",
    "writer": "writer",
    "musicComposer": "composer",
    "composer": "composer",
}
# Country and language names as TMDB and DBpedia spell them, to one form (for the audit of DBpedia links).
COUNTRY_NAMES = {
    "united states of america": "united states",
    "england": "united kingdom",
    "scotland": "united kingdom",
    "wales": "united kingdom",
    "republic of ireland": "ireland",
    "the united states": "united states",
    "united kingdom of great britain and ireland": "united kingdom",
    "west germany": "germany",
    "people's republic of china": "china",
    "soviet union": "russia",
    "italian cinema": "italy",
}
LANGUAGE_CODES = {
    "en": "english", "hi": "hindi", "ml": "malayalam", "ta": "tamil", "te": "telugu", "kn": "kannada",
    "bn": "bengali", "fr": "french", "de": "german", "it": "italian", "ja": "japanese", "es": "spanish",
    "ko": "korean", "ru": "russian", "zh": "chinese", "cn": "chinese", "pt": "portuguese", "sv": "swedish",
    "da": "danish", "no": "norwegian", "fi": "finnish", "nl": "dutch", "pl": "polish", "tr": "turkish",
    "th": "thai", "fa": "persian", "ar": "arabic", "he": "hebrew", "el": "greek", "hu": "hungarian", "cs": "czech",
}
"""TMDB's ISO 639-1 codes; DBpedia languages outside these names are not compared."""
DBPEDIA_LANGUAGES = {"standard chinese": "chinese", "mandarin chinese": "chinese", "cantonese": "chinese"}
MAX_PEOPLE = {"director": 3, "star": 8, "writer": 3, "composer": 2}
MAX_KEYWORDS = 12
COOC_NEIGHBOURS = 50
LIKED_RATING = 4.0


def _genre(name: str) -> str | None:
    key = name.strip().lower()
    if key in GENRE_NAMES:
        return GENRE_NAMES[key]
    return name.strip().title() if name.strip() else None


def _movielens_title(raw: str) -> tuple[str, list[str], int | None]:
    """"City of Lost Children, The (Cité des enfants perdus, La) (1995)" -> title, aliases, year."""
    title, year = split_title_year(raw)
    aliases = []
    alt = re.match(r"^(.*?)\s*\((?:a\.k\.a\. )?([^()]*)\)$", title)
    if alt:
        title, other = alt.group(1), alt.group(2)
        aliases.append(_article_first(other))
    return _article_first(title), aliases, year


def _article_first(title: str) -> str:
    match = re.match(r"^(.*), (The|A|An|La|Le|Les|Il|El|Der|Die|Das|L')$", title.strip())
    if match:
        return f"{match.group(2)} {match.group(1)}"
    return title.strip()


@dataclass
class _Draft:
    item_id: str
    title: str
    year: int | None
    aliases: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    people: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    keywords: list[str] = field(default_factory=list)
    overview: str = ""
    tagline: str = ""
    popularity_signals: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    redial_ids: list[str] = field(default_factory=list)
    """Every ReDial movie id that names this film (ReDial lists some films twice)."""
    movielens_ids: list[str] = field(default_factory=list)
    countries: set[str] = field(default_factory=set)
    """Production countries from TMDB, to check DBpedia facts against."""
    languages: set[str] = field(default_factory=set)
    """Spoken languages from TMDB (names as in LANGUAGE_CODES)."""
    dbpedia: list[_DbpediaFilm] = field(default_factory=list)
    """DBpedia resources linked by title and year; their facts are applied after the audit (`_apply_dbpedia`)."""

    def add_genre(self, genre: str | None) -> None:
        if genre and genre not in self.genres:
            self.genres.append(genre)

    @property
    def rank(self) -> tuple:
        """Which of two merged records keeps its id: MovieLens first, then the better known (ids stay stable)."""
        return (bool(self.movielens_ids), "tmdb" in self.sources, self.popularity_signals.get("ml_ratings", 0),
                bool(self.dbpedia), self.item_id)

    def facts(self) -> FilmFacts:
        people = self.dbpedia[0].people if self.dbpedia else {}
        return FilmFacts(
            key=self.item_id,
            names=frozenset(normalize_title(t) for t in (self.title, *self.aliases)),
            year=self.year,
            imdb=self.sources.get("imdb", ""),
            tmdb=self.sources.get("tmdb", ""),
            directors=frozenset(people.get("director", ())),
            people=frozenset(name for names in people.values() for name in names),
            redial_ids=tuple(self.redial_ids),
        )


@dataclass
class _DbpediaFilm:
    resource: str
    year: int | None
    """The year the resource name carries ("Taxi_Driver_(1977_film)"), if any."""
    people: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    genres: list[str] = field(default_factory=list)
    countries: set[str] = field(default_factory=set)
    languages: set[str] = field(default_factory=set)


class _TitleIndex:
    """(normalized title, year) -> draft, and title -> drafts for yearless lookups."""

    def __init__(self) -> None:
        self.exact: dict[tuple[str, int | None], _Draft] = {}
        self.by_title: dict[str, list[_Draft]] = defaultdict(list)

    def add(self, draft: _Draft) -> None:
        for name in [draft.title, *draft.aliases]:
            key = normalize_title(name)
            self.exact.setdefault((key, draft.year), draft)
            if draft not in self.by_title[key]:
                self.by_title[key].append(draft)

    def find(self, title: str, year: int | None) -> _Draft | None:
        key = normalize_title(title)
        if year is not None:
            return self.exact.get((key, year))
        namesakes = self.by_title.get(key, [])
        if len(namesakes) == 1:
            return namesakes[0]
        return max(namesakes, key=lambda d: d.popularity_signals.get("ml_ratings", 0), default=None)


def _read_movielens(shared: Path, drafts: list[_Draft], index: _TitleIndex) -> dict[str, _Draft]:
    ml_dir = shared / "movielens_small"
    by_ml: dict[str, _Draft] = {}
    with open(ml_dir / "movies.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            title, aliases, year = _movielens_title(row["title"])
            draft = _Draft(item_id=f"ml{row['movieId']}", title=title, year=year, aliases=aliases)
            for genre in row["genres"].split("|"):
                draft.add_genre(_genre(genre))
            draft.movielens_ids.append(row["movieId"])
            drafts.append(draft)
            by_ml[row["movieId"]] = draft
    with open(ml_dir / "links.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            draft = by_ml.get(row["movieId"])
            if draft and row["tmdbId"]:
                draft.sources["tmdb"] = row["tmdbId"]
            if draft and row["imdbId"]:
                draft.sources["imdb"] = f"tt{row['imdbId']}"
    counts = Counter()
    with open(ml_dir / "ratings.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            counts[row["movieId"]] += 1
    for movie_id, count in counts.items():
        if movie_id in by_ml:
            by_ml[movie_id].popularity_signals["ml_ratings"] = count
    tag_users: dict[str, Counter] = defaultdict(Counter)
    with open(ml_dir / "tags.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            tag_users[row["movieId"]][row["tag"].strip().lower()] += 1
    for movie_id, tags in tag_users.items():
        draft = by_ml.get(movie_id)
        if draft:
            # One user's tag is often private shorthand; keep tags that two or more users gave.
            draft.keywords.extend(tag for tag, n in tags.most_common() if n >= 2)
    for draft in drafts:
        index.add(draft)
    return by_ml


def _read_redial(shared: Path, drafts: list[_Draft], index: _TitleIndex) -> int:
    added = 0
    with open(shared / "redial" / "movies_with_mentions.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            title, year = split_title_year(row["movieName"])
            if not title:
                continue
            draft = index.find(title, year)
            if draft is None:
                draft = _Draft(item_id=f"rd{row['movieId']}", title=title, year=year)
                drafts.append(draft)
                index.add(draft)
                added += 1
            draft.redial_ids.append(row["movieId"])
    return added


def _tmdb_names(raw: str, key: str, names: dict[str, str]) -> set[str]:
    return {names.get(entry[key].lower(), entry[key].lower()) for entry in json.loads(raw or "[]")}


def _read_tmdb(shared: Path, drafts: list[_Draft], index: _TitleIndex) -> int:
    by_tmdb = {d.sources["tmdb"]: d for d in drafts if "tmdb" in d.sources}
    matched = 0
    with gzip.open(shared / "tmdb_5000" / "tmdb_5000_movies.csv.gz", "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            year = int(row["release_date"][:4]) if row["release_date"][:4].isdigit() else None
            draft = by_tmdb.get(row["id"]) or index.find(row["title"], year)
            # A title match must not overwrite a film that MovieLens already linked to another TMDB entry.
            if draft is None or draft.sources.get("tmdb", row["id"]) != row["id"]:
                continue
            matched += 1
            draft.sources["tmdb"] = row["id"]
            draft.overview = row["overview"].strip()
            draft.tagline = row["tagline"].strip()
            draft.countries = _tmdb_names(row["production_countries"], "name", COUNTRY_NAMES)
            languages = _tmdb_names(row["spoken_languages"], "iso_639_1", LANGUAGE_CODES)
            draft.languages = languages & set(LANGUAGE_CODES.values())
            for genre in json.loads(row["genres"] or "[]"):
                draft.add_genre(_genre(genre["name"]))
            tmdb_keywords = [k["name"].lower() for k in json.loads(row["keywords"] or "[]")]
            draft.keywords = tmdb_keywords + [k for k in draft.keywords if k not in tmdb_keywords]
            draft.popularity_signals["tmdb_votes"] = float(row["vote_count"] or 0)
            draft.popularity_signals["tmdb_popularity"] = float(row["popularity"] or 0)
            if draft.year is None and year:
                draft.year = year
    return matched


def _decode_dbpedia(uri: str) -> str:
    return urllib.parse.unquote(uri.strip("<>").rsplit("/", 1)[-1])


def _person_name(segment: str) -> str:
    name = re.sub(r"_\([^)]*\)$", "", segment).replace("_", " ").strip()
    return name


def _dbpedia_place(segment: str) -> str:
    """"United_States" / "Cinema_of_Germany" / "Tamil_language" -> "united states" / "germany" / "tamil"."""
    name = _person_name(segment).lower().removeprefix("cinema of ").removesuffix(" language")
    return COUNTRY_NAMES.get(name, name)


def _read_dbpedia(shared: Path, index: _TitleIndex) -> int:
    """Link DBpedia film resources to drafts by title and year; their facts wait for the audit."""
    kg_dir = shared / "dbpedia_redial_kg"
    entity2id = json.loads((kg_dir / "entity2id.json").read_text(encoding="utf-8"))
    relation2id = json.loads((kg_dir / "relation2id.json").read_text(encoding="utf-8"))
    subkg = json.loads((kg_dir / "dbpedia_subkg.json").read_text(encoding="utf-8"))
    item_ids = json.loads((kg_dir / "item_ids.json").read_text(encoding="utf-8"))
    names = {v: _decode_dbpedia(k) for k, v in entity2id.items()}
    relations = {v: _decode_dbpedia(k) for k, v in relation2id.items()}
    matched = 0
    for entity in item_ids:
        segment = names[entity]
        match = re.match(r"^(.*?)(?:_\((?:(\d{4})_)?(?:[A-Za-z ]*film|film)\))?$", segment)
        title = match.group(1).replace("_", " ") if match else segment.replace("_", " ")
        year = int(match.group(2)) if match and match.group(2) else None
        draft = index.find(title, year)
        if draft is None:
            continue
        matched += 1
        film = _DbpediaFilm(segment, year)
        for relation, tail in subkg.get(str(entity), []):
            rel = relations.get(relation, "")
            tail_name = names.get(tail, "")
            if rel in DBPEDIA_ROLES:
                person = _person_name(tail_name)
                if person and person not in film.people[DBPEDIA_ROLES[rel]]:
                    film.people[DBPEDIA_ROLES[rel]].append(person)
            elif rel == "genre" and tail_name in DBPEDIA_FILM_GENRES:
                film.genres.append(DBPEDIA_FILM_GENRES[tail_name])
            elif rel == "country":
                film.countries.add(_dbpedia_place(tail_name))
            elif rel == "language":
                language = _dbpedia_place(tail_name)
                language = DBPEDIA_LANGUAGES.get(language, language)
                if language in LANGUAGE_CODES.values():
                    film.languages.add(language)
        draft.dbpedia.append(film)
    return matched


@dataclass
class AuditFinding:
    """A DBpedia resource whose facts were not attached to the film it was linked to (title and year matched,
    the facts disagree)."""

    item_id: str
    film: str
    resource: str
    problem: str


def _language_conflict(draft: _Draft, film: _DbpediaFilm, strict: bool = False) -> str:
    """Why the DBpedia page is another film's by language ("" when it may be this one's): a non-English page in
    another language than TMDB gives for the film; when strict, also one for a film TMDB does not know."""
    if "english" in film.languages:
        return ""  # TMDB's spoken languages are sometimes only a film's second language
    if draft.languages and film.languages and not draft.languages & film.languages:
        return f"language {', '.join(sorted(film.languages))} vs TMDB {', '.join(sorted(draft.languages))}"
    if strict and not draft.languages and film.languages:
        return f"language {', '.join(sorted(film.languages))}, the film's unknown"
    return ""


def _country_mismatch(draft: _Draft, film: _DbpediaFilm) -> str:
    if draft.countries and film.countries and not draft.countries & film.countries:
        return f"country {', '.join(sorted(film.countries))} vs TMDB {', '.join(sorted(draft.countries))}"
    return ""


def _audit_dbpedia(drafts: list[_Draft]) -> tuple[list[AuditFinding], list[AuditFinding]]:
    """Keep at most one DBpedia page per film (the one named for the film's year first) and none in another
    language than the film's. Returns (dropped, flagged): a country mismatch is only flagged, because DBpedia's
    country often names a filming location or one co-producer."""
    dropped, flagged = [], []
    for draft in drafts:
        kept = []
        for film in sorted(draft.dbpedia, key=lambda f: f.year != draft.year):
            problem = _language_conflict(draft, film) or (f"second page for one film (kept {kept[0].resource})"
                                                          if kept else "")
            if problem:
                dropped.append(AuditFinding(draft.item_id, _label(draft), film.resource, problem))
                continue
            kept.append(film)
            if _country_mismatch(draft, film):
                flagged.append(AuditFinding(draft.item_id, _label(draft), film.resource,
                                            _country_mismatch(draft, film)))
        draft.dbpedia = kept
    return dropped, flagged


def _label(draft: _Draft) -> str:
    return f"{draft.title} ({draft.year})" if draft.year else draft.title


@dataclass
class MergeDecision:
    kept: str
    other: str
    reason: str


@dataclass
class ResolutionReport:
    merged: list[MergeDecision] = field(default_factory=list)
    kept_apart: list[MergeDecision] = field(default_factory=list)
    dropped_facts: list[AuditFinding] = field(default_factory=list)
    """DBpedia facts of a merged record that belonged to a namesake (linked by ReDial's wrong year)."""


def _candidate_pairs(drafts: list[_Draft]) -> list[tuple[_Draft, _Draft]]:
    by_name: dict[str, list[_Draft]] = defaultdict(list)
    for draft in drafts:
        for name in {normalize_title(t) for t in (draft.title, *draft.aliases)}:
            by_name[name].append(draft)
    pairs = {}
    for group in by_name.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if a is not b:
                    pairs[tuple(sorted((a.item_id, b.item_id)))] = (a, b)
    return list(pairs.values())


def _resolve_duplicates(drafts: list[_Draft], evidence: DialogueEvidence) -> tuple[list[_Draft], ResolutionReport]:
    """Merge records of the same film (recommender.entity_resolution), strongest evidence first. Each merge is
    judged again against the record it would join, whose facts may have grown by an earlier merge."""
    report = ResolutionReport()
    verdicts = []
    for a, b in _candidate_pairs(drafts):
        verdict = same_film(a.facts(), b.facts(), evidence)
        if verdict is not None:
            verdicts.append((verdict, a, b))
    verdicts.sort(key=lambda v: (-v[0].strength, v[1].item_id, v[2].item_id))
    # Union-find over drafts: a merged draft points at the one that absorbed it.
    root: dict[str, _Draft] = {d.item_id: d for d in drafts}

    def find(draft: _Draft) -> _Draft:
        while root[draft.item_id] is not draft:
            draft = root[draft.item_id]
        return draft

    for _, a, b in verdicts:
        a, b = find(a), find(b)
        verdict = same_film(a.facts(), b.facts(), evidence) if a is not b else None
        if verdict is None:
            continue
        keep, other = (a, b) if a.rank >= b.rank else (b, a)
        decision = MergeDecision(_described(keep), _described(other), verdict.reason)
        if not verdict.same:
            report.kept_apart.append(decision)
            continue
        report.merged.append(decision)
        report.dropped_facts += _merge(keep, other)
        root[other.item_id] = keep
    return [d for d in drafts if root[d.item_id] is d], report


def _described(draft: _Draft) -> str:
    return f"{draft.item_id} {_label(draft)}"


def _merge(keep: _Draft, other: _Draft) -> list[AuditFinding]:
    """Fold other into keep; return the DBpedia facts of other that were left out as a namesake's."""
    names = {normalize_title(t) for t in (keep.title, *keep.aliases)}
    keep.aliases += [t for t in (other.title, *other.aliases) if normalize_title(t) not in names]
    keep.redial_ids += [i for i in other.redial_ids if i not in keep.redial_ids]
    keep.movielens_ids += [i for i in other.movielens_ids if i not in keep.movielens_ids]
    for key, value in other.sources.items():
        keep.sources.setdefault(key, value)
    for genre in other.genres:
        keep.add_genre(genre)
    keep.keywords += [k for k in other.keywords if k not in keep.keywords]
    if not keep.overview and other.overview:
        keep.overview, keep.tagline = other.overview, other.tagline
    for name, value in other.popularity_signals.items():
        keep.popularity_signals[name] = max(value, keep.popularity_signals.get(name, 0.0))
    dropped = []
    for film in other.dbpedia:
        # The page came through the merged record's title and year, which may name a namesake
        # ("Taxi_Driver_(1977_film)" is a Malayalam film): it joins only a film without a page of its own, in its
        # language and year.
        language = _language_conflict(keep, film, strict=True)
        if keep.dbpedia or language or (film.year is not None and abs(film.year - keep.year) > MAX_YEAR_GAP):
            why = "the film has its own page" if keep.dbpedia else language or "another year"
            dropped.append(AuditFinding(keep.item_id, _label(keep), film.resource,
                                        f"came with {other.item_id} {_label(other)}; {why}"))
        else:
            keep.dbpedia.append(film)
    return dropped


def _apply_dbpedia(drafts: list[_Draft]) -> None:
    for draft in drafts:
        for film in draft.dbpedia:
            draft.sources["dbpedia"] = film.resource
            for role, people in film.people.items():
                draft.people[role] += [p for p in people if p not in draft.people[role]]
            for genre in film.genres:
                draft.add_genre(genre)


def _order_people_by_fame(drafts: list[_Draft]) -> None:
    """DBpedia lists people alphabetically; keep the best known (most films here) first, then cap."""
    films = Counter(name for d in drafts for names in d.people.values() for name in set(names))
    for draft in drafts:
        for role, names in draft.people.items():
            draft.people[role] = sorted(names, key=lambda n: -films[n])[: MAX_PEOPLE[role]]


def _popularity(drafts: list[_Draft]) -> dict[str, float]:
    per_signal: dict[str, dict[str, float]] = defaultdict(dict)
    for draft in drafts:
        for name, value in draft.popularity_signals.items():
            per_signal[name][draft.item_id] = value
    ranked = {name: percentile_ranks(values) for name, values in per_signal.items()}
    result = {}
    for draft in drafts:
        scores = [ranked[name][draft.item_id] for name in draft.popularity_signals]
        result[draft.item_id] = round(max(scores), 4) if scores else 0.0
    return result


def compose_description(title: str, year: int | None, genres: list[str], people: dict[str, list[str]]) -> str:
    """A factual sentence for items without an overview, built only from catalog facts."""
    kind = " ".join(g.lower() for g in genres[:2]) or "film"
    if genres and kind.split()[-1] not in {"film", "documentary"}:
        kind += " film"
    parts = [f"{title} is a {year} {kind}" if year else f"{title} is a {kind}"]
    if people.get("director"):
        parts.append(f"directed by {' and '.join(people['director'][:2])}")
    if people.get("star"):
        parts.append(f"starring {', '.join(people['star'][:3])}")
    return " ".join(parts) + "."


def _cooccurrence(shared: Path, drafts: list[_Draft]) -> dict[str, list[tuple[str, float]]]:
    """Item-item cosine over MovieLens users who rated both items >= 4 stars; top neighbours per item. MovieLens
    ids merged into one film share its column."""
    column = {ml: draft.item_id for draft in drafts for ml in draft.movielens_ids}
    ids = list(dict.fromkeys(column.values()))
    position = {item_id: i for i, item_id in enumerate(ids)}
    users: dict[str, int] = {}
    rows, cols = [], []
    with open(shared / "movielens_small" / "ratings.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if float(row["rating"]) >= LIKED_RATING and row["movieId"] in column:
                rows.append(users.setdefault(row["userId"], len(users)))
                cols.append(position[column[row["movieId"]]])
    liked = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(users), len(ids)))
    liked.data[:] = 1.0  # a user who rated both records of one film likes it once
    counts = np.asarray(liked.sum(axis=0)).ravel()
    co = (liked.T @ liked).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    norm = np.sqrt(np.maximum(counts, 1))
    result = {}
    for i in range(co.shape[0]):
        start, end = co.indptr[i], co.indptr[i + 1]
        if start == end:
            continue
        neighbours = co.indices[start:end]
        # Shrink pairs seen by only one or two users: raw cosine overrates them.
        raw = co.data[start:end]
        scores = raw / (norm[i] * norm[neighbours]) * (raw / (raw + 2.0))
        top = np.argsort(-scores)[:COOC_NEIGHBOURS]
        result[ids[i]] = [(ids[neighbours[j]], round(float(scores[j]), 4)) for j in top]
    return result


FIRST_TEST_CONVERSATION = 20001
"""ReDial's test conversations are numbered from here (SOURCE.md); none may feed a signal."""
UNKNOWN_LIKED = 2
"""ReDial's "did not say"."""


@dataclass
class _Conversation:
    conversation: str
    source: str
    """dialogue (the 1,401 with text and roles) | extra (item lists of the further train conversations)."""
    sequence: list[tuple[str, int]] = field(default_factory=list)
    """ReDial movie ids in order of first mention, with the seeker's liked answer (1 yes, 0 no, 2 did not say)."""


def _read_train_conversations(redial_dir: Path) -> list[_Conversation]:
    """Every ReDial train conversation once, from the first file that has it: the 1,401 full dialogues, the 15
    extra originals, then the ordered item lists (8,541) and the text file's (872, nearly all also item lists).
    Test conversations are refused."""
    found: dict[str, _Conversation] = {}

    def keep(conv: _Conversation) -> None:
        if int(conv.conversation) >= FIRST_TEST_CONVERSATION:
            raise ValueError(f"conversation {conv.conversation} in {redial_dir} is a ReDial test conversation")
        found.setdefault(conv.conversation, conv)

    for name, source in (("train_data_subset.jsonl", "dialogue"), ("train_data_extra_original.jsonl", "extra")):
        with open(redial_dir / name, encoding="utf-8") as handle:
            for line in handle:
                raw = json.loads(line)
                questions = raw.get("initiatorQuestions") or {}
                order = [m for msg in raw["messages"] for m in re.findall(r"@(\d+)", msg["text"])]
                order += list(raw.get("movieMentions") or {})
                liked = {m: int(questions.get(m, {}).get("liked", UNKNOWN_LIKED)) for m in order}
                keep(_Conversation(str(raw["conversationId"]), source, [(m, liked[m]) for m in dict.fromkeys(order)]))
    for name in ("train_extra_items.jsonl", "train_extra_text.jsonl"):
        with open(redial_dir / name, encoding="utf-8") as handle:
            for line in handle:
                raw = json.loads(line)
                sequence = [(str(m), int(liked)) for m, liked in raw["items_liked"]]
                keep(_Conversation(str(raw["conversationId"]), "extra", sequence))
    return sorted(found.values(), key=lambda c: int(c.conversation))


def _train_conversations(shared: Path, drafts: list[_Draft]) -> list[dict]:
    """Catalog items of each ReDial train conversation, keyed by conversation id so that an evaluation can leave
    out the dialogue it scores (`Cooccurrence.without`). Conversations that name no catalog item are skipped."""
    by_redial = {movie: d.item_id for d in drafts for movie in d.redial_ids}
    result = []
    for conv in _read_train_conversations(shared / "redial"):
        sequence: dict[str, int] = {}
        for movie, liked in conv.sequence:
            item = by_redial.get(movie)
            if item and item not in sequence:
                sequence[item] = liked
        if sequence:
            result.append({"conversation": conv.conversation, "source": conv.source, "items": sorted(sequence),
                           "sequence": [[item, liked] for item, liked in sequence.items()]})
    return result


def _write_json_gz(data: dict, path: Path) -> None:
    # mtime=0 keeps the gzip bytes reproducible across rebuilds.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(json.dumps(data, sort_keys=True).encode())


def _write_merge_report(report: ResolutionReport, audit: list[AuditFinding], flagged: list[AuditFinding],
                        path: Path) -> None:
    lines = ["# Catalog merge report", "",
             "Written by `liner build-assets` (recommender/build_assets.py, rule: recommender/entity_resolution.py).",
             "", f"## Merged: {len(report.merged)} records folded into the film they duplicate", "",
             "| kept | merged into it | why |", "|---|---|---|"]
    lines += [f"| {m.kept} | {m.other} | {m.reason} |" for m in report.merged]
    lines += ["", f"## Kept apart: {len(report.kept_apart)} namesakes with the same title", "",
              "| record | namesake | why |", "|---|---|---|"]
    lines += [f"| {m.kept} | {m.other} | {m.reason} |" for m in report.kept_apart]
    findings = audit + report.dropped_facts
    lines += ["", f"## Audit: {len(findings)} DBpedia links left out (title and year matched, the facts did not)",
              "", "| film | DBpedia resource | problem |", "|---|---|---|"]
    lines += [f"| {f.item_id} {f.film} | {f.resource} | {f.problem} |" for f in findings]
    lines += ["", f"## Flagged, kept: {len(flagged)} DBpedia pages whose country differs from TMDB's", "",
              "DBpedia's country often names a filming location or one co-producer, so these facts stay.", "",
              "| film | DBpedia resource | difference |", "|---|---|---|"]
    lines += [f"| {f.item_id} {f.film} | {f.resource} | {f.problem} |" for f in flagged]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_embeddings(catalog_path: Path, path: Path, settings: Settings) -> int:
    """Encode the built catalog into the shipped embeddings file; rows of an earlier file at `path` whose text did
    not change are reused. Returns the file's size in bytes."""
    catalog = load_catalog(catalog_path)
    encoder = Encoder(settings)
    vectors = catalog_vectors(catalog, encoder, path, progress=True)
    write_embedding_asset(vectors, [encoder.item_text(item) for item in catalog], encoder, catalog, path)
    return path.stat().st_size


def build_assets(shared: Path, out_dir: Path, settings: Settings | None = None,
                 embeddings: bool = True) -> dict[str, int | str]:
    """Build catalog.jsonl.gz, cooccurrence.json.gz, merge_report.md and (unless embeddings is False)
    item_embeddings.npz in out_dir; return counts to print."""
    settings = settings or load_settings()
    shared = Path(shared)
    if not (shared / "movielens_small" / "movies.csv").exists():
        raise FileNotFoundError(f"{shared} does not hold the shared data (movielens_small/movies.csv missing)")
    drafts: list[_Draft] = []
    index = _TitleIndex()
    _read_movielens(shared, drafts, index)
    redial_only = _read_redial(shared, drafts, index)
    tmdb_matched = _read_tmdb(shared, drafts, index)
    dbpedia_matched = _read_dbpedia(shared, index)
    audit, flagged = _audit_dbpedia(drafts)
    records = len(drafts)
    drafts, resolution = _resolve_duplicates(drafts, DialogueEvidence.from_redial(shared / "redial"))
    _apply_dbpedia(drafts)
    _order_people_by_fame(drafts)
    popularity = _popularity(drafts)

    items = []
    for draft in drafts:
        people = {role: tuple(names) for role, names in draft.people.items() if names}
        description = draft.overview or compose_description(draft.title, draft.year, draft.genres, draft.people)
        sources = dict(draft.sources, movielens=" ".join(draft.movielens_ids), redial=" ".join(draft.redial_ids))
        items.append(
            Item(
                item_id=draft.item_id,
                title=draft.title,
                year=draft.year,
                aliases=tuple(dict.fromkeys(a for a in draft.aliases if a and a != draft.title)),
                genres=tuple(draft.genres),
                people=people,
                keywords=tuple(dict.fromkeys(draft.keywords))[:MAX_KEYWORDS],
                description=description,
                has_overview=bool(draft.overview),
                popularity=popularity[draft.item_id],
                sources={key: value for key, value in sorted(sources.items()) if value},
            )
        )
    out_dir = Path(out_dir)
    write_catalog(items, out_dir / "catalog.jsonl.gz")
    conversations = _train_conversations(shared, drafts)
    cooc = {
        "source": "MovieLens ml-latest-small ratings >= 4 (item-item cosine, shrunk); items of every ReDial train "
                  "conversation (1,401 dialogues + 8,545 item lists), by conversation id",
        "movielens": _cooccurrence(shared, drafts),
        "redial_conversations": conversations,
    }
    _write_json_gz(cooc, out_dir / "cooccurrence.json.gz")
    _write_merge_report(resolution, audit, flagged, out_dir / "merge_report.md")
    counts: dict[str, int | str] = {}
    if embeddings:
        counts["embeddings_bytes"] = _write_embeddings(out_dir / "catalog.jsonl.gz",
                                                       out_dir / settings.embeddings_path.name, settings)
    return counts | {
        "source_records": records,
        "items": len(items),
        "merged": len(resolution.merged),
        "kept_apart": len(resolution.kept_apart),
        "dbpedia_links_dropped": len(audit) + len(resolution.dropped_facts),
        "dbpedia_links_flagged": len(flagged),
        "with_overview": sum(item.has_overview for item in items),
        "redial_only": redial_only,
        "tmdb_matched": tmdb_matched,
        "dbpedia_matched": dbpedia_matched,
        "with_people": sum(bool(item.people) for item in items),
        "cooccurrence_items": len(cooc["movielens"]),
        "redial_conversations": len(conversations),
        "dialogue_conversations": sum(c["source"] == "dialogue" for c in conversations),
        "merge_report": str(out_dir / "merge_report.md"),
    }
