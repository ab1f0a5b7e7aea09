"""Entity linking: find the titles, people, genres, keywords and decades a message talks about.

Every name the graph knows is tokenized (case, accents, apostrophes and punctuation folded away) into a key; a
message is tokenized the same way and scanned left to right for the longest keys, so a 2,000-character message
costs a few thousand dictionary lookups. Words that are also titles ("Up", "Her", "Heat") only link with a cue
the user gives on purpose: capitals that are not just a sentence start, quotes, or a year after the title. Typos
are corrected only in words that are neither in the alias vocabulary nor ordinary English, and only towards
long aliases, so that a correction is never a guess between two real words.
"""

from __future__ import annotations

import bisect
import logging
import re
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Collection

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from conversation.signals import Mention
from knowledge_graph.graph import KnowledgeGraph
from recommender.catalog import Catalog, split_title_year

log = logging.getLogger(__name__)

# Function words: never a mention on their own; a title made only of them needs quotes or a year.
_STOP = frozenset("""
a an the and or but nor of to in on at by for with from as is am are was were be been being i if so not no
do does did has have had than then that this these those s t oh ok okay hi hey lol re ve ll d m
""".split())

# Everyday words that are also titles, names or keywords. A single one links only with a cue; a title made only
# of these ("Get Out", "About Time") needs one too. Ordinary words seen lowercase in the catalog's descriptions
# are added at build time; this list covers the short, frequent ones a 12k-film catalog describes too rarely.
_COMMON = frozenset("""
it up her him his she he they them us we you me my your our their its who what which when where why how
all any some none one two three four five six seven eight nine ten eleven twelve first last next other others
yes yeah no maybe actually probably please thanks thank sure fine good great bad better best worse worst nice cool fun funny
love loved like liked hate hated want wanted need needed watch watched watching see seen saw look looking
movie movies film films flick show shows series thing things something anything nothing everything stuff
go going gone went get got getting make made take taken give given come came run running drive driving
ride walk stay stop start leave left keep kept let lost found find say said tell told think thought know
knew feel felt mean means try tried play played work home house room door bed car cars road street city
heat cold hot warm dark light big small little old new young long short high low fast slow hard easy
friend friends family mother father mom dad son daughter brother sister wife husband baby kid kids boy girl
man men woman women people person life death live alive dead time times day days night nights week year
years today tomorrow yesterday now then soon again ever never always still just only also very really
much many more most less few lot lots enough same different real true false right wrong together alone
away back here there where everywhere somewhere nowhere out over under inside outside between before after
during while until since about around through across against without within upon into onto off down
story stories end beginning world earth sky sea water fire ice air land war peace game games party music
song songs dance money job school class team power heart mind soul body face eyes hand hands head blood
happy sad angry scared afraid lonely crazy wild free safe sweet beautiful pretty ugly strange weird
may might must shall should would could can will wo don doesn didn isn wasn aren weren won shouldn
bet believe wish hope dream dreams faith trust truth lie lies secret secrets promise chance luck fate
change changes choice rules rule order chaos trouble problem help save saved rescue escape chase hunt
signs sign wanted taken split glass mirror bridge river island mountain desert jungle forest garden
spring summer fall autumn winter morning evening midnight noon sunday monday friday weekend holiday
christmas halloween birthday wedding funeral date dates kiss touch ghost ghosts monster monsters alien
aliens robot robots zombie zombies vampire vampires king queen prince princess boss chief doctor nurse
teacher student lawyer judge police cop cops soldier soldiers hero heroes star stars fan fans artist
white black red blue green yellow gold silver brown grey gray pink orange purple
""".split())

_QUOTES = "\"'“”‘’«»`"

_MEDIA_SUFFIXES = ("movie", "movies", "film", "films", "flick", "flicks")

