"""Readers for the film-fact sources under ../shared/data/film_people/ and ../shared/data/recent_films/ (each
folder's SOURCE.md gives its provenance, licence and known defects). Every reader returns `SourceFilm` records in
file order; `pipelines.build_assets` joins them to the catalog and merges them.

The readers repair what SOURCE.md says is broken (double-encoded UTF-8, DBpedia disambiguators, Python-literal
lists) and keep each fact's source name, so that the catalog can say where a fact came from.
"""

from __future__ import annotations

import ast
import csv
import gzip
import io
import json
import re
import urllib.parse
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from core.text import fold_accents

TMDB_10866 = "tmdb_movies_10866"
MOVIES_DATASET_5000 = "movies_dataset_credits_small_5000"
TOMASONJO = "tomasonjo_movielens_people"
HETREC = "hetrec2011_movielens_directors"
ENTITY2REC = "entity2rec_dbpedia_movielens1m"
WIKIPEDIA = "wikipedia-us-films"
TMDB_POPULAR = "tmdb-popular-10k-2025"
TMDB_CREDITS = "tmdb-2020-2025-credits"
TMDB_DERIVED = frozenset({TMDB_10866, MOVIES_DATASET_5000, TMDB_POPULAR, TMDB_CREDITS, "tmdb_5000"})
"""Sources built from the TMDb API: they win when sources disagree (their directors agree with each other 98 %
of the time, HetRec's and the DBpedia mapping's 92-93 %)."""

FIRST_RECENT_YEAR = 2019
LAST_RECENT_YEAR = 2025
"""Rows dated later are announced or unreleased films (tmdb-popular-10k-2025 has 20 such rows)."""

MOJIBAKE = re.compile("[\u00c2-\u00f4]"
                      "[\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
                      "\u2013-\u203a\u20ac\u2122]")
"""A lead byte of a UTF-8 sequence followed by a continuation byte, both read as cp1252: "LÃ©a", "KieÅ›lowski"."""


@dataclass
class SourceFilm:
    """One row of one source, reduced to the facts the catalog keeps."""

    source: str
    """The shared/data folder name; it is what the catalog's provenance fields name."""
    title: str
    year: int | None
    tmdb: str = ""
    imdb: str = ""
    movielens: str = ""
    people: dict[str, list[str]] = field(default_factory=dict)
    billed: bool = False
    """The `star` list is in billing order (TMDb credits); otherwise its order means nothing."""
    runtime: int | None = None
    language: str | None = None
    series: str | None = None
    overview: str = ""
    tagline: str = ""
    genres: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    href: str = ""
    """Wikipedia page name (= DBpedia resource), for Wikipedia rows."""
    resource_year: int | None = None
    """The year a DBpedia resource name carries ("Braveheart_(1925_film)"), to catch namesake mappings."""
    popularity: dict[str, float] = field(default_factory=dict)


def repair_mojibake(text: str) -> str:
    """UTF-8 read as cp1252 ("LÃ©a Seydoux") back to what was meant; text that does not round-trip is kept. The
    five bytes cp1252 leaves undefined (0x81, 0x8d, ...) come through as the same code points, so each character
    is encoded by cp1252 where it can be and as its code point otherwise."""
    if not MOJIBAKE.search(text):
        return text
    raw = bytearray()
    for char in text:
        try:
            raw += char.encode("cp1252")
        except UnicodeEncodeError:
            if ord(char) > 0xFF:
                return text
            raw.append(ord(char))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return text


def _name_tokens(name: str) -> list[str]:
    name = fold_accents(name).lower()
    return re.findall(r"[a-z0-9]+", name)


def person_key(name: str) -> str:
    """Accent-, case-, punctuation- and order-insensitive key for one person across sources ("J.J. Abrams" =
    "J. J. Abrams", "Zhang Yimou" = "Yimou Zhang", "Wong Kar-wai" = "Kar Wai Wong")."""
    return " ".join(sorted(_name_tokens(name)))


def same_person(a: str, b: str) -> bool:
    """One person under two spellings: the same key, or one name's words all in the other's ("Ben Garant" /
    "Robert Ben Garant", "Dwight Little" / "Dwight H. Little")."""
    ta, tb = set(_name_tokens(a)), set(_name_tokens(b))
    return bool(ta and tb) and (ta == tb or (min(len(ta), len(tb)) >= 2 and (ta <= tb or tb <= ta)))


