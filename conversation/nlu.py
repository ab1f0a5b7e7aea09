"""Message understanding: one chat message → Signals (intent, mentions with sentiment, seen items, constraints).

Rule-based on purpose: a turn must understand a message in a few milliseconds on a CPU, the same way every time,
and every decision must be explainable. The message is cleaned and entity-linked (the linker is passed in), then
cut into units (words, cue phrases, linked mentions, mood words), clauses (at . ! ? ; : and "but"/"although")
and segments (at commas and "and"/"or"). Each target (a mention or a mood) takes its verdict from the cues of
its own segment — sentiment with negation and intensity, exclusion ("no horror"), seen — or, without one, from
its list neighbours ("I loved Superbad, Juno and Up") or from the clause's kind (a request seeds positively,
a question weakly, a bare answer like "The Matrix (1999)" positively).
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from enum import IntEnum, auto
from functools import lru_cache
from pathlib import Path
from typing import Callable

from conversation.signals import Intent, Signals
from core.mention import Mention
from core.preferences import Preference
from core.vocabulary import DECADE_WORDS
from recommender.audience import load_family_rules
from recommender.settings import Settings

Linker = Callable[[str], list[Mention]]
"""Entity linker: message text → non-overlapping mentions (knowledge_graph.aliases.AliasIndex.link)."""

FAMILY_MOOD = "family"
"""The mood of assets/moods.json whose genre limits the family flag replaces when it is lifted."""

STRONG, PLAIN, WEAK = 1.0, 0.7, 0.4
"""The strength scale of a stated preference: "loved" / "liked" / "it was ok"."""

TRUNCATED_NOTE = "Your message was long, so I only read the first {n} characters."
EMPTY_NOTE = "I didn't catch anything in that message. Tell me a film you like, or what you're in the mood for."


class C(IntEnum):
    """Cue categories a word or phrase can carry (an IntEnum: hashed in C, this is the hot path)."""

    SENT = auto()        # sentiment; payload (polarity, strength)
    NEG = auto()         # negator
    INTENS = auto()      # "really", "big": plain → strong
    HEDGE = auto()       # "kind of": one step weaker
    TOO = auto()         # "too <adjective>": a complaint
    REQUEST = auto()     # the user asks for something
    SIMILAR = auto()     # "more like", "similar to"
    WHY = auto()
    RESET = auto()
    GREET = auto()
    SOCIAL = auto()      # words that may stand beside a greeting ("there", "how are you")
    EXCL = auto()        # "no", "without", "anything but"
    SEEN = auto()
    ASK_SEEN = auto()    # "have you seen": a question, not a statement of having seen
    ANSWER = auto()      # "I have", "I did" (after "have you seen X?")
    NEW = auto()         # novelty: something unfamiliar
    FAMILIAR = auto()
    CLASSICS = auto()    # "classics": familiar and old
    RECENT = auto()
    OLD = auto()
    BEFORE = auto()
    AFTER = auto()
    SINCE = auto()
    UNTIL = auto()
    TO = auto()
    OR_LATER = auto()
    OR_EARLIER = auto()
    PRONOUN = auto()     # "it", "that one": refers back to a mention or to the last item shown
    THIRD = auto()       # someone else's taste: "my wife", "he", "you"
    FIRST = auto()       # the user: "I", "we"
    CONTRAST = auto()
    SEP = auto()         # list separator: "," "and" "or"
    FILLER = auto()      # words an exclusion may reach across: "no *scary* stuff", "nothing too dark"
    POSSESSIVE = auto()  # "my family" is a person, not the mood "family"
    MOOD = auto()        # payload: mood name


def _words(text: str) -> list[str]:
    return text.split()


_SENTIMENT: dict[str, tuple[int, float]] = {}
for _phrase in _words("love loved loves loving adore adored adores favorite favourite favorites favourites fave "
                      "amazing awesome fantastic incredible brilliant masterpiece perfect best excellent "
                      "outstanding superb phenomenal obsessed"):
    _SENTIMENT[_phrase] = (1, STRONG)
for _phrase in ("blew my mind", "all time favorite", "all time favourite", "one of my favorites",
                "one of my favourites", "big fan", "huge fan"):
    _SENTIMENT[_phrase] = (1, STRONG)
for _phrase in _words("liked likes enjoy enjoyed enjoys good great fan nice cool solid prefer preferred "
                      "beautiful wonderful 👍 ❤ 😍 🥰 🔥 👌"):
    _SENTIMENT[_phrase] = (1, PLAIN)
for _phrase in ("fan of", "a fan", "worth watching", "worth it", "pretty good", "really good"):
    _SENTIMENT[_phrase] = (1, PLAIN)
for _phrase in ("ok", "okay", "alright", "all right", "fine", "decent", "not bad", "watchable", "passable",
                "not terrible", "so so"):
    _SENTIMENT[_phrase] = (1, WEAK)
for _phrase in _words("hate hated hates loathe loathed despise despised terrible awful horrible worst garbage "
                      "trash crap unwatchable 🤮 💩"):
    _SENTIMENT[_phrase] = (-1, STRONG)
for _phrase in ("can't stand", "cant stand", "cannot stand", "can not stand", "couldn't stand",
                "couldnt stand"):
    _SENTIMENT[_phrase] = (-1, STRONG)
for _phrase in _words("dislike disliked dislikes boring bored bad dull overrated disappointing disappointed "
                      "stupid dumb annoying lame sucks sucked slow predictable pretentious 👎 😴"):
    _SENTIMENT[_phrase] = (-1, PLAIN)
for _phrase in ("not for me", "not my thing", "not my cup of tea", "not my style", "not my type", "sick of",
                "tired of", "fed up with", "fell asleep", "couldn't finish", "couldnt finish", "walked out",
                "gave up on"):
    _SENTIMENT[_phrase] = (-1, PLAIN)
for _phrase in ("meh", "mediocre", "forgettable", "cheesy"):
    _SENTIMENT[_phrase] = (-1, WEAK)

_NEGATORS = frozenset(_words("not no never neither nor hardly cannot dont didnt doesnt isnt wasnt arent werent "
                             "cant couldnt wont wouldnt havent hasnt hadnt aint shouldnt nothing"))

_LEXICON: dict[C, tuple[str, ...]] = {
    C.INTENS: ("really", "so", "very", "absolutely", "totally", "super", "truly", "big", "huge", "extremely",
               "incredibly", "such", "especially", "definitely"),
    C.HEDGE: ("kind of", "kinda", "sort of", "sorta", "somewhat", "a bit", "a little", "slightly", "mildly",
              "fairly", "partly"),
    C.TOO: ("too",),
    C.REQUEST: ("recommend", "recommendation", "recommendations", "suggest", "suggestion", "suggestions",
                "looking for", "look for", "searching for", "in the mood for", "what should i watch",
                "what should we watch", "what to watch", "any ideas", "ideas", "something", "anything", "show me",
                "give me", "find me", "get me", "i want", "i wanna", "we want", "want to watch", "wanna watch",
                "i'd like", "i would like", "we'd like", "i need", "we need", "can you", "could you",
                "would you", "got any", "do you have", "any", "what's good", "whats good", "pick", "surprise me",
                "help me", "please", "options", "what about", "how about", "what else", "more", "feel like",
                "in the mood", "movie night", "tonight", "suggest me", "hit me"),
    C.SIMILAR: ("more like", "something like", "anything like", "stuff like", "movies like", "films like",
                "ones like", "similar to", "similar", "in the vein of", "along the lines of",
                "in the same vein as", "same vibe as", "the likes of", "reminiscent of", "more of"),
    C.WHY: ("why", "how come", "what makes", "what made", "explain", "reason for", "what's the reason",
            "whats the reason"),
    C.RESET: ("start over", "start again", "start from scratch", "from scratch", "restart", "reset",
              "forget everything", "forget all", "forget about everything", "forget what i said", "new search",
              "clear everything", "clear my profile", "clear all", "begin again", "start fresh", "fresh start",
              "wipe my profile", "wipe everything"),
    C.GREET: ("hi", "hello", "hey", "heya", "hiya", "howdy", "yo", "greetings", "good morning",
              "good afternoon", "good evening", "good day", "hola", "sup", "what's up", "whats up", "hi there",
              "hello there", "hey there"),
    C.SOCIAL: ("there", "all", "everyone", "folks", "liner", "notes", "bot", "how are you", "how's it going",
               "hows it going", "how are you doing", "nice to meet you", "thanks", "thank you", "friend"),
    C.EXCL: ("no", "not", "nothing", "none", "without", "except", "avoid", "skip", "less", "anything but",
             "other than", "don't want", "dont want", "do not want", "don't need", "dont need", "no more",
             "not another", "rather not", "spare me", "not in the mood for", "not feeling", "don't show me",
             "dont show me", "nothing with", "never again"),
    C.SEEN: ("seen", "saw", "watched", "rewatched", "have seen", "already seen", "already saw",
             "already watched", "seen it", "watched it", "seen that", "seen that one", "viewed"),
    C.ASK_SEEN: ("have you seen", "did you see", "have you watched", "did you watch", "ever seen",
                 "you seen", "have you ever seen", "do you know", "you know", "heard of"),
    C.ANSWER: ("i have", "i did", "yes i have", "yeah i have", "yep i have", "yes i did", "yeah i did"),
    C.NEW: ("haven't heard of", "havent heard of", "never heard of", "not heard of", "hidden gem",
            "hidden gems", "underrated", "lesser known", "little known", "obscure", "under the radar",
            "something new", "something different", "surprise me", "off the beaten path", "deep cut",
            "deep cuts", "undiscovered", "new to me", "i haven't seen", "i havent seen", "i've never seen",
            "never seen before", "haven't seen before", "unknown"),
    C.FAMILIAR: ("popular", "well known", "famous", "crowd pleaser", "crowd pleasers", "blockbuster",
                 "blockbusters", "mainstream", "familiar", "safe bet", "safe pick", "must see", "must watch",
                 "greatest", "all time greats", "top rated", "highly rated", "popular favourite",
                 "popular favourites", "popular favorite", "popular favorites", "everyone has seen",
                 "everyone loves", "classic"),
    C.CLASSICS: ("classics", "classic movies", "classic films", "classic ones", "classic stuff",
                 "classic cinema", "old classics", "old classic", "golden oldies"),
    C.RECENT: ("recent", "recently released", "newer", "newest", "latest", "modern", "new movies", "new films",
               "new releases", "new ones", "new stuff", "new movie", "new film", "new release",
               "last few years", "nowadays", "contemporary", "current"),
    C.OLD: ("old", "older", "oldies", "old school", "old fashioned", "vintage", "black and white",
            "golden age", "retro", "old movies", "old films", "older movies", "older films", "older ones",
            "old ones", "old stuff"),
    C.BEFORE: ("before", "pre", "prior to", "older than", "earlier than"),
    C.AFTER: ("after", "post", "newer than", "later than"),
    C.SINCE: ("since",),
    C.UNTIL: ("until", "till", "up to", "through"),
    C.TO: ("to",),
    C.OR_LATER: ("or later", "or newer", "onwards", "on", "and later", "and up", "and newer", "or after"),
    C.OR_EARLIER: ("or earlier", "or older", "or before", "and earlier", "and older"),
    C.PRONOUN: ("it", "that", "this", "that one", "this one", "those", "them", "these", "that movie",
                "this movie", "that film", "this film", "the last one", "those ones", "those movies"),
    C.THIRD: ("he", "she", "they", "you", "everyone", "everybody", "people", "critics", "my wife",
              "my husband", "my partner", "my girlfriend", "my boyfriend", "my gf", "my bf", "my son",
              "my daughter", "my kids", "my kid", "my children", "my friend", "my friends", "my mom",
              "my mum", "my dad", "my mother", "my father", "my brother", "my sister", "my family",
              "my parents", "my roommate", "my spouse", "my fiance", "my fiancee", "our kids", "my wife's",
              "my husband's", "his wife", "her husband"),
    C.FIRST: ("i", "i'm", "im", "i've", "ive", "i'd", "id", "me", "we", "we're", "us", "myself", "i am",
              "i have", "i did", "yes i have", "yeah i have", "yep i have", "yes i did", "yeah i did"),
    C.CONTRAST: ("but", "although", "though", "however", "whereas", "except that", "even though"),
    C.SEP: (",", "and", "or", "nor", "&", "plus", "as well as", "also", "and also"),
    C.FILLER: ("too", "very", "so", "overly", "any", "more", "really", "that", "of", "kind of", "sort of",
               "type of", "kinda", "sorta", "anything", "something", "stuff", "movies", "films", "movie",
               "film", "please", "a lot of", "lots of", "much", "for", "with", "the", "genre", "ones", "from", "in",
               "between", "a", "an", "some"),
    C.POSSESSIVE: ("my", "our", "his", "her", "their", "your"),
}

_CLAUSE_END = frozenset(".!?;:")
_FIRST_WORDS = frozenset(_words("i i'm im i've ive i'd we we're we've"))
_SUBJECTS = frozenset(_words("i we you they he she people i've we've who also really do don't dont didn't didnt "
                             "does doesn't doesnt kinda just totally always usually generally mostly actually "
                             "still definitely both all would i'd we'd id not never"))
_INTO_AFTER = frozenset(_words("i'm im am are is was were be been really so not also more very totally quite big "
                               "all kinda mostly especially always never"))
_STATEMENT = (C.FIRST, C.THIRD, C.SENT, C.SEEN, C.ASK_SEEN, C.WHY)
_WEAK_CUES = frozenset({C.FILLER, C.SEP, C.POSSESSIVE})
"""Categories that never outrank a linked mention ("comedy movies" stays a genre)."""
_DUMMY_NEXT = frozenset(_words("when if that to because how whenever"))
_WOULD = frozenset(_words("would i'd we'd id"))
_YES = frozenset(_words("yes yeah yep yup sure"))

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[.!?;:,&]|[^\w\s'\"()\[\]{}<>\-_/\\*#~^|+=`@$%]")
_IGNORABLE = frozenset("\ufe0f\ufe0e\u200d")
_CONTROL = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x9f\u00ad\u061c\u180e\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]"
)
_SPACE = re.compile(r"\s+")
_QUOTE_MAP = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u00b4": "'", "`": "'",
                            "\u201c": '"', "\u201d": '"'})
_DECADE = re.compile(r"\b(?:(19|20)?(\d)0'?s|(" + "|".join(DECADE_WORDS) + r"))\b", re.IGNORECASE)


# --- moods -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mood:
    """A mood word family from assets/moods.json."""

    name: str
    words: tuple[str, ...]
    include: tuple[str, ...]
    """Genres to favour (a candidate needs one of them)."""
    exclude: tuple[str, ...]
    """Genres that contradict the mood."""
    keywords: tuple[str, ...]
    """Catalog keywords typical of the mood (graph nodes "keyword:<kw>"), for the recommender to boost."""
    negated_exclude: tuple[str, ...]
    """Genres to exclude when the user refuses the mood ("nothing too scary")."""
    praise: bool
    """Describing a film with the word counts as liking it ("Superbad was hilarious")."""


@lru_cache(maxsize=4)
def load_moods(path: Path) -> dict[str, Mood]:
    """Mood name → Mood, from a moods.json (settings.assets_dir / "moods.json")."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return {
            name: Mood(name, tuple(_normalize_phrase(w) for w in entry["words"]), tuple(entry["include"]),
                       tuple(entry["exclude"]), tuple(entry["keywords"]), tuple(entry["negated_exclude"]),
                       bool(entry["praise"]))
            for name, entry in data["moods"].items()
        }
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise FileNotFoundError(
            f"cannot read the mood table {path} ({error}); restore assets/moods.json from the repository "
            f"or point LINER_ASSETS_DIR at a folder that has it"
        ) from error


