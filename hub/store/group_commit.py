"""Group commit: many small write jobs, one durable transaction.

A single writer thread owns the write connection. Jobs queue up while a commit
is in progress; the next transaction takes all of them (up to ``max_batch``),
runs them, commits once, and only then resolves every job's future. One job's
failure rolls back only that job: the group first runs without savepoints (two
statements fewer per job, and each statement makes the writer take the GIL
back); when a job raises, that transaction is rolled back whole and the group
runs again with each job in its own savepoint. With ``synchronous=FULL`` one
fsync covers the whole group, which is what lets the hub answer 202 after a
durable commit at thousands of messages per second.

``scratch`` is a dict the jobs may keep values in for the rest of their
transaction (the audit chain's head, say): it is emptied whenever a transaction
begins and whenever a job is rolled back.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

log = logging.getLogger("hub.store")

Job = Callable[[sqlite3.Connection], Any]
T = TypeVar("T")
_STOP = object()


class GroupCommitter:
    """Runs write jobs on one connection in grouped, durable transactions."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], max_batch: int = 512) -> None:
        self._connect = connect
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._max_batch = max_batch
        self.scratch: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, name="hub-store-writer", daemon=True)
        self._started = threading.Event()
        self._startup_error: BaseException | None = None
        self._thread.start()
        self._started.wait()
        if self._startup_error is not None:
            raise self._startup_error

    def submit(self, job: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Queue a job; its future resolves after the transaction holding it commits."""
        future: Future[T] = Future()
        if not self._thread.is_alive():
            future.set_exception(RuntimeError("the store's writer has stopped; nothing was written"))
            return future
        self._queue.put((job, future))
        return future

    def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Queue a job and wait for its committed result."""
        return self.submit(job).result()

    @property
    def alive(self) -> bool:
        """True while the writer thread runs (readiness depends on it)."""
        return self._thread.is_alive()

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread; jobs queued after that fail, never hang."""
        self._queue.put(_STOP)
        self._thread.join(timeout=30)
        self._fail_leftovers()

    def _fail_leftovers(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                _job, future = item
                if future.set_running_or_notify_cancel():
                    future.set_exception(RuntimeError("the store was closed before this write ran"))

    def _run(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # reported to the constructor
            self._startup_error = exc
            self._started.set()
            return
        self._started.set()
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            while len(batch) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                batch.append(nxt)
            try:
                self._commit_batch(conn, batch)
            except BaseException:  # the writer must outlive any one batch, or the hub silently stops
                log.exception("store writer: unexpected failure in a group of %d jobs", len(batch))
        conn.close()
        self._fail_leftovers()

    def _commit_batch(self, conn: sqlite3.Connection, batch: list[tuple[Job, Future[Any]]]) -> None:
        # a job whose caller gave up (its future was cancelled) is skipped: nobody was told it was stored;
        # once running, a future can no longer be cancelled, so every result below can be set
        batch = [(job, future) for job, future in batch if future.set_running_or_notify_cancel()]
        if not batch:
            return
        try:
            results = self._run_jobs(conn, batch, savepoints=False)
            if results is None:  # a job failed and nothing of that try remains: again, one savepoint per job
                results = self._run_jobs(conn, batch, savepoints=True)
            assert results is not None
            conn.execute("COMMIT")
        except BaseException as exc:  # the commit itself failed: nothing in the batch is durable
            log.error("store commit failed for a group of %d jobs: %s", len(batch), exc)
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            for _job, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, value, error in results:
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)

    def _run_jobs(
        self, conn: sqlite3.Connection, batch: list[tuple[Job, Future[Any]]], *, savepoints: bool
    ) -> list[tuple[Future[Any], Any, BaseException | None]] | None:
        """Begin a transaction and run every job in it; None (rolled back) when a job fails without savepoints."""
        self.scratch.clear()
        conn.execute("BEGIN IMMEDIATE")
        results: list[tuple[Future[Any], Any, BaseException | None]] = []
        for job, future in batch:
            if savepoints:
                conn.execute("SAVEPOINT job")
            try:
                value = job(conn)
            except BaseException as exc:
                self.scratch.clear()
                if not savepoints:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    return None
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                results.append((future, None, exc))
            else:
                if savepoints:
                    conn.execute("RELEASE job")
                results.append((future, value, None))
        return results
