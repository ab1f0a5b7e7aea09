"""A mention: a span of a message linked to a knowledge-graph node (what entity linking produces)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mention:
    """A span of the message linked to a knowledge-graph node."""

    node_id: str
    kind: str  # a core.vocabulary.Kind: item | person | genre | keyword | decade
    label: str
    surface: str
    start: int
    end: int
    score: float = 1.0