def _normalize_phrase(text: str) -> str:
    return " ".join(m.group().lower() for m in _TOKEN.finditer(text.translate(_QUOTE_MAP).replace("-", " ")))


@dataclass(frozen=True)
class _Table:
    phrases: dict[tuple[str, ...], dict[C, object]]
    prefixes: frozenset[tuple[str, ...]]
    """Every leading part of every phrase, to walk the message word by word."""
    moods: dict[str, Mood]


@lru_cache(maxsize=4)
def _table(moods_path: Path) -> _Table:
    moods = load_moods(moods_path)
    phrases: dict[tuple[str, ...], dict[C, object]] = {}

    def add(phrase: str, cat: C, payload: object = None) -> None:
        key = tuple(_normalize_phrase(phrase).split())
        if key:
            phrases.setdefault(key, {})[cat] = payload

    for phrase, value in _SENTIMENT.items():
        add(phrase, C.SENT, value)
    for cat, entries in _LEXICON.items():
        for phrase in entries:
            add(phrase, cat)
    for word in _NEGATORS:
        add(word, C.NEG)
    for mood in moods.values():
        for word in mood.words:
            add(word, C.MOOD, mood.name)
    for key, cats in phrases.items():
        if key[0] in _FIRST_WORDS:
            cats.setdefault(C.FIRST, None)  # "I haven't seen" still says who is speaking
    prefixes = frozenset(key[:n] for key in phrases for n in range(1, len(key) + 1))
    return _Table(phrases, prefixes, moods)


