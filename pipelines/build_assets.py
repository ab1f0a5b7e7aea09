"""Build the shipped assets (catalog, co-occurrence, item embeddings, merge report) from ../shared/data.

Sources, all under ``--shared`` (see each folder's SOURCE.md and assets/README.md for licences):
- redial/movies_with_mentions.csv: the ReDial movie list (CC BY 4.0);
- redial/train_*.jsonl: the ReDial train conversations (co-mentions; dialogue text as merge evidence);
- movielens_small/: titles, genres, tags, ratings (GroupLens research licence);
- tmdb_5000/: overviews, keywords, genres, popularity, countries, languages (TMDb API terms);
- dbpedia_redial_kg/: directors, stars, writers, composers, film genres (CC BY-SA 3.0);
- film_people/: directors, billing-order cast, writers, composers, runtime, original language, series (TMDb
  API terms; MovieLens, HetRec non-commercial; DBpedia CC BY-SA 3.0);
- recent_films/: films of 2019-2025 from Wikipedia's US film lists (CC BY-SA) and two TMDb extracts (TMDb API terms).

Steps: read every source record; link TMDB and DBpedia by ids or title and year; audit the DBpedia links against
TMDB's countries and languages; merge records of the same film (pipelines/entity_resolution.py), keeping every
source id resolvable (films of 2019-2025 take part as records of their own); join the film_people facts by TMDb,
IMDb and MovieLens ids, then title and year; settle each fact from the most trusted source that has it
(SOURCE_TRUST; disagreements go to the merge report); then write the files. ReDial mention counts are deliberately
not used for popularity: they
would leak the evaluation data.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import logging
import re
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse
from tqdm import tqdm

from core.catalog import article_first, load_catalog, normalize_title, split_title_year, write_catalog
from core.errors import FixableError
from core.files import write_gzip
from core.item import Item
from core.settings import Settings, load_settings
from core.stats import percentile_ranks, top_scored
from pipelines.entity_resolution import MAX_YEAR_GAP, DialogueEvidence, FilmFacts, same_film
from pipelines.film_sources import (
    ENTITY2REC, FIRST_RECENT_YEAR, HETREC, LAST_RECENT_YEAR, MOVIES_DATASET_5000, TMDB_10866, TMDB_CREDITS,
    TMDB_DERIVED, TMDB_POPULAR, TOMASONJO, WIKIPEDIA, SourceFilm, language_code, person_key, read_entity2rec,
    read_hetrec, read_movies_dataset_5000, read_tmdb_10866, read_tmdb_credits, read_tmdb_popular, read_tomasonjo,
    read_wikipedia, same_person,
)
from recommender.embedding_asset import catalog_vectors, write_embedding_asset
from recommender.encoder import Encoder

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
TMDB_5000 = "tmdb_5000"
DBPEDIA_REDIAL = "dbpedia_redial_kg"
SOURCE_TRUST = (TMDB_10866, MOVIES_DATASET_5000, TMDB_5000, TMDB_CREDITS, TMDB_POPULAR, WIKIPEDIA, TOMASONJO, HETREC,
                ENTITY2REC, DBPEDIA_REDIAL)
"""Which source's fact wins, most trusted first: the TMDb-derived files (their directors agree with each other 98 %
of the time), then Wikipedia's lead paragraphs, then the MovieLens people table (98 % with TMDb), HetRec (93 %) and
the DBpedia mappings (92 %)."""
FILM_PEOPLE = {
    TMDB_10866: read_tmdb_10866,
    MOVIES_DATASET_5000: read_movies_dataset_5000,
    TOMASONJO: read_tomasonjo,
    HETREC: read_hetrec,
    ENTITY2REC: read_entity2rec,
}
"""film_people/ folders and their readers (pipelines/film_sources.py)."""
RECENT_FILMS = {TMDB_CREDITS: read_tmdb_credits, WIKIPEDIA: read_wikipedia, TMDB_POPULAR: read_tmdb_popular}
"""recent_films/ folders and their readers."""
RECENT_ID_PREFIXES = {TMDB_CREDITS: "tm", WIKIPEDIA: "wp", TMDB_POPULAR: "tp"}
"""Ids of films new from recent_films: "tm<TMDb id>" where the film has one, else "wp"/"tp" and 8 hex digits of a
hash of the Wikipedia page name, or of title and year (stable while the source row is)."""
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
        aliases.append(article_first(other))
    return article_first(title), aliases, year


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
    records: list[SourceFilm] = field(default_factory=list)
    """Rows of film_people/, recent_films/ and tmdb_5000 joined to this film; `_settle_facts` picks from them."""
    ordered: dict[str, int] = field(default_factory=dict)
    """Per role, how many leading names are in the source's own order (billing), which fame must not change."""
    runtime: int | None = None
    language: str | None = None
    series: str | None = None
    recent: bool = False
    """Built from a recent_films row (2019-2025)."""

    def add_genre(self, genre: str | None) -> None:
        if genre and genre not in self.genres:
            self.genres.append(genre)

    @property
    def rank(self) -> tuple:
        """Which of two merged records keeps its id: MovieLens first, then the better known (ids stay stable)."""
        return (bool(self.movielens_ids), "tmdb" in self.sources, self.popularity_signals.get("ml_ratings", 0),
                bool(self.dbpedia), self.item_id)

    def facts(self) -> FilmFacts:
        people: dict[str, list[str]] = defaultdict(list)
        for source in ([self.dbpedia[0].people] if self.dbpedia else []) + [r.people for r in self.records]:
            for role, names in source.items():
                people[role] += names
        return FilmFacts.of(self.item_id, self.title, self.aliases, self.year, self.sources, people, self.redial_ids,
                            self.recent, self.overview)


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
            runtime = int(float(row["runtime"] or 0))
            draft.records.append(SourceFilm(source=TMDB_5000, title=row["title"], year=year, tmdb=row["id"],
                                            runtime=runtime or None, language=language_code(row["original_language"])))
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
        # A title of no Latin letters or digits normalises to "" and would pair with every other such title.
        for name in {normalize_title(t) for t in (draft.title, *draft.aliases)} - {""}:
            by_name[name].append(draft)
    pairs = {}
    for group in by_name.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if a is not b:
                    pairs[tuple(sorted((a.item_id, b.item_id)))] = (a, b)
    return list(pairs.values())


