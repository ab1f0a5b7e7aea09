"""Moods a user may ask for ("something light", "nothing too scary"), from assets/moods.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from conversation.message_text import normalize_phrase

FAMILY_MOOD = "family"
"""The mood of assets/moods.json whose genre limits the family flag replaces when it is lifted."""


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
            name: Mood(name, tuple(normalize_phrase(w) for w in entry["words"]), tuple(entry["include"]),
                       tuple(entry["exclude"]), tuple(entry["keywords"]), tuple(entry["negated_exclude"]),
                       bool(entry["praise"]))
            for name, entry in data["moods"].items()
        }
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise FileNotFoundError(
            f"cannot read the mood table {path} ({error}); restore assets/moods.json from the repository "
            f"or point LINER_ASSETS_DIR at a folder that has it"
        ) from error
