"""What a user wants, as data shared by the turn's steps: a stated like or dislike (`Preference`), the turn's
limits (`Constraints`), and what one turn teaches the profile store (`ProfileUpdate`). The NLU produces them, the
store keeps them, the candidate filter reads them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preference:
    node_id: str
    kind: str  # item | person | genre | keyword | decade | mood
    label: str
    polarity: int  # +1 like, -1 dislike
    strength: float = 1.0


@dataclass
class Constraints:
    year_min: int | None = None
    year_max: int | None = None
    include_genres: list[str] = field(default_factory=list)
    exclude_genres: list[str] = field(default_factory=list)
    moods: list[str] = field(default_factory=list)
    """Mood words as said ("light", "dark", "funny"); nlu maps them to genres/keywords in include/exclude."""
    runtime_min: int | None = None
    runtime_max: int | None = None
    """Minutes ("something short" -> runtime_max)."""
    languages: list[str] = field(default_factory=list)
    """Original languages asked for (ISO 639-1 codes); empty = any."""
    exclude_languages: list[str] = field(default_factory=list)
    """Original languages ruled out ("a foreign-language film" excludes "en")."""
    family: bool | None = None
    """True: something the kids can watch (a hard filter, see recommender.audience); False: said this turn that
    it is grown-ups only again; None: not said (an earlier turn's choice carries over)."""

    @property
    def is_empty(self) -> bool:
        return not (self.year_min or self.year_max or self.include_genres or self.exclude_genres or self.moods
                    or self.family or self.runtime_min or self.runtime_max or self.languages
                    or self.exclude_languages)


@dataclass(frozen=True)
class ProfileUpdate:
    """What one turn teaches the profile store (ProfileStore.record_turn), whatever understood the message."""

    preferences: tuple[Preference, ...] = ()
    seen: tuple[str, ...] = ()
    """Item ids the user says they have already seen."""
    novelty: str | None = None
    """"familiar" or "new" if the user said which they want."""
