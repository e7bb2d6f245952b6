"""Turn a SQLite file into write-ahead-log mode, however many processes open it at once.

For the hub's own store and for a plugin keeping a SQLite file of its own (the hostels' directory and offer book).
Changing a new file's journal mode needs its exclusive lock, and SQLite may answer ``database is locked`` at once,
without waiting through the busy timeout, when another connection is changing it at the same moment (two
processes starting together on a new file). ``use_wal`` tries again until ``timeout`` seconds have passed.
"""

from __future__ import annotations

import sqlite3
import time

RETRY_SECONDS = 0.05


def use_wal(conn: sqlite3.Connection, timeout: float = 30.0) -> None:
    """Set ``journal_mode=WAL`` on ``conn``; raise the last ``sqlite3.OperationalError`` after ``timeout`` s.

    A read-only file not yet in WAL mode raises SQLite's own ``OperationalError``. Where SQLite cannot use WAL it
    keeps the mode it has and says nothing (an in-memory or temporary database; a VFS without shared memory, such
    as ``unix-none``; a file opened ``immutable``): that is ``sqlite3.NotSupportedError`` naming the file and the
    mode kept, never a silent rollback journal under which readers and the writer would block each other. The
    caller closes ``conn`` when this raises.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            mode = str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(RETRY_SECONDS)
    if mode != "wal":
        file = next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "")
        raise sqlite3.NotSupportedError(f"SQLite kept journal mode {mode!r} for {file or 'an in-memory database'} "
                                        "instead of write-ahead logging (WAL): give it a writable file on a "
                                        "local disk, opened with a VFS that has shared memory")  # fmt: skip