# --- cleaning --------------------------------------------------------------------------------------------
def clean_message(text: object, max_chars: int) -> tuple[str, bool]:
    """(text without control characters, whitespace collapsed, at most max_chars long; whether it was cut)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    truncated = False
    if max_chars > 0 and len(text) > max_chars * 4 + 64:
        # Cleaning is linear but there is no point cleaning megabytes that will be cut anyway.
        text, truncated = text[: max_chars * 4 + 64], True
    text = _CONTROL.sub("", text.translate(_QUOTE_MAP))
    text = _SPACE.sub(" ", text).strip()
    if max_chars > 0 and len(text) > max_chars:
        cut = text[:max_chars]
        space = cut.rfind(" ")
        text, truncated = (cut[:space] if space > max_chars - 40 else cut).rstrip(), True
    return text, truncated


# --- units -----------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Target:
    node_id: str
    kind: str
    label: str
    unit: int
    mention: Mention | None = None
    mood: Mood | None = None
    polarity: int = 0
    strength: float = 0.0
    excluded: bool = False
    seen: bool = False
    decided: bool = False
    why_target: bool = False


@dataclass(slots=True)
class _Unit:
    text: str
    start: int
    end: int
    cats: dict[C, object] = field(default_factory=dict)
    targets: list[_Target] = field(default_factory=list)

    @property
    def is_target(self) -> bool:
        return bool(self.targets)


@dataclass
class _Clause:
    units: list[int]
    question: bool
    segments: list[list[int]] = field(default_factory=list)
    request: bool = False


def _valid_mentions(mentions: list[Mention], text: str) -> list[Mention]:
    """In-range, non-overlapping mentions in text order; mentions sharing one span ("rom-com") stay together."""
    valid = [m for m in mentions if isinstance(m, Mention) and 0 <= m.start < m.end <= len(text)
             and isinstance(m.node_id, str) and ":" in m.node_id]
    valid.sort(key=lambda m: (m.start, -(m.end - m.start), -m.score))
    kept: list[Mention] = []
    for mention in valid:
        if kept and mention.start < kept[-1].end and (mention.start, mention.end) != (kept[-1].start,
                                                                                          kept[-1].end):
            continue
        if any(k.node_id == mention.node_id and k.start == mention.start for k in kept):
            continue
        kept.append(mention)
    return kept


def _decade_mentions(text: str, taken: list[Mention]) -> list[Mention]:
    """Decades the linker left alone ("80's", "the nineties"), as "decade:1980s" mentions."""
    found = []
    for match in _DECADE.finditer(text):
        if any(m.start < match.end() and match.start() < m.end for m in taken):
            continue
        if match.group(3):
            start_year = DECADE_WORDS[match.group(3).lower()]
        else:
            digit = int(match.group(2))
            century = match.group(1)
            if century:
                start_year = int(century) * 100 + digit * 10
            elif digit in (0, 1):
                start_year = 2000 + digit * 10
            elif digit >= 3:
                start_year = 1900 + digit * 10
            else:
                continue  # "20s" could be the 1920s or the 2020s
        label = f"{start_year}s"
        found.append(Mention(f"decade:{label}", "decade", label, match.group(), match.start(), match.end()))
    return found


def _at_sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \"'(")
    return not before or before[-1] in _CLAUSE_END


def _without_cue_words(mentions: list[Mention], text: str, table: _Table) -> list[Mention]:
    """Drop mentions that are really our cue words: "scary" is a mood, "Surprise me" a request, "It was ok" a
    pronoun. A title or name is only dropped when it is a single cue word that nothing marks as a title."""
    if all(m.kind in ("item", "person") and " " in m.surface.strip() for m in mentions):
        return mentions  # nothing a cue word could be
    cue_units = [u for u in _build_units(text, [], table) if any(c not in _WEAK_CUES for c in u.cats)]
    starts = [u.start for u in cue_units]
    kept = []
    for mention in mentions:
        # Units do not overlap: only the last one starting at or before the mention can cover it.
        n = bisect.bisect_right(starts, mention.start) - 1
        cover = cue_units[n] if n >= 0 and mention.end <= cue_units[n].end else None
        if cover is not None and (mention.kind not in ("item", "person") or (
                (cover.start, cover.end) == (mention.start, mention.end) and " " not in mention.surface.strip()
                and (mention.surface[:1].islower() or _at_sentence_start(text, mention.start)))):
            continue
        kept.append(mention)
    return kept


def _build_units(text: str, mentions: list[Mention], table: _Table) -> list[_Unit]:
    raw: list[_Unit] = []
    groups: dict[tuple[int, int], list[Mention]] = {}
    for mention in mentions:
        groups.setdefault((mention.start, mention.end), []).append(mention)
    spans = sorted(groups)
    span_index = 0
    for match in _TOKEN.finditer(text):
        start, end = match.start(), match.end()
        while span_index < len(spans) and spans[span_index][0] < end:
            span = spans[span_index]
            unit = _Unit(text[span[0]:span[1]].lower(), span[0], span[1])
            unit.targets = [_Target(m.node_id, m.kind, m.label, -1, mention=m) for m in groups[span]]
            raw.append(unit)
            span_index += 1
        if raw and raw[-1].is_target and start < raw[-1].end:
            continue
        token = match.group().lower()
        if token in _IGNORABLE:
            continue
        raw.append(_Unit(token, start, end))
    for span in spans[span_index:]:
        unit = _Unit(text[span[0]:span[1]].lower(), span[0], span[1])
        unit.targets = [_Target(m.node_id, m.kind, m.label, -1, mention=m) for m in groups[span]]
        raw.append(unit)

    units: list[_Unit] = []
    i = 0
    while i < len(raw):
        word = raw[i]
        if word.is_target:
            units.append(word)
            i += 1
            continue
        key: tuple[str, ...] = ()
        end = None
        for j in range(i, len(raw)):
            if raw[j].is_target:
                break
            key += (raw[j].text,)
            if key not in table.prefixes:
                break
            if key in table.phrases:
                end = j + 1
        if end is not None:
            window = raw[i:end]
            units.append(_Unit(" ".join(u.text for u in window), window[0].start, window[-1].end,
                               dict(table.phrases[tuple(u.text for u in window)])))
            i = end
        else:
            if word.text.endswith("n't"):
                word.cats[C.NEG] = None
            units.append(word)
            i += 1

    for index, unit in enumerate(units):
        _set_units(unit, index)
        if unit.text == "like" and not unit.cats:
            previous = _previous_word(units, index)
            if previous in _WOULD:
                unit.cats[C.REQUEST] = None
            elif previous in _SUBJECTS:
                unit.cats[C.SENT] = (1, PLAIN)
            else:
                unit.cats[C.SIMILAR] = None
        if unit.text == "into" and not unit.cats and _previous_word(units, index, skip_intens=False) in _INTO_AFTER:
            unit.cats[C.SENT] = (1, PLAIN)  # "I'm into", "really into", "not into" (not "turned into")
        if C.MOOD in unit.cats:
            if index and C.POSSESSIVE in units[index - 1].cats:
                del unit.cats[C.MOOD]
            else:
                mood = table.moods[unit.cats[C.MOOD]]
                unit.targets = [_Target(f"mood:{mood.name}", "mood", mood.name, index, mood=mood)]
    return units


def _set_units(unit: _Unit, index: int) -> None:
    for target in unit.targets:
        target.unit = index


def _previous_word(units: list[_Unit], index: int, skip_intens: bool = True) -> str:
    for j in range(index - 1, max(index - 3, -1), -1):
        if skip_intens and (C.INTENS in units[j].cats or C.HEDGE in units[j].cats):
            continue
        return units[j].text
    return ""


def _clauses(units: list[_Unit]) -> list[_Clause]:
    clauses: list[_Clause] = []
    current: list[int] = []
    for index, unit in enumerate(units):
        if unit.text in _CLAUSE_END or C.CONTRAST in unit.cats:
            if current:
                clauses.append(_Clause(current, unit.text == "?"))
            current = []
            continue
        current.append(index)
    if current:
        clauses.append(_Clause(current, False))
    for clause in clauses:
        segment: list[int] = []
        for index in clause.units:
            if C.SEP in units[index].cats and not units[index].is_target:
                if segment:
                    clause.segments.append(segment)
                segment = []
            else:
                segment.append(index)
        if segment:
            clause.segments.append(segment)
        clause.request = any(C.REQUEST in units[i].cats or C.SIMILAR in units[i].cats for i in clause.units)
        clause.question = clause.question or any(C.ASK_SEEN in units[i].cats for i in clause.units)
    return clauses


# --- verdicts --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Cue:
    position: int
    polarity: int
    strength: float


def _negated(units: list[_Unit], segment: list[int], at: int, window: int = 3) -> tuple[bool, bool, bool]:
    """(negated, intensified, hedged) from the few units before position `at` of the segment."""
    negated = boosted = hedged = False
    for j in reversed(segment[max(0, at - window):at]):
        cats = units[j].cats
        if C.SENT in cats or C.SEEN in cats:
            break
        negated = negated or C.NEG in cats
        boosted = boosted or C.INTENS in cats
        hedged = hedged or C.HEDGE in cats
    return negated, boosted, hedged


def _someone_else(units: list[_Unit], segment: list[int], at: int) -> bool:
    """Whether the cue at position `at` states someone else's taste ("my wife likes it", "do you like X")."""
    for j in reversed(segment[:at]):
        if C.FIRST in units[j].cats:
            return False
        if C.THIRD in units[j].cats:
            return True
    return False