def _resolve_duplicates(drafts: list[_Draft], evidence: DialogueEvidence) -> tuple[list[_Draft], ResolutionReport]:
    """Merge records of the same film (pipelines.entity_resolution), strongest evidence first. Each merge is
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
    keep.records += other.records
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


def _recent_id(record: SourceFilm) -> str:
    if record.tmdb:
        return f"tm{record.tmdb}"
    if record.source == WIKIPEDIA and record.href:
        key = record.href
    else:
        key = f"{normalize_title(record.title)}|{record.year}"
    return f"{RECENT_ID_PREFIXES[record.source]}{hashlib.sha256(key.encode()).hexdigest()[:8]}"


@dataclass
class RecentReport:
    """What recent_films/ gave: rows read per source, rows left out and why."""

    rows: dict[str, int] = field(default_factory=dict)
    left_out: list[tuple[str, str, str]] = field(default_factory=list)
    """(source, film, why) for rows that made no record."""


def _read_recent(shared: Path, drafts: list[_Draft]) -> RecentReport:
    """One draft per recent_films row of 2019-2025; entity resolution merges the rows of one film afterwards (with
    each other and with catalog films of the same title), under the recent-films rule of entity_resolution."""
    report = RecentReport()
    taken: dict[str, str] = {}
    for source, read in RECENT_FILMS.items():
        rows = read(shared / "recent_films" / source)
        report.rows[source] = len(rows)
        for record in rows:
            label = f"{record.title} ({record.year})"
            if record.year is not None and record.year < FIRST_RECENT_YEAR:
                continue  # older rows of the popular-films file serve the catalog's films (`_join_film_people`)
            if record.year is None or record.year > LAST_RECENT_YEAR or not normalize_title(record.title):
                if record.year is None:
                    why = "no year"
                elif record.year > LAST_RECENT_YEAR:
                    why = f"dated after {LAST_RECENT_YEAR}: not released"
                else:
                    why = "a title of no Latin letters: it cannot be typed or linked"
                report.left_out.append((source, label, why))
                continue
            item_id = _recent_id(record)
            if item_id in taken:
                # The same source row twice (the popular file repeats 122 rows): one record is enough.
                report.left_out.append((source, label, f"repeats the row of {taken[item_id]}"))
                continue
            taken[item_id] = label
            draft = _Draft(item_id=item_id, title=record.title, year=record.year, overview=record.overview,
                           records=[record], recent=True)
            draft.sources["recent"] = source
            for key, value in (("tmdb", record.tmdb), ("imdb", record.imdb), ("wikipedia", record.href)):
                if value:
                    draft.sources[key] = value
            draft.popularity_signals.update(record.popularity)
            drafts.append(draft)
    return report


@dataclass
class FactReport:
    """How film_people/ and the older rows of recent_films/ joined the catalog, and where sources disagreed."""

    joined: dict[str, Counter] = field(default_factory=dict)
    """Per source, rows joined by each way (tmdb, imdb, movielens, title+year) and rows not joined."""
    refused: list[tuple[str, str, str]] = field(default_factory=list)
    """(item, source row, why): id joins whose row is another film (a namesake mapping)."""
    disagreements: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(item, fact, kept value and source, other value and source)."""


