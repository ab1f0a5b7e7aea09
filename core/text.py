"""Small text helpers used on both sides of a turn (understanding the message, writing the reply)."""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable

CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
"""Control characters and lone surrogates; tab and newline are not among them."""


def strip_control(text: str) -> str:
    """Text without control characters (tab and newline kept), Windows line ends made plain."""
    return CONTROL_CHARS.sub("", text.replace("\r\n", "\n"))


def join_words(words: Iterable[str]) -> str:
    """"a", "a and b", "a, b and c": repeated words are said once."""
    words = list(dict.fromkeys(words))
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def fold_accents(text: str) -> str:
    """Text without accents ("Amélie" -> "Amelie"): every key that matches titles, names and words across sources
    folds them the same way."""
    if text.isascii():
        return text
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