def _sentiment_cues(units: list[_Unit], segment: list[int], praise_ok: bool) -> list[_Cue]:
    cues = []
    for at, index in enumerate(segment):
        unit = units[index]
        if C.SENT in unit.cats:
            polarity, strength = unit.cats[C.SENT]
        elif C.TOO in unit.cats and at + 1 < len(segment):
            polarity, strength = -1, PLAIN
        elif praise_ok and unit.targets and unit.targets[0].mood is not None and unit.targets[0].mood.praise:
            polarity, strength = 1, PLAIN
        else:
            continue
        if _someone_else(units, segment, at):
            continue
        negated, boosted, hedged = _negated(units, segment, at)
        if negated:
            strength = PLAIN if (polarity > 0 and strength == PLAIN) else WEAK
            polarity = -polarity
        elif boosted and strength == PLAIN:
            strength = STRONG
        elif hedged:
            strength = PLAIN if strength == STRONG else WEAK
        cues.append(_Cue(at, polarity, strength))
    return cues


def _seen_cue(units: list[_Unit], segment: list[int], question: bool) -> bool:
    if question:
        return False
    for at, index in enumerate(segment):
        if C.SEEN in units[index].cats:
            negated, _, _ = _negated(units, segment, at, window=2)
            if not negated and not _someone_else(units, segment, at):
                return True
    return False