def _join_film_people(shared: Path, drafts: list[_Draft]) -> FactReport:
    """Attach each film_people row (and each popular-films row older than 2019) to its catalog film: TMDb id, then
    IMDb id, then MovieLens id, then the same title in the same year (one film only). HetRec joins by IMDb id only
    (its MovieLens links were made by title search); a DBpedia resource named for another year is refused."""
    report = FactReport()
    by_tmdb = {d.sources["tmdb"]: d for d in drafts if "tmdb" in d.sources}
    by_imdb = {d.sources["imdb"]: d for d in drafts if "imdb" in d.sources}
    by_ml = {ml: d for d in drafts for ml in d.movielens_ids}
    by_title: dict[tuple[str, int | None], list[_Draft]] = defaultdict(list)
    for draft in drafts:
        for name in dict.fromkeys(normalize_title(t) for t in (draft.title, *draft.aliases)):
            by_title[(name, draft.year)].append(draft)
    sources: list[tuple[str, list[SourceFilm]]] = [
        (name, read(shared / "film_people" / name)) for name, read in FILM_PEOPLE.items()]
    sources.append((TMDB_POPULAR, [r for r in read_tmdb_popular(shared / "recent_films" / TMDB_POPULAR)
                                   if r.year is not None and r.year < FIRST_RECENT_YEAR]))
    for source, rows in tqdm(sources, desc="film facts", unit="source"):
        counts = report.joined.setdefault(source, Counter())
        for record in rows:
            draft, way = None, "not joined"
            if record.tmdb and record.tmdb in by_tmdb:
                draft, way = by_tmdb[record.tmdb], "tmdb id"
            elif record.imdb and record.imdb in by_imdb:
                draft, way = by_imdb[record.imdb], "imdb id"
            elif record.movielens and record.movielens in by_ml and source != HETREC:
                draft, way = by_ml[record.movielens], "movielens id"
            elif source != HETREC and record.year is not None:
                name = normalize_title(record.title)
                films = by_title.get((name, record.year), [])
                if not films:
                    # Release years differ by one across sources (festival vs. national release).
                    films = [d for gap in (-1, 1) for d in by_title.get((name, record.year + gap), [])]
                if len(films) == 1:
                    draft, way = films[0], "title and year"
            if draft is not None and record.resource_year and draft.year and \
                    abs(record.resource_year - draft.year) > MAX_YEAR_GAP:
                report.refused.append((_described(draft), f"{source} {record.href}",
                                       f"the resource is a {record.resource_year} film"))
                draft, way = None, "refused (namesake)"
            counts[way] += 1
            if draft is not None:
                draft.records.append(record)
    return report


def _trusted(records: list[SourceFilm]) -> list[SourceFilm]:
    return sorted(records, key=lambda r: SOURCE_TRUST.index(r.source))


