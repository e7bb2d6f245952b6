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
  process's commit and answers as a duplicate. A job that loses every time fails with
  ``StoreUnavailable`` (503: send again), never a 500. A deadlock in a group's first pass,
  which runs without savepoints, rolls the whole group back; it is then run job by job.
- The connection comes from the store's pool for each transaction, so a connection broken by
  a database restart is replaced on the next one; a transaction that failed to commit fails
  every job in it (nothing in it is durable) and its callers see the error, as ``unavailable``
  makes it (``StoreUnavailable``) for a fault of the database or the pool. When no connection came
  within the pool's wait, the jobs queued meanwhile fail with the group: each caller waits for a
  connection at most once, however long the outage.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import errors
from psycopg_pool import PoolTimeout

from hub.plugin_api.events import HubEvent
from hub.plugin_api.problems import StoreUnavailable
from hub.store import postgres_sql as sql
from hub.store.audit_chain import chain

log = logging.getLogger("hub.store")

T = TypeVar("T")
RETRIES = 3
#: why a job that lost every retry to other processes' writes was not done (shown to the sender with a 503)
CONTENDED = "the database was busy with other processes' writes to the same records"
_RETRYABLE = (errors.DeadlockDetected, errors.UniqueViolation, errors.SerializationFailure)
_STOP = object()


@dataclass(frozen=True)
class Found:
    """A stored message a new one repeats: its record id, fingerprint, and which id matched."""

    id: str
    fingerprint: str | None
    reused: str  # "message_id" or "Idempotency-Key"


#: (sender, message_id, idempotency key) a job will look up with ``Tx.find_existing``
Keys = list[tuple[str, str, str | None]]


class Tx:
    """What a job works with: the connection of the group's transaction, and what to do at its end."""

    def __init__(self, conn: psycopg.Connection[Any], known: dict[tuple[str, str, str], Found] | None = None) -> None:
        self.conn = conn
        self.events: list[HubEvent] = []
        self.notify = False
        self._known = known
        self._later: dict[str, list[tuple[Any, ...]]] = {}

    def insert(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        """Insert ``rows`` with ``statement`` (one taking a column array per ``%s``, ``... unnest(...)``).

        In a group's first, pipelined run the rows of every job are gathered and inserted together by
        ``flush`` (one statement per table for the group, in the order the tables were first used);
        otherwise at once.
        """
        if not rows:
            return
        if self._known is None:
            self.conn.execute(statement, _columns(rows))
        else:
            self._later.setdefault(statement, []).extend(rows)

    def flush(self) -> None:
        """Insert what ``insert`` gathered; a job calls it before reading rows that may be among them."""
        later, self._later = self._later, {}
        for statement, rows in later.items():
            self.conn.execute(statement, _columns(rows))

    def find_existing(self, sender: str, message_id: str, key: str | None) -> Found | None:
        """The stored message that one with these ids repeats (by message id first, else by key), or None.

        Answered from what the group looked up at its start plus what it stored since (no round trip)
        when the job was submitted with ``keys``; otherwise by a query.
        """
        if self._known is None:
            row = self.conn.execute(sql.FIND_EXISTING, (sender, message_id, sender, key)).fetchone()
            return Found(row[0], row[1], row[2]) if row else None
        found = self._known.get(("message_id", sender, message_id))
        if found is None and key:
            found = self._known.get(("Idempotency-Key", sender, key))
        return found

    def stored(self, sender: str, message_id: str, key: str | None, record_id: str, fingerprint: str | None) -> None:
        """Note a message this job stored, so that a repeat later in the same group finds it."""
        if self._known is not None:
            self._known[("message_id", sender, message_id)] = Found(record_id, fingerprint, "message_id")
            if key:
                self._known[("Idempotency-Key", sender, key)] = Found(record_id, fingerprint, "Idempotency-Key")

    def append(self, events: list[HubEvent]) -> None:
        """Append ``events`` to the audit chain when the transaction ends (dropped if this job fails)."""
        self.events.extend(events)

    def due(self) -> None:
        """Wake idle workers everywhere once the transaction commits: deliveries became due."""
        self.notify = True


Job = Callable[[Tx], Any]
Item = tuple[Job, "Future[Any]", Keys | None]


class PostgresWriter:
    """Runs write jobs in grouped transactions on connections from ``pool`` (see the module docstring)."""

    def __init__(
        self, pool: Any, unavailable: Callable[[BaseException], BaseException] = lambda exc: exc, max_batch: int = 512
    ) -> None:
        self._pool = pool
        self._unavailable = unavailable
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._max_batch = max_batch
        self._thread = threading.Thread(target=self._run, name="hub-store-writer", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[Tx], T], keys: Keys | None = None) -> Future[T]:
        """Queue a job; its future resolves after the transaction holding it commits.

        ``keys``: the ids the job will look up with ``Tx.find_existing``. Such a job promises to
        read nothing else but through ``fetch*`` (never ``rowcount``), so the group looks all its
        keys up in one query and sends such jobs' statements pipelined, without waiting for each.
        """
        future: Future[T] = Future()
        if not self._thread.is_alive():
            future.set_exception(RuntimeError("the store's writer has stopped; nothing was written"))
            return future
        self._queue.put((job, future, keys))
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

    def _commit_batch(self, batch: list[Item]) -> None:
        batch = [item for item in batch if item[1].set_running_or_notify_cancel()]
        if not batch:
            return
        try:
            try:
                results = self._transaction(batch, careful=False)
            except errors.TransactionRollback:  # a deadlock or serialization failure: the server rolled it all back
                results = self._transaction(batch, careful=True)
            except psycopg.OperationalError:
                raise  # the connection failed: whether anything committed is unknown, so nothing is re-run
            except Exception:  # some job failed: nothing was committed; again, each job in its own savepoint
                results = self._transaction(batch, careful=True)
        except BaseException as exc:  # the transaction did not commit: nothing in the batch is durable
            log.error("store commit failed for a group of %d jobs: %s", len(batch), type(exc).__name__)
            failure = self._unavailable(exc) if isinstance(exc, psycopg.OperationalError) else exc
            if isinstance(exc, PoolTimeout):  # those queued while we waited would only wait as long again
                batch += self._take_queued()
            for _job, future, _keys in batch:
                if not future.done():
                    future.set_exception(failure)
            return
        for future, value, error in results:
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)

    def _take_queued(self) -> list[Item]:
        """Every job queued now, taken off the queue (a stop request stays queued, behind them)."""
        taken: list[Item] = []
        stop = False
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                stop = True
            elif item[1].set_running_or_notify_cancel():
                taken.append(item)
        if stop:
            self._queue.put(_STOP)
        return taken

    def _transaction(self, batch: list[Item], careful: bool) -> list[tuple[Future[Any], Any, BaseException | None]]:
        """Run the batch in one transaction and commit it; each job's (future, value, error).

        Not ``careful``: the jobs run without savepoints, the repeat checks of the jobs with keys
        are one query for the group, and those jobs' statements go pipelined; any failure aborts
        the whole transaction, for the caller to run again ``careful``ly, where each job has its
        own savepoint and its own queries, and a failing job is rolled back alone.
        """
        results: list[tuple[Future[Any], Any, BaseException | None]] = []
        with self._pool.connection() as conn, conn.transaction():
            known = None if careful else _look_up(conn, [k for *_, keys in batch if keys for k in keys])
            tx = Tx(conn, known)
            events: list[HubEvent] = []
            notify = False
            with ExitStack() as pipeline:
                piped = False
                for job, future, keys in batch:
                    if careful:
                        value, error = _run_job(tx, job)
                    else:
                        if keys is not None and not piped:
                            pipeline.enter_context(conn.pipeline())
                        elif keys is None and piped:
                            tx.flush()
                            pipeline.close()  # sends what is queued and reads its results
                        piped = keys is not None
                        tx.events, tx.notify = [], False
                        value, error = job(tx), None
                    if error is None:
                        events += tx.events
                        notify = notify or tx.notify
                    results.append((future, value, error))
                tx.flush()
            head = conn.execute(sql.LOCK_CHAIN_HEAD).fetchone() if events else None
            with conn.pipeline(), conn.cursor() as cursor:
                if events:
                    rows = chain(head[0] if head else None, events)
                    cursor.execute(sql.INSERT_EVENTS, _columns(rows))
                    cursor.execute(sql.SET_CHAIN_HEAD, (rows[-1][-1],))
                if notify:
                    cursor.execute(sql.NOTIFY_DUE)
        return results


