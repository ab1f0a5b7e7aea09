"""Who is watching: the "family" constraint ("with the kids", "something my 8-year-old can watch").

The rules live in assets/family.json: the phrases that turn it on or off, the genres never shown under it, the
catalog keywords that mark a film as adult (the catalog carries no certification, so TMDB keywords are the
signal it has) and the genres to prefer. Under the constraint an item must have known genres, none excluded,
and no adult keyword; Family and Animation items are ranked up.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.item import Item

FAMILY_FILE = "family.json"


@dataclass(frozen=True)
class FamilyRules:
    on: tuple[re.Pattern, ...]
    off: tuple[re.Pattern, ...]
    exclude_genres: frozenset[str]
    adult_keywords: frozenset[str]
    prefer_genres: frozenset[str]
    prefer_factor: float
    """Score multiplier for a suitable item in one of prefer_genres."""

    def said(self, text: str) -> tuple[bool, tuple[int, int]] | None:
        """(True, span) when the message asks for something the kids can watch, (False, span) when it lifts
        that ("grown-ups only now"), None when it says neither; span is where in the text it was said.
        Lifting wins when both match."""
        for value, patterns in ((False, self.off), (True, self.on)):
            for pattern in patterns:
                match = pattern.search(text)
                if match:
                    return value, match.span()
        return None

    def suitable(self, item: Item) -> bool:
        """Known genres, none of them excluded, and no keyword that marks the film as adult."""
        return bool(item.genres) and not (set(item.genres) & self.exclude_genres) \
            and not (set(item.keywords) & self.adult_keywords)

    def factor(self, item: Item) -> float:
        return self.prefer_factor if set(item.genres) & self.prefer_genres else 1.0


@lru_cache(maxsize=4)
def load_family_rules(assets_dir: Path) -> FamilyRules:
    path = Path(assets_dir) / FAMILY_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return FamilyRules(
            on=tuple(re.compile(p, re.IGNORECASE) for p in data["on_phrases"]),
            off=tuple(re.compile(p, re.IGNORECASE) for p in data["off_phrases"]),
            exclude_genres=frozenset(data["exclude_genres"]),
            adult_keywords=frozenset(k.lower() for k in data["adult_keywords"]),
            prefer_genres=frozenset(data["prefer_genres"]),
            prefer_factor=float(data["prefer_factor"]),
        )
    except (OSError, ValueError, KeyError, TypeError, re.error) as error:
        raise FileNotFoundError(
            f"cannot read the family rules {path} ({error}); restore assets/{FAMILY_FILE} from the repository "
            f"or point LINER_ASSETS_DIR at a folder that has it"
        ) from error
