"""Convert any CSV/TSV or JSONL catalog (movies, books, music, products) into the Item schema.

A mapping names, for each of our fields, the source column that holds it (``{"title": "name"}``); fields left
out of the mapping are read from a column of the same name when there is one. Only ``title`` is required.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import re
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.catalog import CatalogError, normalize_title, write_catalog
from core.item import Item
from core.stats import share_at_or_below

log = logging.getLogger(__name__)

FIELDS = ("id", "title", "year", "genres", "description", "director", "stars", "writer", "composer",
          "keywords", "aliases", "popularity")
"""Fields a mapping may name; list-valued ones accept a JSON list or a string separated by "|" (else ",")."""

PEOPLE_ROLES = {"director": "director", "stars": "star", "writer": "writer", "composer": "composer"}

FALLBACK_ENCODINGS = ("cp1252", "latin-1")
"""Tried in order when a source is not UTF-8 (spreadsheet exports are often Windows-1252; Latin-1 decodes any
byte, so the last one always succeeds)."""


def _read_text(path: Path) -> str:
    """The file's text: UTF-8 (with or without BOM), else the first fallback encoding that decodes it, with a
    warning naming the file and the first line that is not UTF-8."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise CatalogError(f"cannot read catalog source {path} ({exc}): check the file, or give an uncompressed "
                           "copy") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        for encoding in FALLBACK_ENCODINGS:
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                continue
            log.warning("%s is not UTF-8 (first at line %d, byte 0x%02x): read it as %s; if names look wrong, "
                        "save it as UTF-8 and ingest again", path, line, data[exc.start], encoding)
            return text
        raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _read_csv(text: str, path: Path, delimiter: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows of a CSV/TSV. Strict parsing: a quote that is never closed would otherwise swallow the following rows
    into one field (one merged item); it is reported with the line where that field starts."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[list[str]] = []
    start = 1
    try:
        for record in reader:
            records.append(record)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise CatalogError(f"{path} line {start}: a quoted field starting there is not closed properly ({exc}, "
                           f"found at line {reader.line_num}): add the missing quote, or double a quote inside a "
                           "field (\"\"), then ingest again") from exc
    columns = records[0] if records else []
    return columns, [dict(zip(columns, record)) for record in records[1:] if record]


def _format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    kind = suffixes[-1] if suffixes else ""
    if kind in {".csv", ".tsv"}:
        return kind[1:]
    if kind in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    raise CatalogError(f"{path}: unknown catalog format {kind or '(no extension)'}; use .csv, .tsv or .jsonl")


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """(column names, rows). JSONL columns are the keys seen in any record."""
    kind = _format(path)
    text = _read_text(path)
    if kind in {"csv", "tsv"}:
        return _read_csv(text, path, "\t" if kind == "tsv" else ",")
    rows = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CatalogError(f"{path} line {line_no} is not valid JSON ({exc})") from exc
            if not isinstance(record, dict):
                raise CatalogError(f"{path} line {line_no} is not a JSON object")
            rows.append(record)
    columns = list(dict.fromkeys(key for record in rows for key in record))
    return columns, rows


def _as_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        parts = [str(v) for v in value]
    else:
        text = str(value)
        parts = text.split("|") if "|" in text else text.split(",")
    return tuple(dict.fromkeys(p.strip() for p in parts if p and p.strip()))


def _as_year(value: Any) -> int | None:
    match = re.search(r"\b(\d{4})\b", str(value or ""))
    return int(match.group(1)) if match else None


def _as_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN counts as missing


def _stable_id(title: str, year: int | None) -> str:
    digest = hashlib.sha1(f"{normalize_title(title)}|{year or ''}".encode()).hexdigest()[:12]
    return f"h{digest}"


def _resolve_mapping(columns: list[str], mapping: dict[str, str], src: Path) -> dict[str, str]:
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise CatalogError(f"unknown field(s) {', '.join(unknown)} in the mapping; fields are {', '.join(FIELDS)}")
    missing = {name: column for name, column in mapping.items() if column not in columns}
    if missing:
        wanted = ", ".join(f"{name}={column!r}" for name, column in missing.items())
        raise CatalogError(
            f"{src} has no column for {wanted}; its columns are: {', '.join(columns) or '(none)'} "
            f"(fix it with --map FIELD=COLUMN)"
        )
    resolved = {name: name for name in FIELDS if name in columns}
    resolved.update(mapping)
    if "title" not in resolved:
        raise CatalogError(
            f"{src} has no 'title' column; name the column that holds titles with --map title=COLUMN "
            f"(its columns are: {', '.join(columns) or '(none)'})"
        )
    return resolved


def convert_catalog(src: Path, out: Path, mapping: dict[str, str]) -> int:
    """Read src (CSV/TSV/JSONL, optionally gzipped) through mapping, write out as catalog JSONL; return the count.

    Ids come from the id column when mapped, else a hash of title + year (stable across re-imports). A raw
    popularity column (counts, scores) becomes a percentile in 0..1, as the Item schema expects.
    """
    src = Path(src)
    if not src.is_file():
        raise CatalogError(f"catalog source {src} does not exist")
    columns, rows = _read_rows(src)
    fields_to_columns = _resolve_mapping(columns, mapping, src)

    items: list[Item] = []
    raw_popularity: list[float | None] = []
    seen: set[str] = set()
    skipped = 0
    for row in rows:
        value = {name: row.get(column) for name, column in fields_to_columns.items()}
        title = str(value.get("title") or "").strip()
        if not title:
            skipped += 1
            continue
        year = _as_year(value.get("year"))
        item_id = str(value["id"]).strip() if value.get("id") not in (None, "") else _stable_id(title, year)
        if item_id in seen:
            skipped += 1
            continue
        seen.add(item_id)
        description = str(value.get("description") or "").strip()
        people = {role: _as_list(value.get(name)) for name, role in PEOPLE_ROLES.items()}
        items.append(Item(
            item_id=item_id,
            title=title,
            year=year,
            aliases=_as_list(value.get("aliases")),
            genres=_as_list(value.get("genres")),
            people={role: names for role, names in people.items() if names},
            keywords=_as_list(value.get("keywords")),
            description=description,
            has_overview=bool(description),
            sources={"import": f"{src.name}:{item_id}"},
        ))
        raw_popularity.append(_as_float(value.get("popularity")))
    if skipped:
        log.warning("%s: skipped %d rows without a title or with a repeated id", src, skipped)
    if not items:
        raise CatalogError(f"{src} has no rows with a title (column {fields_to_columns['title']!r})")

    items = _with_percentile_popularity(items, raw_popularity)
    write_catalog(items, Path(out))
    log.info("converted %d items from %s into %s", len(items), src, out)
    return len(items)


def _with_percentile_popularity(items: list[Item], raw: list[float | None]) -> list[Item]:
    known = [v for v in raw if v is not None]
    if not known:
        return items
    share = share_at_or_below(known)
    return [replace(item, popularity=0.0 if v is None else round(share(v), 4)) for item, v in zip(items, raw)]
