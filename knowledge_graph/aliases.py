"""Entity linking: find the titles, people, genres, keywords and decades a message talks about.

Every name the graph knows is tokenized (case, accents, apostrophes and punctuation folded away) into a key; a
message is tokenized the same way and scanned left to right for the longest keys, so a 2,000-character message
costs a few thousand dictionary lookups. Words that are also titles ("Up", "Her", "Heat") only link with a cue
the user gives on purpose: capitals that are not just a sentence start, quotes, or a year after the title. Typos
are corrected only in words that are neither in the alias vocabulary nor ordinary English, and only towards
long aliases, so that a correction is never a guess between two real words: one or two edits away (a
SymSpell-style delete index: dropped, doubled, swapped and mistyped letters), or sounding the same (a
metaphone key: "incepshun" -> inception). Where one name fits several films, the popularity prior decides among
the full and article-less titles ("godfather" is The Godfather, not the obscure film called Godfather).
"""

from __future__ import annotations

import bisect
import json
import logging
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, TypeVar

from jellyfish import metaphone
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from core.errors import FixableError
from core.ids import item_node
from core.item import Item
from core.mention import Mention
from core.text import fold_accents
from core.vocabulary import GENERIC_KEYWORDS, Kind, decade_phrases
from knowledge_graph.graph import KnowledgeGraph

log = logging.getLogger(__name__)

_K = TypeVar("_K")
_T = TypeVar("_T")

LEXICON_PATH = Path(__file__).resolve().parent.parent / "assets" / "linker_lexicon.json"
"""The linker's words as data: function words, everyday words, topic words, genre synonyms, name particles."""


