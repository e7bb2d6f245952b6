"""Group commit for PostgreSQL: one writer thread per process, many jobs per transaction.

Like ``group_commit.GroupCommitter`` for SQLite: jobs queue up while a transaction is in
progress; the next transaction takes all of them (up to ``max_batch``), commits once, and only
then resolves every job's future; one job's failure fails only that job. One commit (and one
WAL flush) serves the group.

What is PostgreSQL's here:

- A group first runs without savepoints; only when a job fails is the whole transaction rolled
  back and run again with a savepoint per job, so the common case costs no savepoint round trips
  (jobs must therefore be safe to run twice: they read what they decide from the database).
- A job gets a ``Tx``: the connection, plus ``append(events)`` and ``due()``. Events are not
  written by the job itself: the writer appends every successful job's events at the end of the
  transaction, after locking the chain head (``audit_head``), so the lock that makes the events
  of all processes one chain is held only for those last statements and the commit.
- ``due()`` asks for a ``NOTIFY`` on ``postgres_sql.DUE_CHANNEL`` in the same transaction:
  idle workers in other processes hear it when (and only if) the transaction commits.
- Writers in several processes can meet on the same rows. A job that loses a deadlock, or
  that inserts a message another process has just committed (a unique violation), is rolled
  back to its savepoint and run again (up to ``RETRIES`` times): the second run sees the other
  process's commit and answers as a duplicate.
- The connection comes from the store's pool for each transaction, so a connection broken by
  a database restart is replaced on the next one; a transaction that failed to commit fails
  every job in it (nothing in it is durable) and its callers see the error.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import psycopg
from psycopg import errors

from hub.plugin_api.events import HubEvent
from hub.store import postgres_sql as sql
from hub.store.audit_chain import chain

log = logging.getLogger("hub.store")

T = TypeVar("T")
RETRIES = 3
_RETRYABLE = (errors.DeadlockDetected, errors.UniqueViolation, errors.SerializationFailure)
_STOP = object()


class Tx:
    """What a job works with: the connection of the group's transaction, and what to do at its end."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.events: list[HubEvent] = []
        self.notify = False

    def append(self, events: list[HubEvent]) -> None:
        """Append ``events`` to the audit chain when the transaction ends (dropped if this job fails)."""
        self.events.extend(events)

    def due(self) -> None:
        """Wake idle workers everywhere once the transaction commits: deliveries became due."""
        self.notify = True


Job = Callable[[Tx], Any]


class PostgresWriter:
    """Runs write jobs in grouped transactions on connections from ``pool`` (see the module docstring)."""

    def __init__(self, pool: Any, max_batch: int = 512) -> None:
        self._pool = pool
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._max_batch = max_batch
        self._thread = threading.Thread(target=self._run, name="hub-store-writer", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[Tx], T]) -> Future[T]:
        """Queue a job; its future resolves after the transaction holding it commits."""
        future: Future[T] = Future()
        if not self._thread.is_alive():
            future.set_exception(RuntimeError("the store's writer has stopped; nothing was written"))
            return future
        self._queue.put((job, future))
        return future

    def run(self, job: Callable[[Tx], T]) -> T:
        """Queue a job and wait for its committed result."""
        return self.submit(job).result()

    @property
    def alive(self) -> bool:
        """True while the writer thread runs."""
        return self._thread.is_alive()

    def close(self) -> None:
        """Commit what is queued, then stop; jobs queued after that fail, never hang."""
        self._queue.put(_STOP)
        self._thread.join(timeout=30)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP and item[1].set_running_or_notify_cancel():
                item[1].set_exception(RuntimeError("the store was closed before this write ran"))

    def _run(self) -> None:
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
                self._commit_batch(batch)
            except BaseException:  # the writer must outlive any one batch, or the hub silently stops
                log.exception("store writer: unexpected failure in a group of %d jobs", len(batch))

    def _commit_batch(self, batch: list[tuple[Job, Future[Any]]]) -> None:
        batch = [(job, future) for job, future in batch if future.set_running_or_notify_cancel()]
        if not batch:
            return
        try:
            try:
                results = self._transaction(batch, careful=False)
            except psycopg.OperationalError:
                raise  # the connection failed: whether anything committed is unknown, so nothing is re-run
            except Exception:  # some job failed: nothing was committed; again, each job in its own savepoint
                results = self._transaction(batch, careful=True)
        except BaseException as exc:  # the transaction did not commit: nothing in the batch is durable
            log.error("store commit failed for a group of %d jobs: %s", len(batch), type(exc).__name__)
            for _job, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, value, error in results:
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)

    def _transaction(
        self, batch: list[tuple[Job, Future[Any]]], careful: bool
    ) -> list[tuple[Future[Any], Any, BaseException | None]]:
        """Run the batch in one transaction and commit it; each job's (future, value, error).

        Not ``careful``: the jobs run without savepoints (two round trips fewer each) and any
        failure aborts the whole transaction, for the caller to run again ``careful``ly, where
        each job has its own savepoint and a failing job is rolled back alone.
        """
        results: list[tuple[Future[Any], Any, BaseException | None]] = []
        with self._pool.connection() as conn, conn.transaction():
            tx = Tx(conn)
            events: list[HubEvent] = []
            notify = False
            for job, future in batch:
                if careful:
                    value, error = _run_job(tx, job)
                else:
                    tx.events, tx.notify = [], False
                    value, error = job(tx), None
                if error is None:
                    events += tx.events
                    notify = notify or tx.notify
                results.append((future, value, error))
            head = conn.execute(sql.LOCK_CHAIN_HEAD).fetchone() if events else None
            with conn.pipeline(), conn.cursor() as cursor:
                if events:
                    rows = chain(head[0] if head else None, events)
                    cursor.execute(sql.INSERT_EVENTS, [list(column) for column in zip(*rows, strict=True)])
                    cursor.execute(sql.SET_CHAIN_HEAD, (rows[-1][-1],))
                if notify:
                    cursor.execute(sql.NOTIFY_DUE)
        return results


def _run_job(tx: Tx, job: Job) -> tuple[Any, BaseException | None]:
    """Run one job in its own savepoint, again when it lost a race with another process; (value, error)."""
    for attempt in range(RETRIES + 1):
        tx.events, tx.notify = [], False
        try:
            with tx.conn.transaction():
                return job(tx), None
        except _RETRYABLE as exc:
            if attempt == RETRIES:
                return None, exc
        except psycopg.OperationalError:
            raise  # the connection is gone: the whole transaction fails
        except Exception as exc:
            return None, exc
    raise AssertionError("unreachable")