def _settle_facts(drafts: list[_Draft], report: FactReport) -> None:
    """Each fact of each film from the most trusted source that has it (SOURCE_TRUST); a director or runtime
    another source gives differently goes to the report. `sources["facts.<fact>"]` names the sources of each fact,
    the one that decided first."""
    for draft in drafts:
        records = _trusted(draft.records)
        _settle_people(draft, records, report)
        for fact in ("runtime", "language", "series"):
            given = [(getattr(r, fact), r.source) for r in records if getattr(r, fact)]
            if given:
                setattr(draft, fact, given[0][0])
                draft.sources[f"facts.{fact}"] = given[0][1]
        runtimes = [(r.runtime, r.source) for r in records if r.runtime]
        for runtime, source in runtimes[1:]:
            # Cuts differ by a few minutes; a bigger gap is worth a look.
            if abs(runtime - runtimes[0][0]) > 10:
                report.disagreements.append((_described(draft), "runtime", f"{runtimes[0][0]} min ({runtimes[0][1]})",
                                             f"{runtime} min ({source})"))
        described = next((r for r in records if r.overview), None)
        # A recent film's description is the most trusted one (a TMDb overview before a Wikipedia lead); a catalog
        # film keeps the overview it has.
        if described and (draft.recent or not draft.overview):
            draft.overview, draft.tagline = described.overview, described.tagline
            draft.sources["facts.description"] = described.source
        for record in records:
            for genre in record.genres:
                draft.add_genre(_genre(genre))
            draft.keywords += [k for k in record.keywords if k not in draft.keywords]
            # Only a recent film takes the 2025 popularity signals: the catalog's films keep the signals they were
            # ranked by (2025 TMDb popularity favours a few odd older titles).
            for name, value in record.popularity.items() if draft.recent else ():
                draft.popularity_signals[name] = max(value, draft.popularity_signals.get(name, 0.0))
        if draft.recent:
            draft.sources["recent"] = " ".join(sorted({r.source for r in records if r.source in RECENT_FILMS}))
            for record in records:
                if record.imdb:
                    draft.sources.setdefault("imdb", record.imdb)


def _settle_people(draft: _Draft, records: list[SourceFilm], report: FactReport) -> None:
    """Directors from the most trusted source that names any; the cast led by the most trusted billing order
    (then other sources' names, ordered by fame later); writers and composers from every source. The DBpedia
    people already on the draft rank last."""
    dbpedia = {role: list(names) for role, names in draft.people.items() if names}
    candidates = [(r.source, r.people, r.billed) for r in records if r.people]
    if dbpedia:
        candidates.append((DBPEDIA_REDIAL, dbpedia, False))
    people: dict[str, list[str]] = defaultdict(list)
    for role in MAX_PEOPLE:
        given = [(source, names[role], billed) for source, names, billed in candidates if names.get(role)]
        if not given:
            continue
        keys: set[str] = set()
        used = []
        if role == "director":
            # One source decides; another source naming none of them is a disagreement, not a co-director.
            first_source, first = given[0][0], given[0][1]
            people[role] = list(first)
            used.append(first_source)
            for source, names, _ in given[1:]:
                if any(same_person(a, b) for a in first for b in names):
                    used.append(source)
                    # Two TMDb files name one director only ("Everything Everywhere All at Once"): a TMDb or
                    # Wikipedia source that agrees on one adds the co-directors.
                    if source in TMDB_DERIVED or source == WIKIPEDIA:
                        people[role] += [n for n in names if not any(same_person(n, p) for p in people[role])]
                else:
                    report.disagreements.append((_described(draft), "director", f"{', '.join(first)} ({first_source})",
                                                 f"{', '.join(names)} ({source})"))
        else:
            ordered = next(((source, names) for source, names, billed in given if billed or source == WIKIPEDIA), None)
            if role == "star" and ordered:
                # Billing order (TMDb), or the Wikipedia list's order, leads; fame never reorders it.
                people[role] = list(ordered[1][: MAX_PEOPLE[role]])
                draft.ordered[role] = len(people[role])
                used.append(ordered[0])
                if ordered[0] != WIKIPEDIA:
                    draft.sources["facts.billing"] = ordered[0]
            keys = {person_key(n) for n in people[role]}
            for source, names, _ in given:
                new = [n for n in names if person_key(n) not in keys]
                if new:
                    people[role] += new
                    keys |= {person_key(n) for n in new}
                    used.append(source)
        draft.sources[f"facts.{role}"] = " ".join(dict.fromkeys(used))
    draft.people = people


