"""A chat message as text: cleaned and cut to length, then cut into words the way every lexicon phrase is cut."""

from __future__ import annotations

import re

TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[.!?;:,&]|[^\w\s'\"()\[\]{}<>\-_/\\*#~^|+=`@$%]")
"""A word (apostrophes inside kept), a punctuation mark that cuts clauses or lists, or a symbol such as an emoji."""

IGNORABLE = frozenset("\ufe0f\ufe0e\u200d")
"""Variation selectors and the zero-width joiner: parts of an emoji, never a word of their own."""

# Not core.text.CONTROL_CHARS: a chat message also loses the invisible formatting characters (soft hyphen,
# zero-width spaces, bidi marks and overrides, byte-order mark) that would split or disguise a word, and keeps
# the control characters that are whitespace (\x0b-\x0d, \x1c-\x1f), which the collapse below makes spaces so
# that the words either side stay apart.
_CONTROL = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x9f\u00ad\u061c\u180e\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]"
)
_SPACE = re.compile(r"\s+")
_QUOTE_MAP = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u00b4": "'", "`": "'",
                            "\u201c": '"', "\u201d": '"'})


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


def normalize_phrase(text: str) -> str:
    """A lexicon or mood phrase as the words a message would show it in: "Light-hearted" -> "light hearted"."""
    return " ".join(m.group().lower() for m in TOKEN.finditer(text.translate(_QUOTE_MAP).replace("-", " ")))