def _load_lexicon(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {name: entry.get("words", entry.get("phrases")) for name, entry in data.items() if name[0] != "_"}
    except (OSError, ValueError, AttributeError) as exc:
        raise FixableError(f"linker lexicon {path} is unreadable ({exc.__class__.__name__}: {exc}): restore it with "
                           f"`git checkout -- assets/{path.name}`") from exc


_LEXICON = _load_lexicon(LEXICON_PATH)
_STOP = frozenset(_LEXICON["function_words"])
_COMMON = frozenset(_LEXICON["everyday_words"])
_TOPIC_WORDS = frozenset(_LEXICON["topic_words"])
_MEDIA_SUFFIXES = tuple(_LEXICON["media_suffixes"])
_GENRE_SYNONYMS: dict[str, tuple[str, ...]] = {phrase: tuple(genres)
                                               for phrase, genres in _LEXICON["genre_synonyms"].items()}
_GENRES_NEEDING_SUFFIX = frozenset(_LEXICON["genres_needing_suffix"])
_SURNAME_PARTICLES = frozenset(_LEXICON["surname_particles"])
_NAME_SUFFIXES = frozenset(_LEXICON["name_suffixes"])

_QUOTES = "\"'“”‘’«»`"

_PRECEDENCE = {kind: kind.link_precedence for kind in Kind}

_FUZZY_MIN_RATIO = 0.85
"""A corrected phrase must be this close to the alias (rapidfuzz ratio over the whole phrase)."""
_PHONETIC_MIN_RATIO = 0.6
"""...or this close when every corrected word sounds like its alias word (same metaphone key)."""
_FULL_TITLE_BONUS = 0.25
"""Popularity a film's own full title is worth over a film that only matches without its article: "Heat" stays
Heat (1995) rather than The Heat, while "godfather" is The Godfather rather than the obscure Godfather (2007)."""
_KNOWN_FILM = 0.6
"""A one-word title links on its own (lower case: "amelie") or as a capitalized everyday word only for a film at
least this popular; a little-known film called "Hoot", "Steve" or "Hollywood" needs quotes or its year."""
_FAMOUS_FILM = 0.9
"""A one-word title of a film this popular links in lower case even when a few descriptions use the word
("interstellar travel"); not when it is an everyday word ("heat")."""
_PHRASE_WORDS = 4
"""...and so does a title of this many everyday words ("everything everywhere all at once")."""
_FUZZY_MIN_WORD = 4
"""Unknown words this long are corrected ("aout" in "there's something aout mary"); a lone word only towards a
title of _FUZZY_SINGLE_LETTERS or more."""
_FUZZY_SINGLE_LETTERS = 8
_FUZZY_POPULAR_SINGLE_LETTERS = 6
_FUZZY_POPULAR = 0.8
"""...or of this many letters when the film is this well known ("loopur" -> Looper) and the word is one edit or
one sound away."""
_SURNAME_FREE_FILMS = 8
_SURNAME_FREE_LETTERS = 7
"""A surname this long, of someone with this many films, links in lower case and through typos ("scorcese"):
it is no English word and names one person; a short one ("nolan") still needs its capital."""

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|&")
_YEAR_AFTER = re.compile(r"\s*\(\s*((?:18|19|20)\d\d)\s*\)|\s+((?:19|20)\d\d)\b(?!['’]?s)")

# Linking modes of an alias.
FREE = "free"          # links as typed, any case
CUE = "cue"            # an everyday word: needs capitals (not just a sentence start), quotes or a year
STRONG = "strong"      # a function word or a bare number: needs quotes or a year
CAPITAL = "capital"    # a surname alone: needs capitals


def _fold(token: str) -> str:
    if token == "&":
        return "and"
    return fold_accents(token).lower().replace("'", "").replace("’", "")


def tokenize(text: str) -> tuple[list[str], list[int], list[int]]:
    """Folded tokens of text with their character spans in text."""
    words, starts, ends = [], [], []
    for match in _TOKEN.finditer(text):
        words.append(_fold(match.group()))
        starts.append(match.start())
        ends.append(match.end())
    return words, starts, ends


def _key(text: str) -> tuple[str, ...]:
    return tuple(tokenize(text)[0])


@dataclass(frozen=True, slots=True)
class _Target:
    node_id: str
    kind: Kind
    label: str
    mode: str
    tier: int
    """0 = the full name, 1 = a variant of it (no leading article, other title), 2 = a part (surname, subtitle)."""
    popularity: float = 0.0
    year: int | None = None
    fuzzy_ok: bool = False


@dataclass
class _Candidate:
    start_token: int
    end_token: int
    start: int
    end: int
    mentions: list[Mention]
    length: int
    exact: bool
    score: float


class AliasIndex:
    """Held for the life of the process at a few keys per catalog item, so its lists are stored packed (see
    _packed) and the prefixes a scan extends share the keys' table."""

    def __init__(self, targets: dict[tuple[str, ...], _Target | tuple[_Target, ...]], common: frozenset[str]):
        # Every alias key -> its targets (packed), and every shorter prefix of a key that is no key itself -> ():
        # one lookup tells a scan both whether a phrase links and whether a longer one may.
        self._targets = dict(targets)
        for key in targets:
            for n in range(1, len(key)):
                self._targets.setdefault(key[:n], ())
        self._common = common
        self._max_len = max(map(len, targets))
        self._vocab = {token for key in targets for token in key}
        self._deletes: dict[str, str | tuple[str, ...]] = {}
        self._sounds: dict[str, str | tuple[str, ...]] = {}
        fuzzy_tokens = {token for key, ts in targets.items() if any(t.fuzzy_ok for t in _unpacked(ts))
                        for token in key}
        for token in sorted(fuzzy_tokens):
            if len(token) >= 5 and token.isalpha():
                # The token itself too: a word with a letter too many ("dicapprio") loses it to meet it.
                for variant in {token} | _deletes(token):
                    _add_packed(self._deletes, variant, token)
                _add_packed(self._sounds, metaphone(token), token)

    # --- building -------------------------------------------------------------------------------------
    @classmethod
    def build(cls, catalog: Iterable[Item], kg: KnowledgeGraph) -> "AliasIndex":
        started = time.perf_counter()
        catalog = list(catalog)
        builder = _Builder(*_everyday_words(catalog))
        builder.add_items(catalog, kg)
        builder.add_people(kg)
        builder.add_genres(kg)
        builder.add_keywords(kg)
        builder.add_decades(kg)
        index = cls(builder.targets, builder.common)
        log.info("alias index: %d keys in %.2f s", len(builder.targets), time.perf_counter() - started)
        return index

    def is_known_word(self, word: str) -> bool:
        """A word of some alias or of ordinary English: never corrected towards another alias."""
        return word in self._vocab or word in self._common

    # --- linking --------------------------------------------------------------------------------------
    def link(self, text: str) -> list[Mention]:
        """Non-overlapping mentions in text order; longer matches win over the shorter ones inside them."""
        words, starts, ends = tokenize(text)
        if not words:
            return []
        options = self._options(words)
        shouting = text.isupper()
        candidates: list[_Candidate] = []
        for i in range(len(words)):
            if not any((word,) in self._targets for word, _ in options[i]):
                continue
            for j, key, edits in self._walk(options, i):
                candidate = self._resolve(text, words, starts, ends, i, j, key, edits, shouting)
                if candidate is not None:
                    candidates.append(candidate)
        candidates.sort(key=lambda c: (-c.length, not c.exact, -c.score, c.start))
        taken = [False] * len(words)
        chosen: list[_Candidate] = []
        for candidate in candidates:
            if any(taken[candidate.start_token:candidate.end_token]):
                continue
            for t in range(candidate.start_token, candidate.end_token):
                taken[t] = True
            chosen.append(candidate)
        chosen.sort(key=lambda c: c.start)
        return [mention for candidate in chosen for mention in candidate.mentions]

    def _options(self, words: list[str]) -> list[list[tuple[str, int]]]:
        """For each token, the alias tokens it may stand for, with their edit counts: itself; without a
        possessive "s" ("Nolan's" -> nolan); and for a word that is no known word, the alias tokens one or two
        edits away ("interstelar" -> interstellar) or sounding the same ("incepshun" -> inception)."""
        options: list[list[tuple[str, int]]] = []
        for word in words:
            here = [(word, 0)]
            if word.endswith("s") and word[:-1] in self._vocab and word not in self._vocab:
                here.append((word[:-1], 0))
            elif len(word) >= _FUZZY_MIN_WORD and word.isalpha() and word not in self._vocab \
                    and word not in self._common:
                limit = 1 if len(word) < 8 else 2
                found = {t for variant in (word, *_deletes(word))
                         for t in _unpacked(self._deletes.get(variant, ()))}
                close = [t for t in sorted(found) if OSA.distance(word, t, score_cutoff=limit) <= limit]
                sounds = [t for t in _unpacked(self._sounds.get(metaphone(word), ())) if t not in close]
                here += [(t, 1) for t in (close + sorted(sounds))[:5]]
            options.append(here)
        return options

    def _walk(self, options: list[list[tuple[str, int]]], i: int):
        """(end token, matched key, edits) for every alias key that starts at token i."""
        stack = [(i, (), 0)]
        while stack:
            j, key, edits = stack.pop()
            if j >= len(options) or len(key) >= self._max_len:
                continue
            for token, cost in options[j]:
                n_edits = edits + cost
                extended = key + (token,)
                found = self._targets.get(extended)
                if found is None:
                    continue
                if found:
                    yield j + 1, extended, n_edits
                stack.append((j + 1, extended, n_edits))

    def _resolve(self, text: str, words: list[str], starts: list[int], ends: list[int], i: int, j: int,
                 key: tuple[str, ...], edits: int, shouting: bool) -> _Candidate | None:
        start, end = starts[i], ends[j - 1]
        if _inside_word(text, start, end):
            return None  # "Birds" in "T-Birds" is part of another name
        targets = _unpacked(self._targets[key])
        score = 1.0
        if edits:
            # A typo fix must stay close over the whole phrase and only ever lands on a long, specific name.
            if edits > max(1, len(key) // 3) or (len(key) < 2 and len(key[0]) < _FUZZY_POPULAR_SINGLE_LETTERS):
                return None
            score = fuzz.ratio(" ".join(words[i:j]), " ".join(key)) / 100
            if score < _FUZZY_MIN_RATIO and not (score >= _PHONETIC_MIN_RATIO and all(
                    metaphone(w) == metaphone(k) for w, k in zip(words[i:j], key))):
                return None
            targets = [t for t in targets if t.fuzzy_ok]
            if len(key) < 2 and len(key[0]) < _FUZZY_SINGLE_LETTERS:
                # A short lone word: only a well-known film, and only one slip away ("loopur", not "lopr").
                close = OSA.distance(words[i], key[0], score_cutoff=1) <= 1 or metaphone(words[i]) == metaphone(key[0])
                targets = [t for t in targets if close and t.kind == Kind.ITEM and t.popularity >= _FUZZY_POPULAR]
        year_match = _YEAR_AFTER.match(text, end)
        year = int(year_match.group(1) or year_match.group(2)) if year_match else None
        year_end = year_match.end() if year_match else end
        quoted = start > 0 and text[start - 1] in _QUOTES and year_end < len(text) and (
            text[end] in _QUOTES or text[year_end] in _QUOTES)
        allowed = [t for t in targets
                   if self._cue_ok(t, text, words, starts, ends, i, j, quoted, year is not None, shouting)]
        if not allowed:
            return None
        picked = _pick(allowed, year)
        if not picked:
            return None
        if year is not None and picked[0].kind == Kind.ITEM:
            end = year_end
            j = bisect.bisect_left(starts, end)
        if picked[0].tier:
            score *= 0.9
        surface = text[start:end]
        mentions = [Mention(t.node_id, t.kind, t.label, surface, start, end, score) for t in picked]
        return _Candidate(i, j, start, end, mentions, len(key), not edits, score)

    def _cue_ok(self, target: _Target, text: str, words: list[str], starts: list[int], ends: list[int],
                i: int, j: int, quoted: bool, has_year: bool, shouting: bool) -> bool:
        if target.mode == FREE:
            return True
        if target.mode == STRONG:
            return quoted or has_year
        surface = [text[starts[t]:ends[t]] for t in range(i, j)]
        capitalized = [w[0].isupper() for w in surface]
        content = [c for c, w in zip(capitalized, words[i:j]) if w not in _STOP]
        if target.mode == CAPITAL:
            return all(content) and not shouting
        if quoted or has_year:
            return True
        if shouting or not content or not all(content):
            return False
        # A bounded look-back keeps this constant-time on long texts.
        before = text[max(0, starts[i] - 64):starts[i]].rstrip(" \t")
        at_sentence_start = not before.strip() or before[-1] in ".!?:;\n" + _QUOTES
        if at_sentence_start and not any(capitalized[1:]):
            return False
        # A capital inside a run of capitals is a proper name the catalog may not know ("New York Heat").
        for t in (i - 1, j):
            if 0 <= t < len(words) and words[t] != "i" and text[starts[t]].isupper():
                gap = text[ends[t]:starts[i]] if t < i else text[ends[j - 1]:starts[t]]
                if not gap.strip():
                    return False
        # A capitalized everyday word is weak evidence for an obscure film that happens to share it.
        return j - i > 1 or target.kind != Kind.ITEM or target.popularity >= _KNOWN_FILM


def _everyday_words(catalog: list[Item]) -> tuple[frozenset[str], frozenset[str]]:
    """Words ordinary English uses: the lexicon's and those the descriptions use in lower case (common: in 3
    descriptions; very common: in 40). Counted apart from the build so that the count is freed before the
    index is made, not left as holes among what it keeps."""
    lowercase_docs: Counter[str] = Counter()
    for item in catalog:
        lowercase_docs.update({w for w in _TOKEN.findall(item.description) if w.islower()})
    common = frozenset(_STOP | _COMMON | {_fold(w) for w, n in lowercase_docs.items() if n >= 3})
    very_common = frozenset(_STOP | _COMMON | {_fold(w) for w, n in lowercase_docs.items() if n >= 40})
    return common, very_common


def _pick(targets: list[_Target], year: int | None) -> list[_Target]:
    """The targets a phrase stands for: items narrowed by the year, else the most popular of the best tier."""
    if not targets:
        return []
    items = [t for t in targets if t.kind == Kind.ITEM]
    if year is not None and items:
        dated = [t for t in items if t.year == year] or [t for t in items if t.year and abs(t.year - year) <= 1]
        if dated:
            return [max(dated, key=lambda t: (t.year == year, -t.tier, t.popularity))]
        # The user named a film of that year the catalog does not hold: a namesake would be a wrong answer.
        targets = [t for t in targets if t.kind != Kind.ITEM]
        if not targets:
            return []
    # When one phrase names several kinds, one kind wins ("Romance" is the genre, not the 1999 film).
    best_kind = min(_PRECEDENCE[t.kind] for t in targets)
    same_kind = [t for t in targets if _PRECEDENCE[t.kind] == best_kind]
    if same_kind[0].kind in (Kind.GENRE, Kind.DECADE):
        # "rom-com" stands for both of its genres.
        return list({t.node_id: t for t in same_kind}.values())
    return [min(same_kind, key=lambda t: (t.tier > 1, -(t.popularity + _FULL_TITLE_BONUS * (t.tier == 0))))]


def _inside_word(text: str, start: int, end: int) -> bool:
    """The span starts or ends at a hyphen inside a word ("T-Birds", "Spider-Verse")."""
    return (start > 1 and text[start - 1] == "-" and text[start - 2].isalnum()) or (
        end + 1 < len(text) and text[end] == "-" and text[end + 1].isalnum())


def _packed(values: list[_T]) -> _T | tuple[_T, ...]:
    """A list as stored: its one value alone (most keys name one thing), else a tuple. For each of a million
    items' keys, a grown list of one holds 88 bytes, a tuple of one 48 and a lone value none."""
    return values[0] if len(values) == 1 else tuple(values)


def _unpacked(packed: _T | tuple[_T, ...]) -> tuple[_T, ...]:
    """The values of a _packed list (never themselves tuples: targets and words)."""
    return packed if isinstance(packed, tuple) else (packed,)


def _add_packed(table: dict[_K, _T | tuple[_T, ...]], key: _K, value: _T) -> None:
    """Appends value to key's packed values."""
    table[key] = _packed([*_unpacked(table.get(key, ())), value])


def _deletes(word: str) -> set[str]:
    return {word[:k] + word[k + 1:] for k in range(len(word))}


class _Builder:
    """Collects alias keys and their targets, deciding each alias's linking mode."""

    def __init__(self, common: frozenset[str], very_common: frozenset[str]):
        self.common = common
        self.very_common = very_common
        # Packed as the index keeps them (see _packed), never a list per key: freed after the build, such lists
        # would leave holes among the keys and targets the index keeps.
        self.targets: dict[tuple[str, ...], _Target | tuple[_Target, ...]] = {}
        # One string per distinct word across all keys ("the" once, not once per title), dropped after the build.
        self._words: dict[str, str] = {}

    def _mode(self, key: tuple[str, ...]) -> str:
        if len(key) == 1:
            word = key[0]
            if word in _STOP or word.isdigit() or len(word) == 1:
                return STRONG
            return CUE if word in self.common else FREE
        if all(w in _STOP for w in key):
            return STRONG
        return CUE if all(w in self.very_common for w in key) else FREE

    def add(self, text: str, target: _Target) -> None:
        self.add_key(_key(text), target)

    def add_key(self, key: tuple[str, ...], target: _Target) -> None:
        if not key:
            return
        key = tuple(map(self._words.setdefault, key, key))
        # Tiers keep the full name ahead of variants; the same node under one key is listed once.
        existing = list(_unpacked(self.targets.get(key, ())))
        for n, other in enumerate(existing):
            if other.node_id == target.node_id:
                if target.tier < other.tier:
                    existing[n] = target
                    self.targets[key] = _packed(existing)
                return
        existing.append(target)
        self.targets[key] = _packed(existing)

    def add_items(self, catalog: Iterable[Item], kg: KnowledgeGraph) -> None:
        for item in catalog:
            number = kg.index.get(item_node(item.item_id))
            if number is None:
                continue
            node = kg.nodes[number]  # the graph's own id string, not a copy per item
            label = kg.label(node)
            names = [(item.title, 0)] + [(alias, 1) for alias in item.aliases]
            for name, tier in names:
                for variant, variant_tier in _title_variants(name, tier):
                    key = _key(variant)
                    if not key:
                        continue
                    mode = self._mode(key)
                    if mode == FREE and item.popularity < _KNOWN_FILM and (
                            len(key) == 1 or all(w in self.very_common or w.isdigit() for w in key)):
                        mode = CUE  # "Hoot", "The Last 10 Years": words people say, titles few know
                    elif mode == CUE and item.popularity >= _FAMOUS_FILM and (
                            (len(key) == 1 and key[0] not in self.very_common) or len(key) >= _PHRASE_WORDS):
                        # "interstellar", "everything everywhere all at once": everyone means the film
                        mode = FREE
                    self.add_key(key, _Target(node, Kind.ITEM, label, mode, variant_tier, item.popularity, item.year,
                                              fuzzy_ok=variant_tier < 2 and (mode == FREE or (
                                                  mode == CUE and len(key) >= 2))))

    def add_people(self, kg: KnowledgeGraph) -> None:
        surnames: dict[tuple[str, ...], list[tuple[int, str, str]]] = defaultdict(list)
        for node in kg.nodes_of_kind(Kind.PERSON):
            name = kg.label(node)
            films = kg.degree(node)
            key = _key(name)
            if len(key) >= 2:
                mode = self._mode(key)
                self.add(name, _Target(node, Kind.PERSON, name, mode, 0, float(films), fuzzy_ok=mode == FREE))
            elif key and films >= 2 and key[0] not in self.common:
                self.add(name, _Target(node, Kind.PERSON, name, CAPITAL, 0, float(films)))
            if films >= 3 and len(key) >= 2:
                surnames[_surname(name)].append((films, node, name))
        for surname, people in surnames.items():
            if not surname or any(w in self.common for w in surname):
                continue
            people.sort(reverse=True)
            # A surname alone names someone only if nobody else with it is nearly as prominent ("Nolan").
            if len(people) == 1 or people[0][0] >= 2 * people[1][0]:
                films, node, label = people[0]
                free = (len(surname) == 1 and films >= _SURNAME_FREE_FILMS
                        and len(surname[0]) >= _SURNAME_FREE_LETTERS and surname[0] not in self.very_common)
                self.add(" ".join(surname), _Target(node, Kind.PERSON, label, FREE if free else CAPITAL, 2,
                                                    float(films), fuzzy_ok=free))

    def add_genres(self, kg: KnowledgeGraph) -> None:
        genres = {kg.label(node).lower(): node for node in kg.nodes_of_kind(Kind.GENRE)}
        phrases: dict[str, tuple[str, ...]] = {name: (name,) for name in genres}
        for phrase, names in _GENRE_SYNONYMS.items():
            phrases[phrase] = tuple(n.lower() for n in names)
        for phrase, names in phrases.items():
            nodes = [genres[n] for n in names if n in genres]
            if not nodes:
                continue
            forms = [f"{phrase} {suffix}" for suffix in _MEDIA_SUFFIXES]
            if phrase not in _GENRES_NEEDING_SUFFIX:
                forms.append(phrase)
            for form in forms:
                for node in nodes:
                    self.add(form, _Target(node, Kind.GENRE, kg.label(node), FREE, 0))

    def add_keywords(self, kg: KnowledgeGraph) -> None:
        for node in kg.nodes_of_kind(Kind.KEYWORD):
            keyword = kg.label(node)
            key = _key(keyword)
            if (not key or keyword in GENERIC_KEYWORDS or kg.degree(node) < 3
                    or (len(key) == 1 and (key[0] in _STOP or len(key[0]) < 4
                                         or (key[0] in self.very_common and key[0] not in _TOPIC_WORDS)))):
                continue
            target = _Target(node, Kind.KEYWORD, keyword, FREE, 1)
            forms = [key, key[:-1] + (key[-1] + "s",), key[:-1] + (key[-1] + "es",)]
            for form in forms:
                self.add_key(form, target)
                for suffix in _MEDIA_SUFFIXES:
                    self.add_key(form + (suffix,), target)

    def add_decades(self, kg: KnowledgeGraph) -> None:
        for node in kg.nodes_of_kind(Kind.DECADE):
            label = kg.label(node)
            for form in decade_phrases(int(label[:4])):
                for phrase in (form, f"the {form}"):
                    self.add(phrase, _Target(node, Kind.DECADE, label, FREE, 0))


def _surname(name: str) -> tuple[str, ...]:
    """Last name with its particles ("del Toro"), without initials or suffixes ("Jr.")."""
    parts = [p for p in name.split() if p.rstrip(".").lower() not in _NAME_SUFFIXES]
    if len(parts) < 2:
        return ()
    surname = [parts[-1]]
    for part in reversed(parts[1:-1]):
        if part.lower() in _SURNAME_PARTICLES:
            surname.insert(0, part)
        else:
            break
    return _key(" ".join(surname))


def _title_variants(title: str, tier: int) -> list[tuple[str, int]]:
    """The ways people write a title: as is, hyphens dropped ("Spiderman"), no leading article, and the
    parts around a colon ("Harry Potter", "A New Hope") as a weaker tier."""
    variants = [(title, tier)]
    joined = re.sub(r"(?<=\w)-(?=\w)", "", title)
    if joined != title:
        variants.append((joined, max(tier, 1)))
    for name, name_tier in list(variants):
        stripped = re.sub(r"^(the|a|an)\s+", "", name, flags=re.IGNORECASE)
        if stripped != name and _key(stripped):
            variants.append((stripped, max(name_tier, 1)))
    parts = re.split(r":| - ", title, maxsplit=1)
    if len(parts) == 2:
        variants += [(part.strip(), 2) for part in parts if len(_key(part)) >= 2]
    return variants