def _columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows as one list per column (the arrays an ``unnest`` insert takes)."""
    return [list(column) for column in zip(*rows, strict=True)]


def _look_up(conn: psycopg.Connection[Any], keys: Keys) -> dict[tuple[str, str, str], Found]:
    """The stored messages any of ``keys`` repeats, by ("message_id" or "Idempotency-Key", sender, id)."""
    known: dict[tuple[str, str, str], Found] = {}
    if not keys:
        return known
    with_key = [(sender, key) for sender, _, key in keys if key]
    args = ([k[0] for k in keys], [k[1] for k in keys], [k[0] for k in with_key], [k[1] for k in with_key])
    for sender, message_id, key, record_id, fingerprint in conn.execute(sql.LOOK_UP_EXISTING, args):
        known[("message_id", sender, message_id)] = Found(record_id, fingerprint, "message_id")
        if key:
            known.setdefault(("Idempotency-Key", sender, key), Found(record_id, fingerprint, "Idempotency-Key"))
    return known


def _run_job(tx: Tx, job: Job) -> tuple[Any, BaseException | None]:
    """Run one job in its own savepoint, again when it lost a race with another process; (value, error)."""
    for attempt in range(RETRIES + 1):
        tx.events, tx.notify = [], False
        try:
            with tx.conn.transaction():
                return job(tx), None
        except _RETRYABLE:
            if attempt == RETRIES:  # still losing to other processes' writes: a fault that passes, so 503
                return None, StoreUnavailable(CONTENDED)
        except psycopg.OperationalError:
            raise  # the connection is gone: the whole transaction fails
        except Exception as exc:
            return None, exc
    raise AssertionError("unreachable")