TMDB_LANGUAGES = {"cn": "zh", "xx": None}
"""TMDb's codes outside ISO 639-1: "cn" is Cantonese (ISO has only "zh", Chinese), "xx" no language."""


def language_code(raw: str | None) -> str | None:
    """A source's language code as ISO 639-1 (TMDB_LANGUAGES), None for none."""
    code = (raw or "").strip().lower()
    return TMDB_LANGUAGES.get(code, code) or None


def _names(raw: str, sep: str) -> list[str]:
    return list(dict.fromkeys(n.strip() for n in raw.split(sep) if n.strip()))


def _int(raw: str | None) -> int | None:
    try:
        value = int(float(raw or 0))
    except ValueError:
        return None
    return value or None


def _year(raw: str) -> int | None:
    match = re.match(r"^\s*(\d{4})", raw or "")
    return int(match.group(1)) if match else None


def read_tmdb_10866(folder: Path) -> list[SourceFilm]:
    """TMDb movies 1960-2015: director(s), top-5 cast in billing order, runtime, keywords, overview, tagline."""
    films = []
    with zipfile.ZipFile(folder / "tmdb-movies.zip") as archive, archive.open("tmdb-movies.csv") as raw:
        for row in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")):
            # A name still garbled after the repair lost a byte in the source ("Kiá»u Chinh"): it is left out.
            cast = [n for n in map(repair_mojibake, _names(row["cast"], "|")) if not MOJIBAKE.search(n)]
            directors = [n for n in map(repair_mojibake, _names(row["director"], "|")) if not MOJIBAKE.search(n)]
            people = {role: names for role, names in (("director", directors), ("star", cast)) if names}
            films.append(SourceFilm(
                source=TMDB_10866, title=repair_mojibake(row["original_title"]), year=_int(row["release_year"]),
                tmdb=row["id"].strip(), imdb=row["imdb_id"].strip(), people=people, billed=bool(cast),
                runtime=_int(row["runtime"]), overview=repair_mojibake(row["overview"].strip()),
                tagline=repair_mojibake(row["tagline"].strip()),
                keywords=[k.lower() for k in _names(repair_mojibake(row["keywords"]), "|")]))
    return films


def _literal(raw: str) -> object:
    try:
        return ast.literal_eval(raw) if raw.strip() else None
    except (ValueError, SyntaxError):
        return None