def _excluded(units: list[_Unit], segment: list[int], at: int) -> bool:
    """Whether an exclusion cue ("no", "nothing too", "don't want any") stands right before position `at`."""
    for j in reversed(segment[:at]):
        cats = units[j].cats
        if C.EXCL in cats:
            return True
        if C.FILLER in cats and not units[j].is_target:
            continue
        return False
    return False


def _dummy_pronoun(units: list[_Unit], segment: list[int], at: int) -> bool:
    """"I hate it when…", "I'd like it to be funny": the pronoun points forward, not at a film."""
    return at + 1 < len(segment) and units[segment[at + 1]].text in _DUMMY_NEXT


def _resolve_pronoun(targets_so_far: list[_Target], last_item: tuple[str, str] | None,
                     unit_index: int) -> _Target | None:
    for target in reversed(targets_so_far):
        if target.kind != "mood" and not target.why_target:
            return _Target(target.node_id, target.kind, target.label, unit_index, mention=target.mention)
    if last_item:
        item_id, label = last_item
        return _Target(f"item:{item_id}", "item", label, unit_index)
    return None


# --- the reading ----------------------------------------------------------------------------------------
@dataclass
class _Reading:
    units: list[_Unit]
    clauses: list[_Clause]
    targets: list[_Target] = field(default_factory=list)
    """Every target in message order, pronoun references included."""


