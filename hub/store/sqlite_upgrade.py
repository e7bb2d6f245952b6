"""``hub db status`` and ``hub db upgrade`` for the SQLite store (``hub.store.schema``)."""

from __future__ import annotations

import sqlite3

from hub.bodies import CodecRegistry, NoKeysCodec
from hub.store.sqlite import SQLiteStore
from hub.store.sqlite_schema import MIGRATIONS
from hub.store.url import sqlite_path

LATEST = max(version for version, _ in MIGRATIONS)


def schema_status(url: str) -> tuple[int, int]:
    """(applied version, latest version) of the file ``url`` names, read-only; a missing file is version 0."""
    path = sqlite_path(url)
    if not path.exists():
        return 0, LATEST
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name='schema_migrations'").fetchone() is None:
            return 0, LATEST
        return int(conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]), LATEST
    finally:
        conn.close()


def upgrade_schema(url: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Apply the pending migrations (opening the store does); (version, latest) before and after."""
    before = schema_status(url)
    SQLiteStore(sqlite_path(url), CodecRegistry(NoKeysCodec())).close()
    return before, schema_status(url)
