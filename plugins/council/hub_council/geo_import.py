"""Importing the ONS Postcode Directory (ONSPD) CSV into a postcode -> authority SQLite file.

The ONSPD is about 2.7 million rows and over a gigabyte with ~50 columns; only
``pcds`` (the postcode) and ``oslaua`` (the local authority's GSS code) are
kept. The file is read line by line and written in batches of ``BATCH_ROWS``,
so memory stays bounded whatever the file's size. The new table is built in a
temporary file beside the target and swapped in with one atomic rename: a hub
looking postcodes up meanwhile sees the old directory or the new one, never a
half-imported one.
"""

from __future__ import annotations

import csv
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from hub_council.postcodes import normalise_postcode

BATCH_ROWS = 20_000
REQUIRED_COLUMNS = ("pcds", "oslaua")
SCHEMA = """
CREATE TABLE postcode (pc TEXT PRIMARY KEY, gss TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE import_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class GeoImportError(ValueError):
    """The file cannot be imported; ``str(exc)`` says why (missing column, line number...)."""


@dataclass
class ImportReport:
    """What an import did."""

    rows_read: int
    postcodes: int
    skipped: int
    target: Path


def _lines(handle: BinaryIO, progress: Callable[[int], None]) -> Iterator[str]:
    """Decoded lines of ``handle``, reporting bytes consumed to ``progress`` every so often."""
    pending = 0
    for raw in handle:
        pending += len(raw)
        if pending >= 1 << 20:
            progress(pending)
            pending = 0
        yield raw.decode("utf-8-sig", errors="replace")
    if pending:
        progress(pending)


def _columns(header: list[str]) -> tuple[int, int]:
    names = [name.strip().lower() for name in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise GeoImportError(
            f"the file has no {' or '.join(missing)} column (its header starts {', '.join(header[:5])}); "
            "give the ONS Postcode Directory CSV, whose columns include pcds and oslaua"
        )
    return names.index("pcds"), names.index("oslaua")


def import_onspd(
    source: Path, target: Path, *, progress: Callable[[int], None] = lambda n: None, batch_rows: int = BATCH_ROWS
) -> ImportReport:
    """Load ``source`` (ONSPD CSV) into ``target`` (SQLite), replacing it atomically; return counts.

    Rows without a postcode shape or without an authority code (some terminated
    postcodes) are skipped and counted. ``progress(n)`` is called with the bytes
    read since its last call (for a progress bar over the file size).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    conn = sqlite3.connect(temporary, isolation_level=None)
    rows_read = skipped = 0
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-16000")  # 16 MB: bounded whatever the file size
        conn.executescript(SCHEMA)
        conn.execute("BEGIN")
        with source.open("rb") as handle:
            reader = csv.reader(_lines(handle, progress))
            header = next(reader, None)
            if header is None:
                raise GeoImportError(f"{source} is empty")
            pcds, oslaua = _columns(header)
            batch: list[tuple[str, str]] = []
            for row in reader:
                rows_read += 1
                postcode = normalise_postcode(row[pcds]) if len(row) > max(pcds, oslaua) else None
                code = row[oslaua].strip() if postcode else ""
                if not postcode or not code:
                    skipped += 1
                    continue
                batch.append((postcode, code))
                if len(batch) >= batch_rows:
                    conn.executemany("INSERT OR REPLACE INTO postcode VALUES (?, ?)", batch)
                    batch.clear()
            conn.executemany("INSERT OR REPLACE INTO postcode VALUES (?, ?)", batch)
        conn.execute("INSERT INTO import_info VALUES ('source', ?), ('rows_read', ?)", (source.name, str(rows_read)))
        conn.execute("COMMIT")
        postcodes = int(conn.execute("SELECT count(*) FROM postcode").fetchone()[0])
    except BaseException:
        conn.close()
        temporary.unlink(missing_ok=True)
        raise
    conn.close()
    os.chmod(temporary, 0o644)
    os.replace(temporary, target)
    return ImportReport(rows_read, postcodes, skipped, target)
