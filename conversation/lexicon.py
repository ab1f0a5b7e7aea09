"""The words a message is read by (assets/nlu_lexicon.json and the mood words), as one phrase table built once.

The file holds the sentiment phrases with their polarity and strength, a phrase list for every cue category of
`Cue` but sentiment and mood, and the small word sets that decide how a neighbouring word reads ("like" after
"I'd" is a request). `phrase_table` joins them with the mood words of moods.json; `understand` walks it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum, auto
from functools import lru_cache
from pathlib import Path

from conversation.message_text import normalize_phrase
from conversation.moods import Mood, load_moods
from core.errors import FixableError

LEXICON_FILE = "nlu_lexicon.json"
MOODS_FILE = "moods.json"

STRONG, PLAIN, WEAK = 1.0, 0.7, 0.4
"""The strength scale of a stated preference: "loved" / "liked" / "it was ok"."""
_STRENGTHS = {"strong": STRONG, "plain": PLAIN, "weak": WEAK}


class Cue(IntEnum):
    """Cue categories a word or phrase can carry (an IntEnum: it hashes as fast as an int, on the hot path)."""

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


_LISTED_CUES = {cue.name.lower(): cue for cue in Cue if cue not in (Cue.SENT, Cue.MOOD)}
"""The categories whose phrases assets/nlu_lexicon.json lists, by their name there (sentiment has its own section,
mood words are in moods.json)."""
_WORD_SETS = ("first_words", "subjects", "into_after", "would", "dummy_next", "yes")


@dataclass(frozen=True)
class Lexicon:
    """assets/nlu_lexicon.json, read."""

    sentiment: dict[str, tuple[int, float]]
    """Phrase → (polarity, strength)."""
    cues: dict[Cue, tuple[str, ...]]
    first_words: frozenset[str]
    """A phrase starting with one of these also says the user is speaking ("I haven't seen")."""
    subjects: frozenset[str]
    """"like" after one of these is a taste ("I like"), not a comparison ("movies like")."""
    into_after: frozenset[str]
    """"into" after one of these is a taste ("I'm into"), not "turned into"."""
    would: frozenset[str]
    """"like" after one of these is a request ("I'd like")."""
    dummy_next: frozenset[str]
    """A pronoun followed by one of these points forward ("I hate it when"), not at a film."""
    yes: frozenset[str]
    """Assent words, skipped before an answer and at the start of a clause."""


class LexiconError(FixableError, ValueError):
    """assets/nlu_lexicon.json does not list the cue categories and word sets that conversation/lexicon.py reads."""


@lru_cache(maxsize=4)
def load_lexicon(path: Path) -> Lexicon:
    """The lexicon of an nlu_lexicon.json (settings.assets_dir / "nlu_lexicon.json")."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        sentiment = {phrase: (int(group["polarity"]), _STRENGTHS[group["strength"]])
                     for group in data["sentiment"]["groups"] for phrase in group["phrases"]}
        listed = {name: entry for name, entry in data["cues"].items() if not name.startswith("_")}
        words = {name: frozenset(entry["words"]) for name, entry in data["word_sets"].items()
                 if not name.startswith("_")}
        _check(path, "cue categories", listed, _LISTED_CUES)
        _check(path, "word sets", words, _WORD_SETS)
        return Lexicon(sentiment, {_LISTED_CUES[name]: tuple(entry["phrases"]) for name, entry in listed.items()},
                       **{name: words[name] for name in _WORD_SETS})
    except LexiconError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise FileNotFoundError(
            f"cannot read the lexicon {path} ({error.__class__.__name__}: {error}); restore assets/{LEXICON_FILE} "
            f"from the repository or point LINER_ASSETS_DIR at a folder that has it"
        ) from error


@lru_cache(maxsize=16)
def load_section(path: Path, name: str) -> dict:
    """One more section of nlu_lexicon.json (questions, references, film_constraints), for the module that reads
    it; its "_about" entries are left out."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))[name]
        return {key: value for key, value in data.items() if not key.startswith("_")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise FileNotFoundError(
            f"cannot read the section {name!r} of the lexicon {path} ({error.__class__.__name__}: {error}); restore "
            f"assets/{LEXICON_FILE} from the repository or point LINER_ASSETS_DIR at a folder that has it"
        ) from error


def _check(path: Path, what: str, found: dict, known: Iterable[str]) -> None:
    unknown, missing = sorted(set(found) - set(known)), sorted(set(known) - set(found))
    if unknown or missing:
        raise LexiconError(f"the {what} of {path} do not match conversation/lexicon.py (unknown: {unknown}, "
                           f"missing: {missing}); rename or add the entry in one or the other")


@dataclass(frozen=True)
class PhraseTable:
    """Every phrase a message is read by, with the cues it carries."""

    phrases: dict[tuple[str, ...], dict[Cue, object]]
    """Phrase words → cue → payload ((polarity, strength) for SENT, the mood name for MOOD, else None)."""
    prefixes: frozenset[tuple[str, ...]]
    """Every leading part of every phrase, to walk the message word by word."""
    moods: dict[str, Mood]
    lexicon: Lexicon


@lru_cache(maxsize=4)
def phrase_table(assets_dir: Path) -> PhraseTable:
    """The phrase table of the lexicon and moods of an assets folder (settings.assets_dir), built once."""
    moods = load_moods(assets_dir / MOODS_FILE)
    lexicon = load_lexicon(assets_dir / LEXICON_FILE)
    phrases: dict[tuple[str, ...], dict[Cue, object]] = {}

    def add(phrase: str, cue: Cue, payload: object = None) -> None:
        key = tuple(normalize_phrase(phrase).split())
        if key:
            phrases.setdefault(key, {})[cue] = payload

    for phrase, value in lexicon.sentiment.items():
        add(phrase, Cue.SENT, value)
    for cue, entries in lexicon.cues.items():
        for phrase in entries:
            add(phrase, cue)
    for mood in moods.values():
        for word in mood.words:
            add(word, Cue.MOOD, mood.name)
    for key, cues in phrases.items():
        if key[0] in lexicon.first_words:
            cues.setdefault(Cue.FIRST, None)  # "I haven't seen" still says who is speaking
    prefixes = frozenset(key[:n] for key in phrases for n in range(1, len(key) + 1))
    return PhraseTable(phrases, prefixes, moods, lexicon)
