"""Build the shipped assets (catalog, co-occurrence) from ../shared/data.

Sources, all under ``--shared`` (see each folder's SOURCE.md and assets/README.md for licences):
- redial/movies_with_mentions.csv: the ReDial movie list (CC BY 4.0);
- movielens_small/: titles, genres, tags, ratings (GroupLens research licence);
- tmdb_5000/: overviews, keywords, genres, popularity (TMDb API terms);
- dbpedia_redial_kg/: directors, stars, writers, composers, film genres (CC BY-SA 3.0).
ReDial mention counts are deliberately not used for popularity: they would leak the evaluation data.
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

from recommender.catalog import Item, normalize_title, split_title_year, write_catalog

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

    def add_genre(self, genre: str | None) -> None:
        if genre and genre not in self.genres:
            self.genres.append(genre)


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
            draft.sources["movielens"] = row["movieId"]
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
            draft.sources.setdefault("redial", row["movieId"])
    return added


def _read_tmdb(shared: Path, drafts: list[_Draft], index: _TitleIndex) -> int:
    by_tmdb = {d.sources["tmdb"]: d for d in drafts if "tmdb" in d.sources}
    matched = 0
    with gzip.open(shared / "tmdb_5000" / "tmdb_5000_movies.csv.gz", "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            year = int(row["release_date"][:4]) if row["release_date"][:4].isdigit() else None
            draft = by_tmdb.get(row["id"]) or index.find(row["title"], year)
            if draft is None:
                continue
            matched += 1
            draft.sources["tmdb"] = row["id"]
            draft.overview = row["overview"].strip()
            draft.tagline = row["tagline"].strip()
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


def _read_dbpedia(shared: Path, index: _TitleIndex) -> int:
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
        draft.sources["dbpedia"] = segment
        for relation, tail in subkg.get(str(entity), []):
            rel = relations.get(relation, "")
            tail_name = names.get(tail, "")
            if rel in DBPEDIA_ROLES:
                role = DBPEDIA_ROLES[rel]
                person = _person_name(tail_name)
                if person and person not in draft.people[role]:
                    draft.people[role].append(person)
            elif rel == "genre" and tail_name in DBPEDIA_FILM_GENRES:
                draft.add_genre(DBPEDIA_FILM_GENRES[tail_name])
    _order_people_by_fame(index)
    return matched


def _order_people_by_fame(index: _TitleIndex) -> None:
    """DBpedia lists people alphabetically; keep the best known (most films here) first, then cap."""
    drafts = {id(d): d for names in index.by_title.values() for d in names}.values()
    films = Counter(name for d in drafts for names in d.people.values() for name in set(names))
    for draft in drafts:
        for role, names in draft.people.items():
            draft.people[role] = sorted(names, key=lambda n: -films[n])[: MAX_PEOPLE[role]]


def _percentiles(values: dict[str, float]) -> dict[str, float]:
    ordered = sorted(values, key=values.get)
    n = max(len(ordered) - 1, 1)
    return {key: rank / n for rank, key in enumerate(ordered)}


def _popularity(drafts: list[_Draft]) -> dict[str, float]:
    per_signal: dict[str, dict[str, float]] = defaultdict(dict)
    for draft in drafts:
        for name, value in draft.popularity_signals.items():
            per_signal[name][draft.item_id] = value
    ranked = {name: _percentiles(values) for name, values in per_signal.items()}
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


def _cooccurrence(shared: Path, by_ml: dict[str, _Draft]) -> dict[str, list[tuple[str, float]]]:
    """Item-item cosine over MovieLens users who rated both items >= 4 stars; top neighbours per item."""
    users: dict[str, int] = {}
    movies = {movie_id: i for i, movie_id in enumerate(by_ml)}
    rows, cols = [], []
    with open(shared / "movielens_small" / "ratings.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if float(row["rating"]) >= LIKED_RATING and row["movieId"] in movies:
                rows.append(users.setdefault(row["userId"], len(users)))
                cols.append(movies[row["movieId"]])
    liked = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(users), len(movies)))
    counts = np.asarray(liked.sum(axis=0)).ravel()
    co = (liked.T @ liked).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    norm = np.sqrt(np.maximum(counts, 1))
    ids = [by_ml[m].item_id for m in movies]
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


def _redial_mentions(shared: Path, drafts: list[_Draft]) -> list[dict]:
    """Catalog items mentioned together in each ReDial train conversation (for co-mention counts)."""
    by_redial = {d.sources["redial"]: d.item_id for d in drafts if "redial" in d.sources}
    conversations = []
    with open(shared / "redial" / "train_data_subset.jsonl", encoding="utf-8") as handle:
        for line in handle:
            conv = json.loads(line)
            mentioned = sorted({by_redial[m] for m in conv.get("movieMentions") or {} if m in by_redial})
            if len(mentioned) >= 2:
                conversations.append({"conversation": conv["conversationId"], "items": mentioned})
    return conversations


def build_assets(shared: Path, out_dir: Path) -> dict[str, int]:
    """Build catalog.jsonl.gz and cooccurrence.json.gz in out_dir; return counts for the report."""
    shared = Path(shared)
    if not (shared / "movielens_small" / "movies.csv").exists():
        raise FileNotFoundError(f"{shared} does not hold the shared data (movielens_small/movies.csv missing)")
    drafts: list[_Draft] = []
    index = _TitleIndex()
    by_ml = _read_movielens(shared, drafts, index)
    redial_only = _read_redial(shared, drafts, index)
    tmdb_matched = _read_tmdb(shared, drafts, index)
    dbpedia_matched = _read_dbpedia(shared, index)
    popularity = _popularity(drafts)

    items = []
    for draft in drafts:
        people = {role: tuple(names) for role, names in draft.people.items() if names}
        description = draft.overview or compose_description(draft.title, draft.year, draft.genres, draft.people)
        items.append(
            Item(
                item_id=draft.item_id,
                title=draft.title,
                year=draft.year,
                aliases=tuple(a for a in draft.aliases if a and a != draft.title),
                genres=tuple(draft.genres),
                people=people,
                keywords=tuple(dict.fromkeys(draft.keywords))[:MAX_KEYWORDS],
                description=description,
                has_overview=bool(draft.overview),
                popularity=popularity[draft.item_id],
                sources=dict(sorted(draft.sources.items())),
            )
        )
    out_dir = Path(out_dir)
    write_catalog(items, out_dir / "catalog.jsonl.gz")
    cooc = {
        "source": "MovieLens ml-latest-small ratings >= 4 (item-item cosine, shrunk); ReDial train co-mentions",
        "movielens": _cooccurrence(shared, by_ml),
        "redial_conversations": _redial_mentions(shared, drafts),
    }
    with open(out_dir / "cooccurrence.json.gz", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(json.dumps(cooc, sort_keys=True).encode())
    return {
        "items": len(items),
        "with_overview": sum(item.has_overview for item in items),
        "redial_only": redial_only,
        "tmdb_matched": tmdb_matched,
        "dbpedia_matched": dbpedia_matched,
        "with_people": sum(bool(item.people) for item in items),
        "cooccurrence_items": len(cooc["movielens"]),
        "redial_conversations": len(cooc["redial_conversations"]),
    }