def _read(text: str, mentions: list[Mention], table: _Table, last_item: tuple[str, str] | None) -> _Reading:
    units = _build_units(text, mentions, table)
    reading = _Reading(units, _clauses(units))
    previous_question: _Clause | None = None
    for clause in reading.clauses:
        _answer_seen(reading, clause, previous_question)
        has_cues = [_read_segment(reading, clause, segment, last_item) for segment in clause.segments]
        _inherit(reading, clause, has_cues)
        previous_question = clause if clause.question else None
    return reading


def _read_segment(reading: _Reading, clause: _Clause, segment: list[int],
                  last_item: tuple[str, str] | None) -> bool:
    """Give the segment's targets the verdicts of its own cues; whether it had any cue."""
    units = reading.units
    cues = _sentiment_cues(units, segment, praise_ok=not clause.request)
    seen = _seen_cue(units, segment, clause.question)
    targets = [t for i in segment for t in units[i].targets]
    if (cues or seen) and not any(t.kind != "mood" for t in targets):
        for at, index in enumerate(segment):
            if C.PRONOUN in units[index].cats and not _dummy_pronoun(units, segment, at):
                ref = _resolve_pronoun(reading.targets, last_item, index)
                if ref is not None:
                    units[index].targets.append(ref)
                    targets.append(ref)
                break
    for target in targets:
        at = segment.index(target.unit)
        own = [c for c in cues if c.position != at or target.mood is None]
        before = [c for c in own if c.position < at]
        after = [c for c in own if c.position > at]
        cue = before[-1] if before else (after[0] if after else None)
        if _excluded(units, segment, at):
            target.excluded, target.polarity, target.strength, target.decided = True, -1, PLAIN, True
        elif cue is not None:
            target.polarity, target.strength, target.decided = cue.polarity, cue.strength, True
        if seen and target.kind == "item":
            target.seen = True
    reading.targets.extend(targets)
    return bool(cues or seen or any(C.EXCL in units[i].cats for i in segment))


def _inherit(reading: _Reading, clause: _Clause, has_cues: list[bool]) -> None:
    """Lists share one verdict: "I loved Superbad, Juno and Up", "no horror or gore", "Titanic and Avatar were
    boring" (a list of bare names takes the verdict of the segment that follows it)."""
    units = reading.units
    verdicts: list[tuple[int, float, bool, bool] | None] = []
    for segment, cued in zip(clause.segments, has_cues):
        decided = [t for i in segment for t in units[i].targets if t.decided or t.seen]
        verdicts.append((decided[-1].polarity, decided[-1].strength, decided[-1].excluded, decided[-1].seen)
                        if cued and decided else None)
    for n, segment in enumerate(clause.segments):
        targets = [t for i in segment for t in units[i].targets]
        if has_cues[n] or not targets:
            continue
        verdict = verdicts[n - 1] if n else None
        if verdict is None and _only_targets(units, segment):
            for m in range(n + 1, len(clause.segments)):
                if has_cues[m]:
                    # Only a predicate after its subject looks back: "Avatar were boring", not "nothing dark".
                    if units[clause.segments[m][0]].is_target:
                        verdict = verdicts[m]
                    break
                if not _only_targets(units, clause.segments[m]):
                    break
        if verdict is None:
            continue
        for target in targets:
            target.polarity, target.strength, target.excluded, seen = verdict
            target.seen = seen and target.kind == "item"
            target.decided = target.polarity != 0 or target.excluded
        verdicts[n] = verdict


def _only_targets(units: list[_Unit], segment: list[int]) -> bool:
    return all(units[i].is_target or C.FILLER in units[i].cats for i in segment)


def _answer_seen(reading: _Reading, clause: _Clause, question: _Clause | None) -> None:
    """"Have you seen Titanic? I have" — the user has seen what the question named."""
    if question is None:
        return
    words = [reading.units[i] for i in clause.units if reading.units[i].text not in _YES]
    if not words or C.ANSWER not in words[0].cats:
        return
    if len(words) > 1 and C.NEG in words[1].cats:
        return
    for index in question.units:
        for target in reading.units[index].targets:
            if target.kind == "item":
                target.seen = True


# --- intents and constraints ---------------------------------------------------------------------------
def _find_target_after(reading: _Reading, clause: _Clause, position: int, last_item: tuple[str, str] | None,
                       fallback_before: bool) -> _Target | None:
    units = reading.units
    after = [i for i in clause.units if i > position]
    for index in after:
        items = [t for t in units[index].targets if t.kind == "item"]
        if items:
            return items[0]
        if C.PRONOUN in units[index].cats:
            ref = _resolve_pronoun([t for t in reading.targets if t.kind == "item" and t.unit < position],
                                   last_item, index)
            if ref is not None:
                units[index].targets.append(ref)
                reading.targets.append(ref)
            return ref
        if units[index].targets:
            return None  # "more like Tom Hanks": not an item to recommend around
    if fallback_before:
        earlier = [t for t in reading.targets if t.kind == "item" and t.unit < position and t.polarity >= 0]
        if earlier:
            return earlier[-1]
        if last_item:
            ref = _Target(f"item:{last_item[0]}", "item", last_item[1], position)
            reading.targets.append(ref)
            return ref
    return None


def _first_word(units: list[_Unit], clause: _Clause) -> int | None:
    for index in clause.units:
        if units[index].text not in _YES and units[index].text != "so" and C.GREET not in units[index].cats:
            return index
    return None


