"""Checkpoints of the SQLite store's write-ahead log, off the writer's thread.

By default SQLite checkpoints in the commit that takes the log past 1,000 pages: that commit copies the logged
pages into the database file and syncs it before the writer can begin its next group, so every few hundred
messages one group waits for a checkpoint. The store's writer turns that off (``wal_autocheckpoint=0``) and a
``Checkpointer`` thread, with a connection of its own, runs a ``PASSIVE`` checkpoint every ``interval`` seconds
instead: it copies what is committed without waiting for or blocking the writer or any reader, and the writer
starts the log again from its beginning once everything in it has been copied and no reader still uses the old
pages (SQLite does that itself). A reader that keeps old pages in use for long makes the log grow meanwhile, as it
would with SQLite's own checkpoints; nothing here waits for readers, since a waiting checkpoint would hold back the
writer too (``hub db compact`` truncates the log when an operator asks).

A failed checkpoint is logged and tried again at the next turn: nothing is lost by a late checkpoint, the log only
holds more. Other processes on the same file (a ``hub worker``, the CLI) keep SQLite's own checkpoints.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

log = logging.getLogger("hub.store")

PASSIVE = "PRAGMA wal_checkpoint(PASSIVE)"


class Checkpointer:
    """A daemon thread checkpointing one SQLite file's log (module docstring) until ``close``."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], interval: float = 0.25) -> None:
        """``connect`` opens the thread's own connection, in the thread (again after a failure)."""
        self._connect = connect
        self.interval = interval
        self._stop = threading.Event()
        self._failing = False
        self.turns = 0
        """Checkpoints run so far (tests read it)."""
        self._thread = threading.Thread(target=self._run, name="hub-store-checkpoints", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread (after its current checkpoint, if any)."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self.interval):
                try:
                    if conn is None:
                        conn = self._connect()
                    self.checkpoint(conn)
                except sqlite3.Error as exc:
                    if conn is not None:
                        conn.close()
                    conn = None  # a full disk, say: tried again next turn, said once
                    if not self._failing:
                        log.warning("checkpoint of the store's log failed (%s); trying again every %g s",
                                    exc, self.interval)  # fmt: skip
                    self._failing = True
                else:
                    if self._failing:
                        log.warning("checkpoints of the store's log work again")
                    self._failing = False
        finally:
            if conn is not None:
                conn.close()

    def checkpoint(self, conn: sqlite3.Connection) -> tuple[int, int]:
        """One passive checkpoint on ``conn``; return the log's pages and how many of them are in the database."""
        _busy, logged, copied = conn.execute(PASSIVE).fetchone()
        self.turns += 1
        return logged, copied