# Genre phrases people use, to the catalog genres they mean ("rom-com" is both Romance and Comedy).
_GENRE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "sci fi": ("Science Fiction",), "scifi": ("Science Fiction",), "science fiction": ("Science Fiction",),
    "romantic": ("Romance",), "romances": ("Romance",), "love stories": ("Romance",),
    "rom com": ("Romance", "Comedy"), "romcom": ("Romance", "Comedy"), "rom coms": ("Romance", "Comedy"),
    "romcoms": ("Romance", "Comedy"), "romantic comedy": ("Romance", "Comedy"),
    "romantic comedies": ("Romance", "Comedy"),
    "comedies": ("Comedy",), "comedic": ("Comedy",),
    "scary": ("Horror",), "slasher": ("Horror",), "slashers": ("Horror",),
    "animated": ("Animation",), "cartoon": ("Animation",), "cartoons": ("Animation",), "anime": ("Animation",),
    "documentaries": ("Documentary",), "docs": ("Documentary",), "docudrama": ("Documentary", "Drama"),
    "thrillers": ("Thriller",), "dramas": ("Drama",), "dramatic": ("Drama",),
    "mysteries": ("Mystery",), "whodunit": ("Mystery",), "whodunnit": ("Mystery",),
    "fantasies": ("Fantasy",), "adventures": ("Adventure",), "gangster": ("Crime",),
    "family friendly": ("Family",), "kids": ("Family",), "children s": ("Family",), "childrens": ("Family",),
    "musicals": ("Musical",), "westerns": ("Western",), "historical": ("History",),
    "period piece": ("History",), "period pieces": ("History",), "period drama": ("History", "Drama"),
    "period dramas": ("History", "Drama"), "concert": ("Music",), "noir": ("Film Noir",),
    "neo noir": ("Film Noir",), "made for tv": ("TV Movie",),
}

# Genre names that are everyday words: they link only as "<genre> movies" ("family movies", "war films").
_GENRES_NEEDING_SUFFIX = frozenset({"family", "war", "music", "history", "tv movie", "kids", "concert"})

# Keywords too generic to be a taste on their own.
_GENERIC_KEYWORDS = frozenset({"sequel", "remake", "based on novel", "biography", "suspense"})

# Everyday words that are still a subject people ask for ("zombies", "revenge"); other everyday words never
# link as a keyword on their own ("I love X" must not become keyword:love, "the return of" keyword:return).
_TOPIC_WORDS = frozenset("""
alien aliens police wedding vampire vampires monster monsters zombie zombies robot robots ghost ghosts
christmas halloween island jungle desert soldier soldiers princess prince queen lawyer doctor nurse
teacher cop cops judge war escape rescue chase revenge murder heist prison spy space sport sports dinosaur
pirate magic witch dragon shark samurai ninja boxing football baseball basketball dog cat horse superhero
""".split())

_DECADE_WORDS = {"twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960,
                 "seventies": 1970, "eighties": 1980, "nineties": 1990}

_KIND_ORDER = {"genre": 0, "decade": 1, "person": 2, "item": 3, "keyword": 4}
"""When one phrase names several kinds, the earlier kind wins ("Romance" is the genre, not the 1999 film)."""

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
    if not token.isascii():
        token = "".join(c for c in unicodedata.normalize("NFKD", token) if not unicodedata.combining(c))
    return token.lower().replace("'", "").replace("’", "")


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