def _greeting_only(units: list[_Unit]) -> bool:
    words = [u for u in units if u.text not in _CLAUSE_END and u.text != ","]
    return bool(words) and any(C.GREET in u.cats for u in words) and all(
        C.GREET in u.cats or C.SOCIAL in u.cats or (not u.text[:1].isalnum() and not u.cats and not u.is_target)
        for u in words)


def _year_constraints(reading: _Reading, settings: Settings) -> tuple[int | None, int | None]:
    units = reading.units
    explicit_min: list[int] = []
    explicit_max: list[int] = []
    word_min: int | None = None
    word_max: int | None = None
    for clause in reading.clauses:
        open_clause = _open(units, clause)
        for seg in clause.segments:
            descriptive = any(t.kind == "item" for i in seg for t in units[i].targets)
            for at, index in enumerate(seg):
                unit = units[index]
                prev = units[seg[at - 1]] if at else None
                prev2 = units[seg[at - 2]] if at > 1 else None
                operator = prev if prev is not None and prev.text != "the" else prev2
                nxt = units[seg[at + 1]] if at + 1 < len(seg) else None
                decade = [t for t in unit.targets if t.kind == "decade"]
                year = _year(unit.text) if not unit.targets else None
                if decade:
                    start = int(decade[0].node_id.split(":", 1)[1][:4])
                    low, high = start, start + 9
                elif year is not None:
                    low = high = year
                else:
                    if not descriptive and (C.RECENT in unit.cats or C.OLD in unit.cats or C.CLASSICS in unit.cats):
                        negated = _excluded(units, seg, at) or (prev is not None and C.NEG in prev.cats)
                        if C.RECENT in unit.cats:
                            if negated:
                                word_max = settings.recent_year_min - 1
                            else:
                                word_min = settings.recent_year_min
                        else:
                            if negated:
                                word_min = settings.old_year_max
                            else:
                                word_max = settings.old_year_max
                    continue
                # "1990 to 2000", "1990-2000"; "between 1990 and 2000" is two segments whose years span it.
                range_start = nxt is not None and (C.TO in nxt.cats or _year(nxt.text) is not None)
                range_end = prev is not None and (C.TO in prev.cats or _year(prev.text) is not None)
                if range_start:
                    explicit_min.append(low)
                elif range_end:
                    explicit_max.append(high)
                elif operator is not None and C.BEFORE in operator.cats:
                    explicit_max.append(low - 1)
                elif operator is not None and C.AFTER in operator.cats:
                    explicit_min.append(high + 1)
                elif operator is not None and C.UNTIL in operator.cats:
                    explicit_max.append(high)
                elif operator is not None and C.SINCE in operator.cats:
                    explicit_min.append(low)
                elif nxt is not None and C.OR_LATER in nxt.cats:
                    explicit_min.append(low)
                elif nxt is not None and C.OR_EARLIER in nxt.cats:
                    explicit_max.append(high)
                elif decade and decade[0].decided and decade[0].polarity < 0:
                    continue
                elif open_clause:
                    explicit_min.append(low)
                    explicit_max.append(high)
    if explicit_min or explicit_max:
        return (min(explicit_min) if explicit_min else None, max(explicit_max) if explicit_max else None)
    if word_min is not None and word_max is not None and word_min > word_max:
        return None, None
    return word_min, word_max


def _year(text: str) -> int | None:
    if len(text) == 4 and text.isdigit() and 1900 <= int(text) <= 2039:
        return int(text)
    return None


def _open(units: list[_Unit], clause: _Clause) -> bool:
    """A request, or a clause that states nothing: an answer such as "The Matrix (1999)", "80's",
    "sci-fi or rom-coms, nothing too dark". What it names is what the user wants."""
    if clause.request:
        return True
    names_a_film = any(t.kind in ("item", "person") for i in clause.units for t in units[i].targets)
    return any(units[i].is_target or _year(units[i].text) for i in clause.units) and not any(
        cat in units[i].cats for i in clause.units for cat in _STATEMENT) and not (
        names_a_film and any(t.mood is not None and t.mood.praise for i in clause.units for t in units[i].targets))


def _novelty(reading: _Reading) -> str | None:
    units = reading.units
    novelty = None
    for clause in reading.clauses:
        for seg in clause.segments:
            has_item = any(t.kind == "item" for i in seg for t in units[i].targets)
            for at, index in enumerate(seg):
                unit = units[index]
                if C.NEW in unit.cats:
                    if has_item and unit.text.startswith("i"):
                        continue  # "I haven't seen Titanic" is about Titanic, not about novelty
                    value = "new"
                elif C.FAMILIAR in unit.cats or C.CLASSICS in unit.cats:
                    value = "familiar"
                else:
                    continue
                prev = units[seg[at - 1]] if at else None
                if _excluded(units, seg, at) or (prev is not None and C.NEG in prev.cats):
                    value = "familiar" if value == "new" else "new"
                novelty = value
    return novelty


def _add_unique(values: list[str], new: tuple[str, ...] | list[str]) -> None:
    for value in new:
        if value not in values:
            values.append(value)