def read_movies_dataset_5000(folder: Path) -> list[SourceFilm]:
    """The Movies Dataset, first 5,000 films: director, top-3 cast (billing order), runtime, original language,
    collection (series), overview."""
    credits: dict[str, dict[str, str]] = {}
    with open(folder / "credits_small.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            credits.setdefault(row["id"].strip(), row)
    films = []
    with gzip.open(folder / "movies_metadata_small.csv.gz", "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            tmdb = row["id"].strip()
            credit = credits.get(tmdb, {})
            # Names in this file hold commas only as separators (TMDb names never contain one).
            cast = _names(credit.get("top_cast", ""), ",")
            directors = _names(credit.get("director", ""), "|")
            collection = _literal(row["belongs_to_collection"])
            films.append(SourceFilm(
                source=MOVIES_DATASET_5000, title=row["title"].strip(), year=_year(row["release_date"]), tmdb=tmdb,
                imdb=row["imdb_id"].strip(),
                people={role: names for role, names in (("director", directors), ("star", cast)) if names},
                billed=bool(cast), runtime=_int(row["runtime"]),
                language=language_code(row["original_language"]),
                series=collection.get("name") if isinstance(collection, dict) else None,
                overview=row["overview"].strip(), tagline=row["tagline"].strip()))
    return films


def read_tomasonjo(folder: Path) -> list[SourceFilm]:
    """MovieLens-small people table: director(s) and four actors, not in billing order."""
    films = []
    with gzip.open(folder / "movies.csv.gz", "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            people = {"director": _names(row["director"], "|"), "star": _names(row["actors"], "|")}
            films.append(SourceFilm(
                source=TOMASONJO, title=row["title"].strip(), year=_year(row["released"]),
                movielens=row["movieId"].strip(), people={r: n for r, n in people.items() if n}))
    return films


def read_hetrec(folder: Path) -> list[SourceFilm]:
    """HetRec 2011 directors, keyed by IMDb id only: its MovieLens links are sometimes wrong (SOURCE.md)."""
    imdb_of: dict[str, tuple[str, str, int | None]] = {}
    with gzip.open(folder / "movies.dat.gz", "rt", encoding="iso-8859-1") as handle:
        next(handle)
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) > 5 and parts[2].strip():
                imdb_of[parts[0]] = (f"tt{parts[2].strip().zfill(7)}", parts[1], _int(parts[5]))
    directors: dict[str, list[str]] = {}
    # UTF-8 in which the exporter already lost some letters (U+FFFD, "Doris D\ufffdrrie"): those names are dropped.
    with open(folder / "movie_directors.dat", encoding="utf-8", errors="replace") as handle:
        next(handle)
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            # IMDb's namesake numbers ("Steve Anderson (V)") are not part of the name.
            name = re.sub(r"\s*\([IVX]+\)$", "", parts[2].strip()) if len(parts) == 3 else ""
            if name and "\ufffd" not in name:
                directors.setdefault(parts[0], []).append(name)
    return [SourceFilm(source=HETREC, title=imdb_of[m][1], year=imdb_of[m][2], imdb=imdb_of[m][0],
                       people={"director": names})
            for m, names in directors.items() if m in imdb_of]


def _resource_segment(uri: str) -> str:
    return urllib.parse.unquote(uri.strip().strip("<>").rsplit("/", 1)[-1])


def dbpedia_person(segment: str) -> str:
    """"John_Morris_(composer)" -> "John Morris"."""
    return re.sub(r"_\([^)]*\)$", "", segment).replace("_", " ").strip()


def read_entity2rec(folder: Path) -> list[SourceFilm]:
    """DBpedia director / starring / writer / composer of MovieLens-1M films (LODrecsys mapping); the resource's
    own year is kept so that a namesake mapping (Braveheart -> the 1925 film) can be refused."""
    roles = {"dbo_director": "director", "dbo_starring": "star", "dbo_writer": "writer",
             "dbo_musicComposer": "composer"}
    facts: dict[str, dict[str, list[str]]] = {}
    for stem, role in roles.items():
        with open(folder / f"{stem}.edgelist", encoding="utf-8") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) != 2:
                    continue
                film, person = _resource_segment(parts[0]), dbpedia_person(_resource_segment(parts[1]))
                names = facts.setdefault(film, {}).setdefault(role, [])
                if person and person not in names:
                    names.append(person)
    films = []
    with open(folder / "mappings.tsv", encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                continue
            resource = _resource_segment(parts[2])
            match = re.search(r"\((\d{4})[^)]*\)$", parts[1].strip())
            resource_year = re.search(r"_\((\d{4})_[^)]*film\)$", resource)
            title = re.sub(r"\s*\(\d{4}\)$", "", parts[1].strip())
            films.append(SourceFilm(
                source=ENTITY2REC, title=title, year=int(match.group(1)) if match else None, movielens=parts[0],
                people=facts.get(resource, {}), href=resource,
                resource_year=int(resource_year.group(1)) if resource_year else None))
    return films


# --- recent films ---------------------------------------------------------------------------------------------

WIKIPEDIA_GENRES = {
    "Animated": "Animation", "Science Fiction": "Science Fiction", "Sci-Fi": "Science Fiction",
    "Comedy": "Comedy", "Drama": "Drama", "Thriller": "Thriller", "Horror": "Horror", "Action": "Action",
    "Romance": "Romance", "Fantasy": "Fantasy", "Crime": "Crime", "Adventure": "Adventure", "Musical": "Musical",
    "Mystery": "Mystery", "War": "War", "Documentary": "Documentary", "Family": "Family", "Western": "Western",
    "Noir": "Film Noir", "Historical": "History",
}
"""Wikipedia's genre words that name one of the catalog's (TMDb's) genres; the others become keywords."""

_UPPER = "A-ZÀ-ÖØ-Þ"
_NAME_WORD = rf"(?:[{_UPPER}]\.|Jr\.|[{_UPPER}][\w'’\-]*|(?:de|del|della|van|von|der|da|di|le|la)(?=\s+[{_UPPER}]))"
_NAME = rf"{_NAME_WORD}(?:\s?{_NAME_WORD})*"
_DIRECTED = re.compile(
    # "directed by", "directed and produced by", "written, directed, produced, and co-edited by"
    rf"\b(?:co-)?directed(?:(?:,\s*|\s+)(?:and\s+)?(?:co-)?[a-z]+ed)*\s+by\s+({_NAME}(?:(?:,\s*|\s+and\s+){_NAME})*)")
_NAME_STOP = {"The", "It", "In", "From", "Based", "Produced", "Written", "Starring", "This", "A", "An"}


def directors_in(text: str) -> list[str]:
    """Directors a Wikipedia lead names: "... film directed by Joe Russo and Anthony Russo, ..." -> both."""
    match = _DIRECTED.search(text)
    if not match:
        return []
    names = []
    for part in re.split(r",\s*|\s+and\s+", match.group(1)):
        words = part.strip().split()
        while words and words[-1] in _NAME_STOP:
            words.pop()
        if len(words) >= 2 and words[0] not in _NAME_STOP:
            names.append(" ".join(words))
    return list(dict.fromkeys(names))


def read_wikipedia(folder: Path) -> list[SourceFilm]:
    """US film lists 2019-2025: cast (list order), genres, lead paragraph (the description; it names the director
    for about four films in five)."""
    rows = [r for r in json.loads(gzip.decompress((folder / "movies-2010s.json.gz").read_bytes()))
            if r.get("year") == FIRST_RECENT_YEAR]
    rows += json.loads(gzip.decompress((folder / "movies-2020s.json.gz").read_bytes()))
    films = []
    for row in rows:
        extract = (row.get("extract") or "").strip()
        if "may refer to" in extract[:200]:
            extract = ""  # a disambiguation page's text, not the film's
        genres = [WIKIPEDIA_GENRES[g] for g in row.get("genres") or () if g in WIKIPEDIA_GENRES]
        keywords = [g.lower() for g in row.get("genres") or () if g not in WIKIPEDIA_GENRES]
        people = {"star": list(dict.fromkeys(row.get("cast") or ()))}
        if extract and directors_in(extract):
            people["director"] = directors_in(extract)
        films.append(SourceFilm(
            source=WIKIPEDIA, title=row["title"].strip(), year=int(row["year"]), href=row.get("href") or "",
            people={r: n for r, n in people.items() if n}, overview=extract, genres=list(dict.fromkeys(genres)),
            keywords=keywords))
    return films


def read_tmdb_popular(folder: Path) -> list[SourceFilm]:
    """TMDb's ~10,000 most popular films (August 2025), all years, in popularity order: overview, genres. The
    row's rank is kept as a popularity signal (the file has no vote counts)."""
    films = []
    with gzip.open(folder / "tmdb_movies.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for rank, row in enumerate(rows):
        year = _int(row["Year"])
        films.append(SourceFilm(
            source=TMDB_POPULAR, title=row["Title"].strip(), year=year, overview=(row["Description"] or "").strip(),
            genres=_names(row["Genre"] or "", ","),
            popularity={"tmdb_popular_2025": 1.0 - rank / len(rows)}))
    return films


def read_tmdb_credits(folder: Path) -> list[SourceFilm]:
    """TMDb 2020-2025 extract: TMDb and IMDb ids, director, full cast in billing order, runtime, language."""
    films = []
    with open(folder / "tmdb_movies.csv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            cast = _literal(row["cast"])
            genres = _literal(row["genres"])
            people = {"director": _names(row["director"], "|"),
                      "star": list(dict.fromkeys(cast)) if isinstance(cast, list) else []}
            films.append(SourceFilm(
                source=TMDB_CREDITS, title=row["title"].strip(), year=_int(row["release_year"]),
                tmdb=row["tmdb_id"].strip(), imdb=row["imdb_id"].strip(),
                people={r: n for r, n in people.items() if n}, billed=bool(people["star"]),
                runtime=_int(row["runtime"]), language=language_code(row["original_language"]),
                genres=list(genres) if isinstance(genres, list) else [],
                popularity={"tmdb_votes_2025": float(row["vote_count"] or 0)}))
    return films
