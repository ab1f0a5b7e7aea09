"""Questions about a film: "Who directed Arrival?", "how long is it?", "is Heat like The Town?", "what else did
Nolan make?", "tell me more about the third".

A message is a question when it ends with "?" or opens with a question word, and its words — with the mentions
(titles, names, references to the cards) and the filler words taken out — contain one of the phrases of a kind
in the "questions" section of assets/nlu_lexicon.json; the longest phrase wins. This module reads the kind and
what the question is about; conversation.answers answers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from conversation.lexicon import LEXICON_FILE, load_section
from conversation.message_text import TOKEN, normalize_phrase
from core.ids import item_id_of
from core.mention import Mention

BARE_QUESTION_WORDS = 2
"""A question naming no film ("how long?", "who directed?") is about the film last talked about only when at most
this many other words are left beside its phrase: "any good love story?" is a request, not a plot question."""


class QuestionKind(StrEnum):
    DIRECTOR = "director"
    WRITER = "writer"
    COMPOSER = "composer"
    CAST = "cast"
    PLOT = "plot"
    OVERVIEW = "overview"
    YEAR = "year"
    RUNTIME = "runtime"
    GENRES = "genres"
    FAMILY = "family"
    SERIES = "series"
    SIMILAR = "similar"
    FILMOGRAPHY = "filmography"


@dataclass(frozen=True)
class Question:
    kind: QuestionKind
    items: tuple[str, ...] = ()
    """Item ids the question is about, the subject first ("is Heat like The Town?": Heat, The Town)."""
    person: tuple[str, str] | None = None
    """(node id, name) for "what else did <person> make?"."""


@dataclass(frozen=True)
class QuestionWords:
    openers: frozenset[str]
    filler: frozenset[str]
    kinds: tuple[tuple[tuple[str, ...], QuestionKind], ...]
    """(phrase words, kind), longest phrase first."""


@lru_cache(maxsize=4)
def question_words(assets_dir: Path) -> QuestionWords:
    data = load_section(Path(assets_dir) / LEXICON_FILE, "questions")
    phrases = {tuple(normalize_phrase(p).split()): QuestionKind(kind)
               for kind, entries in data["kinds"].items() for p in entries}
    return QuestionWords(frozenset(data["openers"]), frozenset(data["filler"]),
                         tuple(sorted(phrases.items(), key=lambda kv: -len(kv[0]))))


def find_kind(text: str, mentions: list[Mention], has_pronoun: bool, words: QuestionWords) -> QuestionKind | None:
    """The kind of question a cleaned message asks, or None when it asks none."""
    kept = []
    cursor = 0
    for mention in sorted(mentions, key=lambda m: m.start):
        if mention.start >= cursor:
            kept.append(text[cursor:mention.start])
            cursor = mention.end
    kept.append(text[cursor:])
    tokens = [t.group().lower() for part in kept for t in TOKEN.finditer(part)]
    all_words = [t for t in tokens if t[:1].isalnum()]
    if not all_words or not ("?" in tokens or all_words[0] in words.openers):
        return None
    content = [t for t in all_words if t not in words.filler]
    for phrase, kind in words.kinds:
        for start in range(len(content) - len(phrase) + 1):
            if tuple(content[start:start + len(phrase)]) == phrase:
                if kind == QuestionKind.FILMOGRAPHY:
                    # "what else?" alone asks for more picks, not about someone's films
                    return kind if any(m.kind == "person" for m in mentions) else None
                names_film = any(m.kind == "item" for m in mentions) or has_pronoun
                if not names_film and (len(content) - len(phrase) > BARE_QUESTION_WORDS or mentions):
                    return None
                return kind
    return None


def question_about(kind: QuestionKind, items: list[str], people: list[Mention],
                   last_item: tuple[str, str] | None) -> Question | None:
    """The question with what it is about: the items named (or referred to) in text order, else the film last
    talked about; for "is it like X?" the film last talked about is the subject. None when it is about nothing
    known (the caller asks which film)."""
    last = [last_item[0]] if last_item else []
    if kind == QuestionKind.FILMOGRAPHY:
        return Question(kind, person=(people[0].node_id, people[0].label)) if people else None
    if kind == QuestionKind.SIMILAR:
        pair = items[:2] if len(items) >= 2 else last + [i for i in items if i not in last]
        if len(pair) >= 2:
            return Question(kind, tuple(pair[:2]))
        kind = QuestionKind.OVERVIEW  # "what is it like?"
    subject = items[:1] or last
    return Question(kind, tuple(subject)) if subject else None


def item_ids(mentions: list[Mention]) -> list[str]:
    """The item ids of item mentions, in text order, each once."""
    found = [item_id_of(m.node_id) for m in sorted(mentions, key=lambda m: m.start) if m.kind == "item"]
    return list(dict.fromkeys(i for i in found if i))