def _order_people_by_fame(drafts: list[_Draft]) -> None:
    """DBpedia and the MovieLens people table list people in no useful order; after the names in billing order
    (`_Draft.ordered`), keep the best known (most films here) first, then cap. Equal fame keeps source order."""
    films = Counter(name for d in drafts for names in d.people.values() for name in set(names))
    for draft in drafts:
        for role, names in draft.people.items():
            fixed = draft.ordered.get(role, 0)
            draft.people[role] = (names[:fixed] + sorted(names[fixed:], key=lambda n: -films[n]))[: MAX_PEOPLE[role]]


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
        # Rounded first, so that scores equal in the file are equal here; ties then go by id (top_scored).
        rounded = {ids[n]: round(float(score), 4) for n, score in zip(neighbours, scores)}
        result[ids[i]] = top_scored(rounded, COOC_NEIGHBOURS)
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
    workers: dict[str, str] = field(default_factory=dict)
    """{"seeker": id, "recommender": id}: the crowd workers, where the file names them (dialogues only), so that
    the co-mention counts can count one worker's habit once (recommender.cooccurrence)."""


def _read_train_conversations(redial_dir: Path) -> list[_Conversation]:
    """Every ReDial train conversation once, from the first file that has it: the 1,401 full dialogues, the 15
    extra originals, then the ordered item lists (8,541) and the text file's (872, nearly all also item lists):
    8,545 further conversations in all. Test conversations are refused."""
    found: dict[str, _Conversation] = {}

    def keep(conv: _Conversation) -> None:
        if int(conv.conversation) >= FIRST_TEST_CONVERSATION:
            raise FixableError(f"conversation {conv.conversation} in {redial_dir} is a ReDial test conversation")
        found.setdefault(conv.conversation, conv)

    for name, source in (("train_data_subset.jsonl", "dialogue"), ("train_data_extra_original.jsonl", "extra")):
        with open(redial_dir / name, encoding="utf-8") as handle:
            for line in handle:
                raw = json.loads(line)
                questions = raw.get("initiatorQuestions") or {}
                order = [m for msg in raw["messages"] for m in re.findall(r"@(\d+)", msg["text"])]
                order += list(raw.get("movieMentions") or {})
                liked = {m: int(questions.get(m, {}).get("liked", UNKNOWN_LIKED)) for m in order}
                workers = {"seeker": str(raw["initiatorWorkerId"]), "recommender": str(raw["respondentWorkerId"])}
                keep(_Conversation(str(raw["conversationId"]), source, [(m, liked[m]) for m in dict.fromkeys(order)],
                                   workers))
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
                           "sequence": [[item, liked] for item, liked in sequence.items()]}
                          | ({"workers": conv.workers} if conv.workers else {}))
    return result


def _write_json_gz(data: dict, path: Path) -> None:
    write_gzip(path, [json.dumps(data, sort_keys=True).encode()])




def coverage(items: list[Item]) -> dict[str, float | int]:
    """Shares of items with each fact, for `liner build-assets` to print and tests/test_build_assets.py to hold to
    issue 16 and 22's floors. Runtime, language and the director of popular films are also given for the films
    before 2019 alone: the recent sources give runtime and language for a few hundred films, and no director for
    most films of TMDb's popular list (which is what makes them popular here)."""
    def share(group: list[Item], has) -> float:
        return sum(bool(has(item)) for item in group) / max(len(group), 1)

    popular = [item for item in items if item.popularity > 0.5]
    recent = [item for item in items if item.year and FIRST_RECENT_YEAR <= item.year <= LAST_RECENT_YEAR]
    older = [item for item in items if not (item.year and item.year >= FIRST_RECENT_YEAR)]
    older_popular = [item for item in popular if not (item.year and item.year >= FIRST_RECENT_YEAR)]
    return {
        "director": share(items, lambda i: i.people.get("director")),
        "director_popular": share(popular, lambda i: i.people.get("director")),
        "director_popular_before_2019": share(older_popular, lambda i: i.people.get("director")),
        "cast": share(items, lambda i: i.people.get("star")),
        "billing_cast": share(items, lambda i: "facts.billing" in i.sources),
        "runtime": share(items, lambda i: i.runtime),
        "runtime_before_2019": share(older, lambda i: i.runtime),
        "language": share(items, lambda i: i.language),
        "language_before_2019": share(older, lambda i: i.language),
        "series": sum(bool(item.series) for item in items),
        "recent_films": len(recent),
        "recent_description": share(recent, lambda i: i.description and "facts.description" in i.sources),
        "recent_director": share(recent, lambda i: i.people.get("director")),
    }


