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

A job may have a ``run_together`` attribute: a callable taking the connection and a
list of jobs and returning their results in order. In the first try of a group,
consecutive jobs whose ``run_together`` is equal (and not None) run as one call
of it (one insert per table for all of them, say); if it raises, the group is
rolled back and run again job by job, each in its own savepoint, so that only
the failing job fails.

A caller on an event loop uses ``submit_async``: its asyncio future is settled
on that loop, and all the futures of one group that belong to one loop are
settled by one ``call_soon_threadsafe`` (one wake-up of the loop per group,
instead of a ``concurrent.futures.Future``, a lock and a wake-up per job).
"""

from __future__ import annotations

import asyncio
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
# a queued job: the job, its future, and the loop an asyncio future belongs to (None for a concurrent one)
_Item = tuple[Job, "Future[Any] | asyncio.Future[Any]", "asyncio.AbstractEventLoop | None"]
_Result = tuple["Future[Any] | asyncio.Future[Any]", "asyncio.AbstractEventLoop | None", Any, "BaseException | None"]


class GroupCommitter:
    """Runs write jobs on one connection in grouped, durable transactions."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        max_batch: int = 512,
        translate: Callable[[BaseException], BaseException] | None = None,
    ) -> None:
        """``translate`` maps a job's or a commit's exception to the one its caller gets (the same by default)."""
        self._connect = connect
        self._translate = translate or (lambda exc: exc)
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
        self._queue.put((job, future, None))
        return future

    def submit_async(self, job: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Queue a job from a running event loop; the asyncio future resolves on that loop after the commit.

        Cancelling the future before the job's group begins skips the job (nothing is written); once the group
        has begun, the job is committed whether or not anyone still waits for it.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if not self._thread.is_alive():
            future.set_exception(RuntimeError("the store's writer has stopped; nothing was written"))
            return future
        self._queue.put((job, future, loop))
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
                _job, future, loop = item
                error = RuntimeError("the store was closed before this write ran")
                if loop is None:
                    if future.set_running_or_notify_cancel():
                        future.set_exception(error)
                else:
                    _settle_soon(loop, [(future, loop, None, error)])

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

    def _commit_batch(self, conn: sqlite3.Connection, batch: list[_Item]) -> None:
        # a job whose caller gave up (its future was cancelled) is skipped: nobody was told it was stored;
        # once running, a concurrent future can no longer be cancelled, so every result below can be set
        # (an asyncio future cancelled from now on is skipped when it is settled)
        batch = [item for item in batch if _still_wanted(item[1])]
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
            results = [(future, loop, None, exc) for _job, future, loop in batch]
        _settle([(future, loop, value, None if error is None else self._translate(error))
                 for future, loop, value, error in results])  # fmt: skip

    def _run_jobs(self, conn: sqlite3.Connection, batch: list[_Item], *, savepoints: bool) -> list[_Result] | None:
        """Begin a transaction and run every job in it; None (rolled back) when a job fails without savepoints."""
        self.scratch.clear()
        conn.execute("BEGIN IMMEDIATE")
        results: list[_Result] = []
        at = 0
        while at < len(batch):
            job, future, loop = batch[at]
            together = None if savepoints else getattr(job, "run_together", None)
            end = at + 1
            if together is not None:
                while end < len(batch) and getattr(batch[end][0], "run_together", None) == together:
                    end += 1
            if together is not None and end - at > 1:
                try:
                    values = together(conn, [item[0] for item in batch[at:end]])
                except BaseException:
                    self.scratch.clear()
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    return None
                results += [(f, lp, value, None) for (_, f, lp), value in zip(batch[at:end], values, strict=True)]
                at = end
                continue
            at += 1
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
                results.append((future, loop, None, exc))
            else:
                if savepoints:
                    conn.execute("RELEASE job")
                results.append((future, loop, value, None))
        return results


def _still_wanted(future: Future[Any] | asyncio.Future[Any]) -> bool:
    """False when the caller cancelled; a concurrent future is marked running (no longer cancellable)."""
    if isinstance(future, Future):
        return future.set_running_or_notify_cancel()
    return not future.cancelled()


def _settle(results: list[_Result]) -> None:
    """Resolve a group's futures: concurrent ones here, asyncio ones by one callback on each loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Result]] = {}
    for result in results:
        future, loop, value, error = result
        if loop is not None:
            by_loop.setdefault(loop, []).append(result)
        elif error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
    for loop, on_loop in by_loop.items():
        _settle_soon(loop, on_loop)


def _settle_soon(loop: asyncio.AbstractEventLoop, results: list[_Result]) -> None:
    try:
        loop.call_soon_threadsafe(_settle_on_loop, results)
    except RuntimeError:  # the loop is closed: nobody is left waiting on it
        log.debug("store writer: %d results for a closed event loop dropped", len(results))


def _settle_on_loop(results: list[_Result]) -> None:
    for future, _loop, value, error in results:
        if future.done():  # the caller gave up meanwhile
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
