"""What a message points at among the films on the cards: "the second one", "the last pick", "the first two",
"number 3", "the Nolan one", or a card's title as typed ("heat" for Heat on the cards).

Each reference becomes an item mention over its words, so the rest of the reading treats it as if the title had
been typed: "I've seen the first two" marks both seen, "why the third?" explains it, "who directed the second
one?" asks about it. A reference that fits several cards, or a card that was not shown, gets a short question
back instead of a guess. Pronouns ("it", "that one") are not read here: they refer to the film last talked about
(conversation.reading.resolve_pronoun).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from conversation.lexicon import LEXICON_FILE, load_section
from core.ids import item_node
from core.mention import Mention
from knowledge_graph.aliases import tokenize

_NAME_WORDS = 3
"""At most this many words name a card's person or title in "the <name> one"."""


@dataclass(frozen=True)
class ShownFilm:
    """A film on the cards the user is looking at, in card order."""

    item_id: str
    label: str
    title: str
    people: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReferenceWords:
    """The "references" section of assets/nlu_lexicon.json."""

    ordinals: dict[str, int]
    counts: dict[str, int]
    numbered: re.Pattern
    """"number 2", "#2", "card 3": a number word, then the card's number."""
    nouns: frozenset[str]
    followers: frozenset[str]
    not_a_name: frozenset[str]
    clarify_which: str
    clarify_count: str
    clarify_none: str


@lru_cache(maxsize=4)
def reference_words(assets_dir: Path) -> ReferenceWords:
    data = load_section(Path(assets_dir) / LEXICON_FILE, "references")
    number_words = "|".join(re.escape(w) for w in sorted(data["number_words"], key=len, reverse=True))
    numbered = re.compile(rf"(?<!\w)(?:{number_words})\s*([1-9])\b", re.IGNORECASE)
    return ReferenceWords({k: int(v) for k, v in data["ordinals"].items()},
                          {k: int(v) for k, v in data["counts"].items()}, numbered, frozenset(data["nouns"]),
                          frozenset(data["followers"]), frozenset(data["not_a_name"]), data["clarify_which"],
                          data["clarify_count"], data["clarify_none"])


@dataclass
class References:
    mentions: list[Mention] = field(default_factory=list)
    """Item mentions for the references found (several over one span for "the first two")."""
    clarify: str | None = None
    """A short question back when a reference fits several cards or none that was shown."""
    options: list[str] = field(default_factory=list)
    """The item ids a clarifying question offers."""


def find_references(text: str, shown: list[ShownFilm], linked: list[Mention], words: ReferenceWords) -> References:
    """The references of a cleaned message to the shown films; linked: the linker's mentions (a card's title
    the linker tied to a namesake is the card)."""
    found = References()
    if not shown:
        return found
    tokens, starts, ends = tokenize(text)
    taken: list[tuple[int, int]] = []

    def add(films: list[ShownFilm], start: int, end: int) -> None:
        surface = text[start:end]
        found.mentions += [Mention(item_node(f.item_id), "item", f.label, surface, start, end) for f in films]
        taken.append((start, end))

    def ask(question: str, options: list[ShownFilm]) -> None:
        if found.clarify is None:
            found.clarify, found.options = question, [f.item_id for f in options]

    for match in words.numbered.finditer(text):
        _pick(shown, int(match.group(1)), 1, match.start(), match.end(), add, ask, words)
    i = 0
    while i < len(tokens):
        if tokens[i] != "the" or i + 1 >= len(tokens) or _inside(starts[i], taken):
            i += 1
            continue
        end = _ordinal(tokens, starts, ends, text, i + 1, words)
        if end is not None:
            position = words.ordinals[tokens[i + 1]]
            count = words.counts.get(tokens[i + 2], 1) if i + 2 < end else 1
            _pick(shown, position, count, starts[i], ends[end - 1], add, ask, words)
            i = end
            continue
        end, films = _named(tokens, i + 1, shown, words)
        if end is not None:
            if len(films) == 1:
                add(films, starts[i], ends[end - 1])
            elif films:
                ask(words.clarify_which.format(options=_options(films)), films)
            i = end
            continue
        i += 1
    _card_titles(text, tokens, starts, ends, shown, linked, taken, add)
    return found


