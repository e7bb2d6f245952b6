"""Hearing other processes: a thread that LISTENs for ``postgres_sql.DUE_CHANNEL`` and calls back.

A transaction that makes deliveries due (an accept with push deliveries, a replay) sends a
``NOTIFY`` that PostgreSQL delivers when it commits; every process watching hears it and wakes
its idle worker at once instead of at its next poll. Polling stays the fallback: a notification
lost while the connection was down costs at most one poll interval, and after reconnecting the
watcher calls back once anyway, since it may have missed one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from hub.store import postgres_sql as sql
from hub.store.postgres_connect import CONNECT_TIMEOUT_SECONDS, LIVENESS

log = logging.getLogger("hub.store")
RECONNECT_SECONDS = 1.0


class DueWatcher:
    """Calls every registered callback (from its own thread) when deliveries may have become due."""

    def __init__(self, conninfo: str, check_seconds: float = 0.5) -> None:
        self._conninfo = conninfo
        self._check = check_seconds
        self._callbacks: list[Callable[[], None]] = []
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def add(self, callback: Callable[[], None]) -> None:
        """Register ``callback`` (thread-safe, cheap, must not raise); the first one starts the thread.

        Returns once the thread is listening (or has tried once), so a commit after it is heard.
        """
        with self._lock:
            self._callbacks.append(callback)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hub-store-listen", daemon=True)
                self._thread.start()
        self._listening.wait(timeout=10)

    def close(self) -> None:
        """Stop listening (within ``check_seconds``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _call(self) -> None:
        for callback in list(self._callbacks):
            try:
                callback()
            except Exception:
                log.exception("a callback woken by the store raised")

    def _run(self) -> None:
        missed = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                     **LIVENESS) as conn:  # fmt: skip
                    conn.execute(sql.LISTEN_DUE)
                    self._listening.set()
                    if missed:
                        self._call()
                    while not self._stop.is_set():
                        if any(True for _ in conn.notifies(timeout=self._check)):
                            self._call()
            except psycopg.Error as exc:
                missed = True
                log.warning("store notifications interrupted (%s); polling until reconnected", type(exc).__name__)
            finally:
                self._listening.set()
            self._stop.wait(RECONNECT_SECONDS)
