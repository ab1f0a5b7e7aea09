"""Files: reading text that may be gzipped, writing reproducible gzip, and writing so that a crash or a full disk
never leaves a half-written file in place."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import IO, Callable, Iterable


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp) on a temporary file beside path, then rename it over path (atomic on one filesystem)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    """Write text (UTF-8) to path atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def open_text(path: Path) -> IO[str]:
    """Open a UTF-8 text file for reading, gunzipping it on the fly when its name ends in .gz."""
    path = Path(path)
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def write_gzip(path: Path, chunks: Iterable[bytes]) -> None:
    """Write the chunks gzipped, one after another (a large catalog never sits in memory whole), with no timestamp
    in the header (mtime=0), so a rebuild of the same data gives the same bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for chunk in chunks:
            gz.write(chunk)
