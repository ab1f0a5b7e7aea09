"""The catalog of core.item.Item records: loading (JSONL or gzipped JSONL), writing and lookups."""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import re
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import langcodes

from core.errors import FixableError
from core.files import open_text, write_gzip
from core.item import Item
from core.text import fold_accents

log = logging.getLogger(__name__)


SOURCE_ID_PREFIXES = {"movielens": "ml", "redial": "rd"}
"""Catalog ids built from a source record's id ("ml6", "rd199038"). An item's `sources` value lists every record
of that source merged into it, space-separated, and `Catalog.get` resolves all of their ids to the item."""


def language_name(code: str | None) -> str | None:
    """"fr" -> "French"; None for no code or one langcodes does not know."""
    if not code:
        return None
    name = langcodes.Language.get(code).display_name()
    return None if name.startswith("Unknown language") else name


class CatalogError(FixableError):
    """The catalog file is missing or unreadable; the message names the file and the fix."""


_ARTICLE_SUFFIX = re.compile(r"^(.*), (the|a|an|la|le|les|il|el|der|die|das|l')$", re.IGNORECASE)
"""A title filed under its article, as MovieLens and library lists write them: "Matrix, The"."""


def article_first(title: str) -> str:
    """The article back where it is said: "Matrix, The" -> "The Matrix", "Ours, L'" -> "L'Ours"."""
    title = title.strip()
    match = _ARTICLE_SUFFIX.match(title)
    if match is None:
        return title
    article, rest = match.group(2), match.group(1)
    return f"{article}{rest}" if article.endswith("'") else f"{article} {rest}"


def normalize_title(text: str) -> str:
    """Case-, accent- and punctuation-insensitive key for titles ("Matrix, The" == "the matrix")."""
    text = article_first(fold_accents(text)).lower().replace("&", " and ")
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


_TITLE_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)\s*$")


def split_title_year(text: str) -> tuple[str, int | None]:
    """"Heat (1995)" -> ("Heat", 1995); a title without a year keeps None."""
    text = re.sub(r"\s+", " ", text).strip()
    match = _TITLE_YEAR.match(text)
    if match:
        return match.group(1).strip(), int(match.group(2))
    return text, None


class ItemsById(Mapping[str, Item]):
    """Items by id, read through the catalog's one id -> row dict (Catalog.index_of) rather than a second dict."""

    __slots__ = ("_items", "_rows")

    def __init__(self, items: list[Item], rows: dict[str, int]):
        self._items = items
        self._rows = rows

    def __getitem__(self, item_id: str) -> Item:
        return self._items[self._rows[item_id]]

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


class Catalog:
    """All items, by id, with title lookups."""

    def __init__(self, items: list[Item], source: Path | None = None):
        if not items:
            raise CatalogError(f"catalog {source or '(in memory)'} has no items")
        self.items = items
        self.source = source
        self.index_of = {item.item_id: i for i, item in enumerate(items)}
        self.by_id = ItemsById(items, self.index_of)
        # Only the merged records' ids: an item's own id is found through index_of, and wins over a record id.
        self._merged: dict[str, Item] = {}
        for item in items:
            for source, prefix in SOURCE_ID_PREFIXES.items():
                for record in item.sources.get(source, "").split():
                    if (record_id := f"{prefix}{record}") not in self.index_of:
                        self._merged[record_id] = item
        # A tuple, not a list, per title: most titles name one item, and a tuple of one is the smaller.
        self._by_title: dict[str, tuple[Item, ...]] = {}
        for item in items:
            for name in {normalize_title(t) for t in (item.title, *item.aliases)}:
                self._by_title[name] = (*self._by_title.get(name, ()), item)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def get(self, item_id: str) -> Item | None:
        """The item by its id or by the id of a record merged into it ("rd199038" -> Heat (1995))."""
        row = self.index_of.get(item_id)
        return self._merged.get(item_id) if row is None else self.items[row]

    def find_title(self, title: str, year: int | None = None) -> Item | None:
        """Exact normalized title, with the year when given; without one, the most popular namesake."""
        matches = self._by_title.get(normalize_title(title), ())
        if year is not None:
            exact = [item for item in matches if item.year == year]
            if exact:
                return exact[0]
            near = [item for item in matches if item.year and abs(item.year - year) <= 1]
            return near[0] if near else None
        return max(matches, key=lambda item: item.popularity, default=None)

    def fingerprint(self) -> str:
        """Content hash: built artefacts (embeddings, index, graph) are keyed by it."""
        digest = hashlib.sha256()
        for item in self.items:
            digest.update(json.dumps(item.to_json(), sort_keys=True).encode())
        return digest.hexdigest()[:16]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off during a bulk load: the load makes millions of objects and no cycles, and the
    collector's passes over them would cost a tenth to a fifth of the load time (the more, the more objects the
    process already holds)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_catalog(path: Path) -> Catalog:
    path = Path(path)
    if not path.exists():
        raise CatalogError(
            f"catalog file {path} does not exist: set LINER_CATALOG_PATH to a catalog, "
            f"or rebuild the shipped one with `liner build-assets --shared ../shared/data`"
        )
    items = []
    try:
        with _collector_paused(), open_text(path) as handle:
            for line_no, line in enumerate(handle, 1):
                if line.strip():
                    items.append(Item.from_json(json.loads(line)))
    # zlib.error: a gzip header followed by garbage; OSError covers a bad header, EOFError a truncated file.
    except (OSError, EOFError, zlib.error, json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
        raise CatalogError(
            f"catalog file {path} is corrupt ({exc.__class__.__name__}: {exc}): restore it with "
            f"`git checkout -- {path}` or rebuild it with `liner build-assets --shared ../shared/data`"
        ) from exc
    log.info("loaded %d items from %s", len(items), path)
    with _collector_paused():
        return Catalog(items, source=path)


def write_catalog(items: list[Item], path: Path) -> None:
    write_gzip(path, ((json.dumps(item.to_json(), ensure_ascii=False, sort_keys=True) + "\n").encode()
                      for item in items))