@dataclass(frozen=True)
class _Target:
    node_id: str
    kind: str
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
    def __init__(self, targets: dict[tuple[str, ...], list[_Target]], common: frozenset[str]):
        self._targets = dict(targets)
        self._common = common
        self._prefixes = {key[:n] for key in targets for n in range(1, len(key) + 1)}
        self._max_len = max(map(len, targets))
        self._vocab = {token for key in targets for token in key}
        self._deletes: dict[str, list[str]] = defaultdict(list)
        fuzzy_tokens = {token for key, ts in targets.items() if any(t.fuzzy_ok for t in ts) for token in key}
        for token in fuzzy_tokens:
            if len(token) >= 5 and token.isalpha():
                for variant in _deletes(token):
                    self._deletes[variant].append(token)
        self._fuzzy_choices: dict[str, tuple[list[str], list[tuple[str, ...]]]] = {}

    # --- building -------------------------------------------------------------------------------------
    @classmethod
    def build(cls, catalog: Catalog, kg: KnowledgeGraph) -> "AliasIndex":
        started = time.perf_counter()
        lowercase_docs: Counter[str] = Counter()
        for item in catalog:
            lowercase_docs.update({w for w in _TOKEN.findall(item.description) if w.islower()})
        seen_lowercase = {_fold(w) for w, n in lowercase_docs.items() if n >= 3}
        common = frozenset(_STOP | _COMMON | seen_lowercase)
        very_common = frozenset(_STOP | _COMMON | {_fold(w) for w, n in lowercase_docs.items() if n >= 40})
        builder = _Builder(common, very_common)
        builder.add_items(catalog, kg)
        builder.add_people(kg)
        builder.add_genres(kg)
        builder.add_keywords(kg)
        builder.add_decades(kg)
        index = cls(builder.targets, common)
        log.info("alias index: %d keys in %.2f s", len(builder.targets), time.perf_counter() - started)
        return index

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
            if not any((word,) in self._prefixes for word, _ in options[i]):
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

    def lookup(self, label: str, kinds: Collection[str] | None = None) -> Mention | None:
        """The node a whole string names (a quick-pick chip, "why Arrival"), exact first, then a close spelling."""
        title, year = split_title_year(label)
        key = _key(title)
        if not key:
            return None
        targets = [t for t in self._targets.get(key, ()) if kinds is None or t.kind in kinds]
        score = 1.0
        if not targets:
            key, score = self._closest_key(" ".join(key), kinds)
            targets = [t for t in self._targets.get(key, ()) if kinds is None or t.kind in kinds]
        picked = _pick(targets, year)
        if not picked:
            return None
        return Mention(picked[0].node_id, picked[0].kind, picked[0].label, label, 0, len(label), score)

    def _closest_key(self, query: str, kinds: Collection[str] | None) -> tuple[tuple[str, ...], float]:
        """The fuzzy-linkable key closest to query (empty when none is close), with its similarity 0..1."""
        cache_key = ",".join(sorted(kinds)) if kinds else "*"
        if cache_key not in self._fuzzy_choices:
            keys = [k for k, ts in self._targets.items()
                    if any(t.fuzzy_ok and (kinds is None or t.kind in kinds) for t in ts)]
            self._fuzzy_choices[cache_key] = ([" ".join(k) for k in keys], keys)
        strings, keys = self._fuzzy_choices[cache_key]
        best = process.extractOne(query, strings, scorer=fuzz.ratio, score_cutoff=88)
        return (keys[best[2]], best[1] / 100) if best else ((), 0.0)

    def _options(self, words: list[str]) -> list[list[tuple[str, int]]]:
        """For each token, the alias tokens it may stand for, with their edit counts: itself; without a
        possessive "s" ("Nolan's" -> nolan); and for a word that is no known word, the alias tokens one or two
        edits away ("interstelar" -> interstellar)."""
        options: list[list[tuple[str, int]]] = []
        for word in words:
            here = [(word, 0)]
            if word.endswith("s") and word[:-1] in self._vocab and word not in self._vocab:
                here.append((word[:-1], 0))
            elif len(word) >= 5 and word.isalpha() and word not in self._vocab and word not in self._common:
                limit = 1 if len(word) < 8 else 2
                found = {t for variant in (word, *_deletes(word)) for t in self._deletes.get(variant, ())}
                here += [(t, 1) for t in sorted(found) if OSA.distance(word, t, score_cutoff=limit) <= limit][:5]
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
                if extended not in self._prefixes:
                    continue
                if extended in self._targets:
                    yield j + 1, extended, n_edits
                stack.append((j + 1, extended, n_edits))

    def _resolve(self, text: str, words: list[str], starts: list[int], ends: list[int], i: int, j: int,
                 key: tuple[str, ...], edits: int, shouting: bool) -> _Candidate | None:
        start, end = starts[i], ends[j - 1]
        targets = self._targets[key]
        score = 1.0
        if edits:
            # A typo fix must stay close over the whole phrase and only ever lands on a long, specific name.
            if (len(key) < 2 and len(key[0]) < 8) or edits > max(1, len(key) // 3):
                return None
            score = fuzz.ratio(" ".join(words[i:j]), " ".join(key)) / 100
            if score < 0.85:
                return None
            targets = [t for t in targets if t.fuzzy_ok]
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
        if year is not None and picked[0].kind == "item":
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
        return j - i > 1 or target.kind != "item" or target.popularity >= 0.6


def _pick(targets: list[_Target], year: int | None) -> list[_Target]:
    """The targets a phrase stands for: items narrowed by the year, else the most popular of the best tier."""
    if not targets:
        return []
    items = [t for t in targets if t.kind == "item"]
    if year is not None and items:
        dated = [t for t in items if t.year == year] or [t for t in items if t.year and abs(t.year - year) <= 1]
        if dated:
            return [max(dated, key=lambda t: (t.year == year, -t.tier, t.popularity))]
        # The user named a film of that year the catalog does not hold: a namesake would be a wrong answer.
        targets = [t for t in targets if t.kind != "item"]
        if not targets:
            return []
    best_kind = min(_KIND_ORDER[t.kind] for t in targets)
    same_kind = [t for t in targets if _KIND_ORDER[t.kind] == best_kind]
    if same_kind[0].kind in ("genre", "decade"):
        # "rom-com" stands for both of its genres.
        return list({t.node_id: t for t in same_kind}.values())
    return [min(same_kind, key=lambda t: (t.tier, -t.popularity))]


def _deletes(word: str) -> set[str]:
    return {word[:k] + word[k + 1:] for k in range(len(word))}


class _Builder:
    """Collects alias keys and their targets, deciding each alias's linking mode."""

    def __init__(self, common: frozenset[str], very_common: frozenset[str]):
        self.common = common
        self.very_common = very_common
        self.targets: dict[tuple[str, ...], list[_Target]] = defaultdict(list)

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
        # Tiers keep the full name ahead of variants; the same node under one key is listed once.
        existing = self.targets[key]
        for n, other in enumerate(existing):
            if other.node_id == target.node_id:
                if target.tier < other.tier:
                    existing[n] = target
                return
        existing.append(target)

    def add_items(self, catalog: Catalog, kg: KnowledgeGraph) -> None:
        for item in catalog:
            node = kg.item_node(item.item_id)
            if node not in kg:
                continue
            label = kg.label(node)
            names = [(item.title, 0)] + [(alias, 1) for alias in item.aliases]
            for name, tier in names:
                for variant, variant_tier in _title_variants(name, tier):
                    key = _key(variant)
                    if not key:
                        continue
                    mode = self._mode(key)
                    self.add(variant, _Target(node, "item", label, mode, variant_tier, item.popularity, item.year,
                                              fuzzy_ok=mode == FREE and variant_tier < 2))

    def add_people(self, kg: KnowledgeGraph) -> None:
        surnames: dict[tuple[str, ...], list[tuple[int, str]]] = defaultdict(list)
        for node in kg.nodes_of_kind("person"):
            name = kg.label(node)
            films = kg.degree(node)
            key = _key(name)
            if len(key) >= 2:
                mode = self._mode(key)
                self.add(name, _Target(node, "person", name, mode, 0, float(films), fuzzy_ok=mode == FREE))
            elif key and films >= 2 and key[0] not in self.common:
                self.add(name, _Target(node, "person", name, CAPITAL, 0, float(films)))
            if films >= 3 and len(key) >= 2:
                surnames[_surname(name)].append((films, node))
        for surname, people in surnames.items():
            if not surname or any(w in self.common for w in surname):
                continue
            people.sort(reverse=True)
            # A surname alone names someone only if nobody else with it is nearly as prominent ("Nolan").
            if len(people) == 1 or people[0][0] >= 2 * people[1][0]:
                films, node = people[0]
                label = kg.label(node)
                self.add(" ".join(surname), _Target(node, "person", label, CAPITAL, 2, float(films)))

    def add_genres(self, kg: KnowledgeGraph) -> None:
        genres = {kg.label(node).lower(): node for node in kg.nodes_of_kind("genre")}
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
                    self.add(form, _Target(node, "genre", kg.label(node), FREE, 0))

    def add_keywords(self, kg: KnowledgeGraph) -> None:
        for node in kg.nodes_of_kind("keyword"):
            keyword = kg.label(node)
            key = _key(keyword)
            if (not key or keyword in _GENERIC_KEYWORDS or kg.degree(node) < 3
                    or (len(key) == 1 and (key[0] in _STOP or len(key[0]) < 4
                                         or (key[0] in self.very_common and key[0] not in _TOPIC_WORDS)))):
                continue
            target = _Target(node, "keyword", keyword, FREE, 1)
            forms = [key, key[:-1] + (key[-1] + "s",), key[:-1] + (key[-1] + "es",)]
            for form in forms:
                self.add_key(form, target)
                for suffix in _MEDIA_SUFFIXES:
                    self.add_key(form + (suffix,), target)

    def add_decades(self, kg: KnowledgeGraph) -> None:
        words = {year: word for word, year in _DECADE_WORDS.items()}
        for node in kg.nodes_of_kind("decade"):
            label = kg.label(node)
            start = int(label[:4])
            forms = [label]
            if 1920 <= start <= 1990:
                forms += [f"{start % 100:02d}s", words[start]]
            if start == 2000:
                forms.append("00s")
            for form in forms:
                for phrase in (form, f"the {form}"):
                    self.add(phrase, _Target(node, "decade", label, FREE, 0))


def _surname(name: str) -> tuple[str, ...]:
    """Last name with its particles ("del Toro"), without initials or suffixes ("Jr.")."""
    parts = [p for p in name.split() if p.rstrip(".").lower() not in {"jr", "sr", "ii", "iii"}]
    if len(parts) < 2:
        return ()
    surname = [parts[-1]]
    for part in reversed(parts[1:-1]):
        if part.lower() in {"de", "del", "della", "da", "di", "van", "von", "der", "le", "la", "du"}:
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
