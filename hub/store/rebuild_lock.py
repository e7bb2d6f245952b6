"""The lock that lets one process at a time run the blind index's rebuild, released the moment it dies.

Several processes may want to run the rebuild (``hub keys rebuild-index``, and every ``hub serve`` and
``hub worker`` that finds one left unfinished): the one holding this lock runs it, the others wait or
leave it. The lock belongs to the holding process's operating-system resources, so a process that is
killed (``kill -9``, a crash, a host that goes away) gives it up at once, with nothing to expire:

- PostgreSQL: a session advisory lock, per schema, on a connection of its own held while the lock is
  (the server frees it when that connection closes, which it does when the process dies; a host that
  vanishes is noticed within about 30 s, ``postgres_connect.LIVENESS``);
- SQLite: an exclusive ``flock`` on ``<database>.rebuild.lock`` beside the database file (the kernel
  frees it when the process's descriptors close).

The rebuild of the stored fingerprints under a new fingerprint key has a lock of its own (named after its
purpose; ``<database>.fingerprint-rebuild.lock`` on SQLite), so the two rebuilds may run side by side.

Holding the lock is about doing the work once, not about correctness: each batch locks the rebuild's
row (``hub.store.index_rebuild.batch_job``), so two processes that both ran batches would still move
every message once.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

_PG_TRY = "SELECT pg_try_advisory_lock(hashtext(%s || current_schema()))"


def _lock_name(purpose: str) -> str:
    """The blind index's lock keeps the name it had before fingerprints were rebuilt too."""
    return "hub.store.index_rebuild:" if purpose == "index" else f"hub.store.{purpose}_rebuild:"


class RebuildLock:
    """A held rebuild lock; ``release()`` gives it up (safe to repeat)."""

    def __init__(self, release: Any) -> None:
        self._release = release

    def release(self) -> None:
        """Give the lock up (another process may take it at once)."""
        release, self._release = self._release, None
        if release is not None:
            release()


def postgres_lock(url: str, purpose: str = "index") -> RebuildLock | None:
    """Take the PostgreSQL lock of the rebuild of ``purpose``'s keys in ``url``'s schema without waiting; None
    while another process holds it."""
    from hub.store.postgres_connect import connect

    conn = connect(url)
    try:
        row = conn.execute(_PG_TRY, (_lock_name(purpose),)).fetchone()
        held = bool(row and row[0])
    except BaseException:
        conn.close()
        raise
    if not held:
        conn.close()
        return None
    return RebuildLock(conn.close)  # closing the session frees its advisory locks


def sqlite_lock(database: Path, purpose: str = "index") -> RebuildLock | None:
    """Take the SQLite lock of the rebuild of ``purpose``'s keys in ``database`` without waiting; None while
    another process holds it."""
    suffix = ".rebuild.lock" if purpose == "index" else f".{purpose}-rebuild.lock"
    path = Path(database).with_name(Path(database).name + suffix)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return RebuildLock(lambda: os.close(fd))  # closing the descriptor frees the lock