def _inside(position: int, taken: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in taken)


def _ordinal(tokens: list[str], starts: list[int], ends: list[int], text: str, at: int,
             words: ReferenceWords) -> int | None:
    """The end token of "first [two] [one]" starting at token `at`, or None when it is not a reference ("the
    first time", "the last scene")."""
    if tokens[at] not in words.ordinals:
        return None
    end = at + 1
    if end < len(tokens) and tokens[end] in words.counts and tokens[end] not in words.nouns:
        end += 1
    if end < len(tokens) and tokens[end] in words.nouns:
        return end + 1
    if end == len(tokens) or tokens[end] in words.followers:
        return end
    # Punctuation after the ordinal ends the reference: "the third, please".
    return end if text[ends[end - 1]:starts[end]].strip() else None


def _named(tokens: list[str], at: int, shown: list[ShownFilm],
           words: ReferenceWords) -> tuple[int | None, list[ShownFilm]]:
    """"the Nolan one", "the Batman movie": (end token, the cards whose person or title those words name)."""
    for n in range(1, _NAME_WORDS + 1):
        noun = at + n
        if noun >= len(tokens) or tokens[noun] not in words.nouns:
            continue
        name = tuple(t[:-1] if t.endswith("s") and n == 1 and len(t) > 3 else t for t in tokens[at:noun])
        if any(t in words.not_a_name or t in words.ordinals for t in name):
            return None, []
        films = [f for f in shown if _names(f, name) or _names(f, tuple(tokens[at:noun]))]
        return (noun + 1, films) if films else (None, [])
    return None, []


def _names(film: ShownFilm, name: tuple[str, ...]) -> bool:
    """The words are one of the film's people (whole name or its last words) or a run of its title's words."""
    for person in film.people:
        key = tuple(tokenize(person)[0])
        if key == name or (len(key) > len(name) and key[-len(name):] == name):
            return True
    title = tuple(tokenize(film.title)[0])
    return any(title[k:k + len(name)] == name for k in range(len(title) - len(name) + 1))


_Add = Callable[[list[ShownFilm], int, int], None]
"""Records a reference: the films, and the span of the message that names them."""
_Ask = Callable[[str, list[ShownFilm]], None]
"""Records a question back, with the films it offers."""


def _pick(shown: list[ShownFilm], position: int, count: int, start: int, end: int, add: _Add, ask: _Ask,
          words: ReferenceWords) -> None:
    """The cards at an ordinal position (1-based; -1 = the last), `count` of them ("the first two")."""
    first = len(shown) - count if position < 0 else position - 1
    if first < 0 or first + count > len(shown):
        ask(words.clarify_count.format(n=len(shown)), shown)
        return
    add(shown[first:first + count], start, end)


def _card_titles(text: str, tokens: list[str], starts: list[int], ends: list[int], shown: list[ShownFilm],
                 linked: list[Mention], taken: list[tuple[int, int]], add: _Add) -> None:
    """A card's title typed as is, even where the linker would not take it alone ("who directed heat?") or took
    it for a namesake of the card."""
    for film in shown:
        title = tuple(tokenize(film.title)[0])
        if sum(map(len, title)) < 4:
            continue  # "Up", "Her": too likely an ordinary word
        for k in range(len(tokens) - len(title) + 1):
            if tuple(tokens[k:k + len(title)]) != title or _inside(starts[k], taken):
                continue
            start, end = starts[k], ends[k + len(title) - 1]
            other = [m for m in linked if m.start < end and start < m.end]
            if any(m.kind == "item" and (m.start, m.end) != (start, end) for m in other):
                continue  # the linker read a longer title here ("Heat 2")
            add([film], start, end)


def _options(films: list[ShownFilm]) -> str:
    labels = [f.label for f in films]
    return ", ".join(labels[:-1]) + " or " + labels[-1]
