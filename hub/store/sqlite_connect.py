"""The SQLite store's connections, its migrations and its appends to the audit chain (``hub.store.sqlite``).

A connection waits its turn to write (``busy_timeout``) rather than failing, in WAL mode with full durability;
migrations (``sqlite_schema.MIGRATIONS``) are applied one transaction each, re-checked under the write lock so
that processes starting together apply each once; the chain's hashing is ``hub.store.audit_chain``'s.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from hub.plugin_api.events import HubEvent
from hub.plugin_api.sqlite_wal import use_wal
from hub.store import sqlite_sql as sql
from hub.store.audit_chain import chain
from hub.store.sqlite_schema import MIGRATIONS

BUSY_TIMEOUT_MS = 30_000
CHAIN_HEAD_KEY = "audit_chain_head"


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the file at ``path``, set up as every connection of the store is (the module docstring)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        use_wal(conn, BUSY_TIMEOUT_MS / 1000)  # two processes opening a new file at once both get WAL mode
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA secure_delete=ON")  # shredded keys and bodies are overwritten, not left in free pages
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations; return the schema version now in force."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL)")
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    for version, ddl in MIGRATIONS:
        if version in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # re-check under the write lock: another process may have migrated meanwhile
            if conn.execute("SELECT 1 FROM schema_migrations WHERE version=?", (version,)).fetchone():
                conn.execute("COMMIT")
                continue
            for statement in statements(ddl):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return max(v for v, _ in MIGRATIONS)


def append_events(conn: sqlite3.Connection, events: list[HubEvent], scratch: dict[str, Any] | None = None) -> None:
    """Append events to the hash-chained audit log, inside the caller's write transaction.

    ``scratch`` (the writer's, emptied when a transaction begins or a job is rolled back) keeps the chain's
    head for the rest of the transaction, so that only its first append reads the head from the table.
    """
    if not events:
        return
    head = scratch.get(CHAIN_HEAD_KEY) if scratch is not None else None
    if head is None:
        row = conn.execute(sql.CHAIN_HEAD).fetchone()
        head = row[0] if row else None
    rows = chain(head, events)
    conn.executemany(sql.INSERT_EVENT, rows)
    if scratch is not None:
        scratch[CHAIN_HEAD_KEY] = rows[-1][-1]


def statements(ddl: str) -> list[str]:
    """``ddl``'s statements one by one: split at each ``;`` that ends a whole statement (a trigger's body holds
    several)."""
    out: list[str] = []
    pending = ""
    for piece in ddl.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                out.append(pending)
            pending = ""
    return out
