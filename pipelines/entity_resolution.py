"""When two catalog records are the same film: the rule `liner build-assets` merges by, and that a test checks
over the shipped catalog.

Records come from MovieLens (with IMDb and TMDB ids) and from ReDial's movie list (a title and a year, no ids).
ReDial's years are often one off (a release year elsewhere), so the same film enters twice: Heat (1995) from
MovieLens and Heat (1996) from ReDial. DBpedia facts are linked by title and year, so the second record can also
pick up the facts of a namesake (Taxi Driver (1977) got the Malayalam film's director). The rule:

1. A shared IMDb or TMDB id means the same film; two different ids of the same kind mean two films.
2. A ReDial-only record (no IMDb or TMDB id: only its title and year are sure) is judged by what the ReDial
   train dialogues that mention it say, when both records have people on record: more dialogues naming one
   side's people decide (across more than a year only with MIN_DIALOGUES_ACROSS_YEARS and none for the other
   side). Without such evidence a year within one means the same film, unless both are ReDial-only and their
   directors differ.
3. Otherwise titles must match, years be within one, and known directors agree.
Records more than a year apart are not compared unless rule 1 or 2 decides.

Films from ../shared/data/recent_films (2019-2025: Wikipedia lists, TMDb extracts, mostly without ids) are judged
before rule 2: the same title in the same year is the same film unless known directors differ; a year apart it is
the same film only when people or the descriptions agree (RECENT_MIN_SHARED_WORDS).
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from core.catalog import normalize_title
from core.item import Item
from pipelines.film_sources import same_person

MAX_YEAR_GAP = 1
"""Release years of one film differ by at most this across sources (festival vs. national release)."""
MIN_DIALOGUES_ACROSS_YEARS = 3
"""Dialogues that must name the other film's people before a ReDial record more than a year off is merged."""
RECENT_MIN_SHARED_WORDS = 4
"""Distinctive description words (not in the title, not common) two descriptions of one film a year apart share;
a Wikipedia lead and a TMDb overview of the same film name the same places, characters and plot nouns."""
MIN_SURNAME_CHARS = 5
"""Shorter surnames ("Bay", "Lee") match too many words; those people count only by their full name."""

_MENTION = re.compile(r"@(\d+)")


@dataclass(frozen=True)
class FilmFacts:
    """What the rule looks at in a record (a build draft or a shipped item)."""

    key: str
    names: frozenset[str]
    """Normalized title and aliases."""
    year: int | None
    imdb: str = ""
    tmdb: str = ""
    directors: frozenset[str] = frozenset()
    people: frozenset[str] = frozenset()
    redial_ids: tuple[str, ...] = ()
    recent: bool = False
    """A record from recent_films (or an item built from one): judged by the recent-films rule."""
    words: frozenset[str] = frozenset()
    """Distinctive words of its description (`description_words`), for the recent-films rule."""

    @property
    def redial_only(self) -> bool:
        """Known from ReDial's list alone: its title and year are all that is sure about it."""
        return not self.imdb and not self.tmdb and not self.recent

    @classmethod
    def of(cls, key: str, title: str, aliases: Iterable[str], year: int | None, sources: Mapping[str, str],
           people: Mapping[str, Iterable[str]], redial_ids: Iterable[str], recent: bool,
           description: str) -> "FilmFacts":
        """The facts of one record, a build draft or a shipped item alike."""
        names = (title, *aliases)
        return cls(key=key, names=frozenset(normalize_title(t) for t in names), year=year,
                   imdb=sources.get("imdb", ""), tmdb=sources.get("tmdb", ""),
                   directors=frozenset(people.get("director", ())),
                   people=frozenset(name for role_names in people.values() for name in role_names),
                   redial_ids=tuple(redial_ids), recent=recent, words=description_words(description, names))

    @classmethod
    def of_item(cls, item: Item) -> "FilmFacts":
        return cls.of(item.item_id, item.title, item.aliases, item.year, item.sources, item.people,
                      item.sources.get("redial", "").split(), bool(item.sources.get("recent")), item.description)


@dataclass(frozen=True)
class Verdict:
    same: bool
    reason: str
    strength: int
    """Higher = surer; merges are applied strongest first."""


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", normalize_title(text))


_COMMON_WORDS = frozenset("""
about after against also american among another around based been before being between both called comedy could
directed drama during each every film films first follows from have into life love more most movie must only other
over own released series starring stars story their them then there these they this three through time told under
until when where which while whose will with woman women world would year years young written""".split())


def description_words(text: str, titles: Iterable[str] = ()) -> frozenset[str]:
    """Words of five letters or more in a description, less its title's words and common words: what two
    descriptions of one film share (names of characters, places, plot nouns)."""
    title_words = {w for t in titles for w in _tokens(t)}
    return frozenset(w for w in _tokens(text) if len(w) >= 5 and w not in _COMMON_WORDS and w not in title_words)


