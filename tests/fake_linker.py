"""A tiny entity linker for tests of message understanding: exact names, case-insensitive, the longest first,
never overlapping (titles are capitalized on purpose in the tests, genres lowercase)."""

from __future__ import annotations

import re
from typing import Callable

from conversation.signals import Mention


def exact_linker(nodes: dict[str, tuple[str, str, str]]) -> Callable[[str], list[Mention]]:
    """A linker over {name: (node id, kind, label)}."""
    pattern = re.compile("|".join(re.escape(n) for n in sorted(nodes, key=len, reverse=True)), re.IGNORECASE)
    by_key = {name.lower(): node for name, node in nodes.items()}
    return lambda text: [Mention(*by_key[m.group().lower()], m.group(), m.start(), m.end())
                         for m in pattern.finditer(text)]