def _write_merge_report(report: ResolutionReport, audit: list[AuditFinding], flagged: list[AuditFinding],
                        path: Path, recent: RecentReport, facts: FactReport, shares: dict[str, float | int]) -> None:
    lines = ["# Catalog merge report", "",
             "Written by `liner build-assets` (pipelines/build_assets.py, rule: pipelines/entity_resolution.py).",
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
    lines += ["", "## Coverage", "", "| fact | share of items |", "|---|---|"]
    lines += [f"| {name} | {value:.1%} |" if isinstance(value, float) else f"| {name} | {value:,} items |"
              for name, value in shares.items()]
    lines += ["", "## Film facts joined (film_people/, and recent_films/ rows before 2019)", "",
              "Rows of each source and how they joined a catalog film (`_join_film_people`); a fact comes from the "
              "most trusted source that has it (`SOURCE_TRUST`).", "", "| source | joined by | rows |", "|---|---|---|"]
    lines += [f"| {source} | {way} | {n:,} |" for source, counts in facts.joined.items()
              for way, n in sorted(counts.items())]
    lines += ["", f"## Refused: {len(facts.refused)} rows mapped to a namesake", "", "| film | row | why |",
              "|---|---|---|"]
    lines += [f"| {item} | {row} | {why} |" for item, row, why in facts.refused]
    lines += ["", f"## Disagreements: {len(facts.disagreements)} facts two sources give differently (the first kept)",
              "", "| film | fact | kept | other |", "|---|---|---|---|"]
    lines += [f"| {item} | {fact} | {kept} | {other} |" for item, fact, kept, other in facts.disagreements]
    lines += ["", "## Recent films (recent_films/, 2019-2025)", "",
              "Every row of 2019-2025 is a record; entity resolution (above: Merged / Kept apart) joins the rows of "
              "one film, and a film already in the catalog. Rows read: "
              + ", ".join(f"{source} {n:,}" for source, n in recent.rows.items()) + ".", "",
              f"### Left out: {len(recent.left_out)} rows", "", "| source | row | why |", "|---|---|---|"]
    lines += [f"| {source} | {film} | {why} |" for source, film, why in recent.left_out]
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
    recent = _read_recent(shared, drafts)
    records = len(drafts)
    drafts, resolution = _resolve_duplicates(drafts, DialogueEvidence.from_redial(shared / "redial"))
    _apply_dbpedia(drafts)
    facts = _join_film_people(shared, drafts)
    _settle_facts(drafts, facts)
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
                runtime=draft.runtime,
                language=draft.language,
                series=draft.series,
            )
        )
    shares = coverage(items)
    out_dir = Path(out_dir)
    write_catalog(items, out_dir / "catalog.jsonl.gz")
    conversations = _train_conversations(shared, drafts)
    cooc = {
        "source": "MovieLens ml-latest-small ratings >= 4 (item-item cosine, shrunk); items of every ReDial train "
                  "conversation that names a catalog film (1,401 dialogues + 8,501 of the 8,545 further item lists), by "
                  "conversation id, with the crowd workers where known",
        "movielens": _cooccurrence(shared, drafts),
        "redial_conversations": conversations,
    }
    _write_json_gz(cooc, out_dir / "cooccurrence.json.gz")
    _write_merge_report(resolution, audit, flagged, out_dir / "merge_report.md", recent, facts, shares)
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
        "recent_rows_left_out": len(recent.left_out),
        "fact_disagreements": len(facts.disagreements),
        "namesake_rows_refused": len(facts.refused),
        "merge_report": str(out_dir / "merge_report.md"),
    } | {name: f"{share:.1%}" if isinstance(share, float) else share for name, share in shares.items()}
