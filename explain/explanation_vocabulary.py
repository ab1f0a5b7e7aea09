"""The word lists behind reasons (assets/explanation_vocabulary.json) and the word forms both sides of the support
check compare: what a line may say without a fact (function and generic words), which keywords are too weak to
lead with, genre nouns, series words. Read by the evidence, the content plan and the support check alike."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from core.errors import FixableError
from core.settings import REPO_ROOT
from core.text import fold_accents
from core.vocabulary import UNINFORMATIVE_KEYWORDS

VOCABULARY_PATH = REPO_ROOT / "assets" / "explanation_vocabulary.json"


def fold_word(text: str) -> str:
    """Lower case, accents and curly apostrophes folded: the form words are compared in."""
    return fold_accents(text.replace("’", "'")).lower()


@dataclass(frozen=True)
class Vocabulary:
    """assets/explanation_vocabulary.json, loaded once."""

    function_words: frozenset[str]
    generic_words: frozenset[str]
    genre_words: dict[str, tuple[str, ...]]
    genre_nouns: dict[str, str]
    connectives: tuple[str, ...]
    keyword_blocklist: frozenset[str]
    keyword_blocklist_prefixes: tuple[str, ...]
    keyword_blocklist_suffixes: tuple[str, ...]
    film_type_keywords: frozenset[str]
    series_keywords: frozenset[str]
    subordinate_openers: frozenset[str]
    clause_openers: frozenset[str]
    pronouns: frozenset[str]
    dangling_words: frozenset[str]

    def weak_keyword(self, keyword: str) -> bool:
        """A production tag or a too-general theme: true, but not worth leading a line with."""
        keyword = keyword.lower()
        return keyword in self.keyword_blocklist or keyword.startswith(self.keyword_blocklist_prefixes) \
            or keyword.endswith(self.keyword_blocklist_suffixes)

    def genre_noun(self, genre: str) -> str:
        return self.genre_nouns.get(genre, f"{genre.lower()} film")

    @cached_property
    def always_supported(self) -> frozenset[str]:
        return frozenset(stem(w) for w in self.function_words | self.generic_words)


@lru_cache(maxsize=4)
def load_vocabulary(path: Path = VOCABULARY_PATH) -> Vocabulary:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return Vocabulary(
            function_words=frozenset(w.lower() for w in data["function_words"]),
            generic_words=frozenset(w.lower() for w in data["generic_words"]),
            genre_words={g: tuple(w.lower() for w in ws) for g, ws in data["genre_words"].items()},
            genre_nouns={g: str(n) for g, n in data["genre_nouns"].items()},
            connectives=tuple(data["connectives"]),
            # Production and generic keywords (core.vocabulary) plus the ones too broad to be a reason.
            keyword_blocklist=UNINFORMATIVE_KEYWORDS | frozenset(k.lower() for k in data["keyword_blocklist"]),
            keyword_blocklist_prefixes=tuple(k.lower() for k in data["keyword_blocklist_prefixes"]),
            keyword_blocklist_suffixes=tuple(k.lower() for k in data["keyword_blocklist_suffixes"]),
            film_type_keywords=frozenset(k.lower() for k in data["film_type_keywords"]),
            series_keywords=frozenset(k.lower() for k in data["series_keywords"]),
            subordinate_openers=frozenset(w.lower() for w in data["subordinate_openers"]),
            clause_openers=frozenset(w.lower() for w in data["clause_openers"]),
            pronouns=frozenset(w.lower() for w in data["pronouns"]),
            dangling_words=frozenset(w.lower() for w in data["dangling_words"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FixableError(f"explanation vocabulary {path} is missing or unreadable ({exc}): restore it with "
                           f"`git checkout -- assets/explanation_vocabulary.json`") from exc


def stem(word: str) -> str:
    """A light suffix strip so that "thrillers"/"thriller", "directed"/"directs" meet; both sides use it."""
    word = fold_word(word)
    word = re.sub(r"'s$", "", word)
    for suffix in ("ies", "es", "s", "ed", "ing"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word