class DialogueEvidence:
    """Which people the ReDial train dialogues name around each movie id (text of the 1,401 full dialogues and of
    the extra text conversations; test dialogues are never read)."""

    def __init__(self, texts_by_movie: dict[str, list[str]]):
        self._texts = {movie: [f" {' '.join(_tokens(t))} " for t in texts] for movie, texts in texts_by_movie.items()}

    @classmethod
    def from_redial(cls, redial_dir: Path) -> "DialogueEvidence":
        texts: dict[str, list[str]] = defaultdict(list)
        for name in ("train_data_subset.jsonl", "train_data_extra_original.jsonl"):
            with open(redial_dir / name, encoding="utf-8") as handle:
                for line in handle:
                    conv = json.loads(line)
                    text = html.unescape(" ".join(m["text"] for m in conv["messages"]))
                    for movie in set(_MENTION.findall(text)) | set(conv.get("movieMentions") or {}):
                        texts[movie].append(text)
        with open(redial_dir / "train_extra_text.jsonl", encoding="utf-8") as handle:
            for line in handle:
                conv = json.loads(line)
                text = html.unescape(conv["text"])
                for movie in set(_MENTION.findall(text)) | {str(m) for m, _ in conv.get("items_liked") or []}:
                    texts[movie].append(text)
        return cls(texts)

    def dialogues(self, redial_ids: Iterable[str]) -> list[str]:
        return [t for movie in dict.fromkeys(redial_ids) for t in self._texts.get(movie, [])]

    def naming(self, redial_ids: Iterable[str], people: Iterable[str]) -> int:
        """How many dialogues mentioning these movies name one of the people (full name, or a long surname)."""
        patterns = set()
        for person in people:
            tokens = _tokens(person)
            if not tokens:
                continue
            patterns.add(f" {' '.join(tokens)} ")
            if len(tokens) >= 2:
                surname = tokens[-1] if len(tokens[-1]) >= MIN_SURNAME_CHARS else ""
                # "De Niro" is often typed "Deniro".
                joined = "".join(tokens[-2:]) if len(tokens) >= 3 or len(tokens[-2]) <= 3 else ""
                patterns |= {f" {p} " for p in (surname, joined) if p}
        if not patterns:
            return 0
        return sum(any(p in text for p in patterns) for text in self.dialogues(redial_ids))


def _same_recent_film(a: FilmFacts, b: FilmFacts, gap: int) -> Verdict:
    """The recent-films rule (module docstring); a and b share a title and are at most a year apart. Sources list
    co-directors partly ("Ultraman: Rising"), so directors that differ only part two films that share no two
    people."""
    shared_people = {p for p in a.people if any(same_person(p, q) for q in b.people)}
    if a.directors and b.directors and len(shared_people) < 2 and \
            not any(same_person(p, q) for p in a.directors for q in b.directors):
        return Verdict(False, "same title, different directors", 2)
    if gap == 0:
        return Verdict(True, "same title and year (recent films)", 2)
    if shared_people:
        return Verdict(True, f"same title, a year apart, {len(shared_people)} people in common", 1)
    shared_words = a.words & b.words
    if len(shared_words) >= RECENT_MIN_SHARED_WORDS:
        return Verdict(True, f"same title, a year apart, descriptions agree ({', '.join(sorted(shared_words)[:4])})",
                       1)
    if a.redial_only or b.redial_only:
        # ReDial's list gives a title and a year, often one off; nothing here speaks against it.
        return Verdict(True, "same title, years within one, a ReDial record with nothing against it", 1)
    return Verdict(False, "same title a year apart, no people or description in common", 1)


def same_film(a: FilmFacts, b: FilmFacts, evidence: DialogueEvidence) -> Verdict | None:
    """The verdict on two records sharing a title; None when they are too far apart to be taken for one film."""
    if not a.names & b.names or a.year is None or b.year is None:
        return None
    if (a.imdb and a.imdb == b.imdb) or (a.tmdb and a.tmdb == b.tmdb):
        return Verdict(True, "same IMDb/TMDB id", 4)
    gap = abs(a.year - b.year)
    close = gap <= MAX_YEAR_GAP
    if (a.imdb and b.imdb) or (a.tmdb and b.tmdb):
        return Verdict(False, "different IMDb/TMDB ids", 4) if close else None
    if a.recent or b.recent:
        return _same_recent_film(a, b, gap) if close else None
    if a.redial_only or b.redial_only:
        loose, other = (a, b) if a.redial_only else (b, a)
        # Dialogues can only tell two films apart when both have people on record.
        if loose.people and other.people and loose.people != other.people:
            for_other = evidence.naming(loose.redial_ids, other.people)
            for_own = evidence.naming(loose.redial_ids, loose.people - other.people)
            if for_own > for_other:
                return Verdict(False, f"train dialogues name its own people ({for_own} vs {for_other})", 3) \
                    if close else None
            if for_other > for_own and (close or (for_other >= MIN_DIALOGUES_ACROSS_YEARS and not for_own)):
                return Verdict(True, f"train dialogues name the other film's people ({for_other} vs {for_own}); "
                                     f"its own facts belong to a namesake", 3)
        if not close:
            return None
        if other.redial_only and a.directors and b.directors and not a.directors & b.directors:
            return Verdict(False, "same title, years within one, different directors", 1)
        return Verdict(True, "same title, years within one", 2 - gap)
    if not close:
        return None
    if a.directors and b.directors and not a.directors & b.directors:
        return Verdict(False, "different directors", 2)
    return Verdict(True, "same title, years within one", 2 - gap)