# --- entry point -----------------------------------------------------------------------------------------
def understand(text: str, link: Linker, settings: Settings, *,
               last_item: tuple[str, str] | None = None) -> Signals:
    """Read one user message.

    text: the raw message (any string; never raises on its content). link: the entity linker.
    last_item: (item id, label) of what the conversation was last about — the last card shown — so that
    "I already saw that one" or "why that one?" can refer to it; None when there is none.
    """
    cleaned, truncated = clean_message(text, settings.max_message_chars)
    signals = Signals(text=cleaned)
    if truncated:
        signals.notes.append(TRUNCATED_NOTE.format(n=settings.max_message_chars))
    if not cleaned:
        signals.notes.append(EMPTY_NOTE)
        return signals

    table = _table(Path(settings.assets_dir) / "moods.json")
    linked = _valid_mentions(list(link(cleaned)), cleaned)
    linked = _without_cue_words(linked, cleaned, table)
    mentions = sorted(linked + _decade_mentions(cleaned, linked), key=lambda m: m.start)
    signals.mentions = mentions
    reading = _read(cleaned, mentions, table, last_item)
    units = reading.units

    intent, target = _intent(reading, last_item)
    signals.intent = intent
    if target is not None:
        signals.target_item = target.node_id.removeprefix("item:")

    _fill_preferences(signals, reading, intent, target, table)
    _family(signals, table, settings)
    signals.constraints.year_min, signals.constraints.year_max = _year_constraints(reading, settings)
    signals.novelty = _novelty(reading)

    if intent in (Intent.INFORM, Intent.UNKNOWN) and _is_fragment(units, signals):
        intent = signals.intent = Intent.RECOMMEND
    if intent == Intent.UNKNOWN and (signals.preferences or signals.seen or not signals.constraints.is_empty
                                     or signals.novelty):
        signals.intent = Intent.INFORM
    return signals


def _family(signals: Signals, table: _Table, settings: Settings) -> None:
    """"With the kids" / "grown-ups only now": the family flag. When it is lifted, the family mood's genre
    limits said in the same message go too ("no kids tonight" must not make a family request)."""
    found = load_family_rules(Path(settings.assets_dir)).said(signals.text)
    if found is None:
        return
    said, (start, end) = found
    # The phrase is about who is watching, not a title: "grown-ups only" must not like the film Grown Ups.
    inside = {m.node_id for m in signals.mentions if m.start < end and m.end > start}
    signals.mentions = [m for m in signals.mentions if m.node_id not in inside]
    signals.preferences = [p for p in signals.preferences if p.node_id not in inside]
    constraints = signals.constraints
    constraints.family = said
    family = table.moods.get(FAMILY_MOOD)
    if said or family is None or FAMILY_MOOD not in constraints.moods:
        return
    constraints.moods.remove(FAMILY_MOOD)
    others = {g for name in constraints.moods if name in table.moods for g in table.moods[name].include}
    constraints.include_genres = [g for g in constraints.include_genres if g not in family.include or g in others]
    constraints.exclude_genres = [g for g in constraints.exclude_genres if g not in family.exclude]


def _intent(reading: _Reading, last_item: tuple[str, str] | None) -> tuple[Intent, _Target | None]:
    units = reading.units
    if any(C.RESET in u.cats and not (i and C.NEG in units[i - 1].cats) for i, u in enumerate(units)):
        return Intent.RESET, None
    for clause in reading.clauses:
        first = _first_word(units, clause)
        for index in clause.units:
            if C.WHY in units[index].cats and (clause.question or index == first):
                target = _find_target_after(reading, clause, index, last_item, fallback_before=False)
                if target is not None:
                    target.why_target = True
                return Intent.WHY, target
    for clause in reading.clauses:
        for index in clause.units:
            if C.SIMILAR in units[index].cats:
                target = _find_target_after(reading, clause, index, last_item, fallback_before=True)
                if target is not None:
                    return Intent.MORE_LIKE, target
    if any(clause.request for clause in reading.clauses):
        return Intent.RECOMMEND, None
    if _greeting_only(units):
        return Intent.GREET, None
    return Intent.UNKNOWN, None


def _is_fragment(units: list[_Unit], signals: Signals) -> bool:
    """A reply with no statement in it ("recent stuff", "mind-bending") asks for recommendations."""
    if any(C.FIRST in u.cats or C.SENT in u.cats or C.SEEN in u.cats for u in units):
        return False
    if any(p.kind in ("item", "person") for p in signals.preferences):
        return False
    return not signals.constraints.is_empty or signals.novelty is not None


def _fill_preferences(signals: Signals, reading: _Reading, intent: Intent, target: _Target | None,
                      table: _Table) -> None:
    units = reading.units
    constraints = signals.constraints
    prefs: dict[str, Preference] = {}
    explicit_include: list[str] = []
    explicit_exclude: list[str] = []
    mood_include: list[str] = []
    mood_exclude: list[str] = []
    clause_of = {i: clause for clause in reading.clauses for i in clause.units}

    for t in reading.targets:
        if t.seen and t.kind == "item":
            item_id = t.node_id.removeprefix("item:")
            if item_id not in signals.seen:
                signals.seen.append(item_id)
        if t.why_target:
            continue
        clause = clause_of.get(t.unit)
        polarity, strength = t.polarity, t.strength
        if not t.decided and not (t.seen and polarity == 0) and clause is not None:
            if _open(units, clause) or (target is not None and t.node_id == target.node_id):
                polarity, strength = 1, PLAIN
            elif clause.question:
                polarity, strength = 1, WEAK
        if not polarity:
            continue
        prefs.pop(t.node_id, None)  # a later statement about the same thing overrides an earlier one
        prefs[t.node_id] = Preference(t.node_id, t.kind, t.label, polarity, strength)
        if t.kind == "genre":
            genre = t.node_id.split(":", 1)[1]
            if polarity < 0 and (t.excluded or strength >= PLAIN):
                explicit_exclude.append(genre)
            elif polarity > 0 and clause is not None and (_open(units, clause)):
                explicit_include.append(genre)
        elif t.mood is not None:
            if polarity > 0:
                _add_unique(constraints.moods, [t.mood.name])
                _add_unique(mood_include, t.mood.include)
                _add_unique(mood_exclude, t.mood.exclude)
            else:
                _add_unique(mood_exclude, t.mood.negated_exclude)
    signals.preferences = list(prefs.values())

    exclude = list(dict.fromkeys(explicit_exclude))
    _add_unique(exclude, [g for g in mood_exclude if g not in explicit_include and g not in mood_include])
    include = [g for g in dict.fromkeys(explicit_include + mood_include) if g not in exclude]
    constraints.include_genres = include
    constraints.exclude_genres = exclude
