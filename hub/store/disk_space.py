"""The SQLite store's disk: free space kept in reserve, and a full disk as a fault that passes.

A hub whose disk fills must not lose what it accepted, nor answer 500s. Two things make that so:

- ``DiskSpace`` watches the free space of the file system holding the store (``statvfs``, read at most
  every ``REFRESH_SECONDS``). Below ``reserve_bytes`` (``[store] reserve_mb``) the store refuses new
  messages (``StoreUnavailable``, so 503 with ``Retry-After``) and ``ping`` (``/readyz``) says not ready,
  while what keeps accepted messages moving (claims, delivery outcomes, lease renewals, partners'
  acknowledgements of deliveries, the audit log) still writes into the reserve. With free space back above
  the reserve, intake and readiness return by themselves. A reserve of 0 turns the check off.
- ``disk_fault(exc)`` turns SQLite's "database or disk is full" (``FULL_REASON``) and its I/O errors
  (``WRITE_FAILED_REASON``) into ``StoreUnavailable``: when the disk fills past the reserve (another program wrote
  to it), a write that fails is a 503, and a delivery worker keeps the outcome it could not record and
  records it once the write works again (``hub.services.delivery``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from hub.plugin_api.problems import StoreUnavailable

FULL_REASON = "the disk holding the store is full"
WRITE_FAILED_REASON = "the disk holding the store cannot be written"
#: what a 503 for a full disk asks senders to wait before sending again (``Retry-After``)
RETRY_AFTER_SECONDS = 30
#: how long one reading of the free space is trusted
REFRESH_SECONDS = 0.25
# SQLite's primary result codes for a full disk and for an I/O error (what a write on a full disk may report)
_SQLITE_FULL = 13
_SQLITE_IOERR = 10


class DiskSpace:
    """The free space of the file system holding ``directory``, against a reserve of ``reserve_bytes``."""

    def __init__(self, directory: Path, reserve_bytes: int) -> None:
        self.directory = Path(directory)
        self.reserve_bytes = max(0, int(reserve_bytes))
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._free = 0

    def free_bytes(self) -> int:
        """Bytes free to this process on the store's file system (read again after ``REFRESH_SECONDS``)."""
        now = time.monotonic()
        with self._lock:
            if now - self._read_at >= REFRESH_SECONDS:
                stat = os.statvfs(self.directory)
                self._free = stat.f_bavail * stat.f_frsize
                self._read_at = now
            return self._free

    def low(self) -> bool:
        """True when the free space is below the reserve (never with a reserve of 0)."""
        return self.reserve_bytes > 0 and self.free_bytes() < self.reserve_bytes

    def check(self) -> None:
        """Raise ``StoreUnavailable`` (``FULL_REASON``) when the free space is below the reserve."""
        if self.low():
            raise StoreUnavailable(FULL_REASON, RETRY_AFTER_SECONDS)


def disk_fault(exc: BaseException) -> BaseException:
    """``StoreUnavailable`` for SQLite's full-disk and I/O errors; any other exception unchanged."""
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in (_SQLITE_FULL, _SQLITE_IOERR):
            reason = FULL_REASON if code & 0xFF == _SQLITE_FULL else WRITE_FAILED_REASON
            unavailable = StoreUnavailable(reason, RETRY_AFTER_SECONDS)
            unavailable.__cause__ = exc
            return unavailable
    return exc
