"""The embedded default store: one SQLite file in WAL mode with durable, grouped commits.

Writes go through one writer thread (``GroupCommitter``); reads use their own
connection, which WAL lets run beside the writer. Several processes (``hub
serve`` and ``hub worker``, or the CLI beside a running server) may share the
file: SQLite serialises their write transactions and ``busy_timeout`` makes a
writer wait its turn instead of failing.

This module holds only what is SQLite's: transactions and which statement to run
(the statements are in ``sqlite_sql.py``, the schema in ``sqlite_schema.py``;
connections, migrations and the audit chain's appends in ``sqlite_connect.py``).
What both stores do alike is written once: the message reads
(``hub.store.message_reads``), the upkeep writes (``hub.store.upkeep_backend``),
the pathway, console, users, alerts and rebuilds (``*_backend.py``). How rows are
shown is ``hub.store.views``; the audit chain's hashing is ``hub.store.audit_chain``.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hub.bodies import BodyUnreadable, CodecRegistry, StoredBody
from hub.plugin_api.events import HubEvent
from hub.plugin_api.problems import Conflict, Problem, read_each
from hub.store import message_queries, notice_claims, sqlite_claims
from hub.store import sqlite_sql as sql
from hub.store.alerts_backend import AlertsOnBackend
from hub.store.audit_chain import ChainReport, verify
from hub.store.backend_steps import outcome_events
from hub.store.console_backend import ConsoleOnBackend
from hub.store.disk_space import DiskSpace, disk_fault
from hub.store.group_commit import GroupCommitter
from hub.store.message_reads import MessageReadsOnBackend
from hub.store.pathway_backend import PathwayOnBackend
from hub.store.ports import Store, StoreOptions
from hub.store.rebuild_backend import RebuildsOnBackend, WriteJob
from hub.store.rebuild_lock import RebuildLock, sqlite_lock
from hub.store.records import (
    AcceptResult,
    Claimed,
    DeliveryJob,
    DeliveryState,
    Intake,
    Outcome,
    reuses_id_for_other_content,
)
from hub.store.sqlite_connect import append_events as _append_events
from hub.store.sqlite_connect import connect as _connect
from hub.store.sqlite_connect import migrate
from hub.store.upkeep_backend import UpkeepOnBackend
from hub.store.url import sqlite_path
from hub.store.users_backend import UsersOnBackend

# kept under their old names: tests look at the plan SQLite makes for the partner's search ({marks}: a ? per value)
FIND_FOR_PARTNER_SQL = message_queries.FIND_FOR_PARTNER.format(join="CROSS JOIN", values="i.nhs_index IN ({marks})")
FIND_ALL_SQL = message_queries.FIND_ALL.format(values="nhs_index IN ({marks})")


def _insert_index_entries(conn: sqlite3.Connection, entries: list[tuple[str, str, str]]) -> None:
    """Write NHS-number search entries ``(partner, blind index, record id)`` inside the caller's transaction."""
    if entries:
        conn.executemany(sql.INSERT_INDEX_ENTRY, entries)


class _AcceptRows:
    """The rows of one or more intakes, in their order, for one ``executemany`` per table."""

    def __init__(self) -> None:
        self.messages: list[tuple[Any, ...]] = []
        self.unordered: list[tuple[Any, ...]] = []
        self.ordered: list[tuple[Any, ...]] = []
        self.index_entries: list[tuple[str, str, str]] = []

    def add(self, codecs: CodecRegistry, intake: Intake) -> None:
        """Add ``intake``'s rows: its messages (bodies encoded), deliveries and search entries."""
        for m in intake.messages:
            stored = codecs.encode(m.id, m.type, m.sender, m.body)
            self.messages.append(
                (
                    m.id, m.message_id, m.sender, m.type, m.correlation_id, m.in_reply_to,
                    m.parent_id, m.idempotency_key, m.fingerprint, m.received_at, stored.codec, stored.data,
                    stored.kek_id, stored.wrapped_key, m.nhs_index, m.status, m.status_at, m.answers_record,
                )
            )  # fmt: skip
        now = intake.messages[0].received_at
        for d in intake.deliveries:
            state = DeliveryState.PENDING.value if d.mode == "push" else DeliveryState.AVAILABLE.value
            due = now if d.not_before is None else max(now, d.not_before)  # a scheduled delivery (records.NewDelivery)
            row = (d.id, d.message_record_id, d.partner, d.route, d.mode, state, due, now)
            if d.order_key is None:
                self.unordered.append(row)
            else:  # in planned order: each takes the next place in its key's order
                self.ordered.append((*row, d.order_key, d.order_key))
        self.index_entries += intake.index_entries

    def insert(self, conn: sqlite3.Connection) -> None:
        """Insert every row gathered, in the caller's transaction (no statement for an empty table)."""
        conn.executemany(sql.INSERT_MESSAGE, self.messages)
        counted = Counter((int(m[9] // 60), m[2], m[3]) for m in self.messages)  # minute, sender, type
        conn.executemany(sql.COUNT_ACCEPTED, [(*key, n) for key, n in counted.items()])
        if self.unordered:
            conn.executemany(sql.INSERT_DELIVERY, self.unordered)
        if self.ordered:
            conn.executemany(sql.INSERT_ORDERED_DELIVERY, self.ordered)
        _insert_index_entries(conn, self.index_entries)


class _AcceptJob:
    """The writer's job for one intake; intakes that acknowledge nothing may run together (``run_together``)."""

    def __init__(self, store: SQLiteStore, intake: Intake) -> None:
        self.store = store
        self.intake = intake
        # the writer runs consecutive jobs whose run_together is equal as one call (GroupCommitter)
        self.run_together = store._accept_together if intake.acknowledges is None else None

    def __call__(self, conn: sqlite3.Connection) -> AcceptResult:
        return self.store._accept_checked(conn, self.intake)


class SQLiteStore(
    PathwayOnBackend,
    AlertsOnBackend,
    UsersOnBackend,
    ConsoleOnBackend,
    RebuildsOnBackend,
    MessageReadsOnBackend,
    UpkeepOnBackend,
    Store,
):
    """``Store`` on one SQLite file (see the module docstring)."""

    def _pathway_write(self, job: Callable[[Any, Any], Any]) -> Any:
        """The pathway's write ``job(execute, append)`` in the writer's transaction."""
        return self._writer.run(lambda conn: job(conn.execute, lambda events: self._append_events(conn, events)))

    def _pathway_write_storing(self, job: Callable[[Any, Any, Any], Any]) -> Any:
        """``_pathway_write`` with ``accept(intake)`` in the same transaction."""
        return self._writer.run(lambda conn: job(conn.execute, lambda events: self._append_events(conn, events),
                                                 lambda intake: self._accept_checked(conn, intake)))  # fmt: skip

    def _pathway_read(self, statement: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one pathway read."""
        return [tuple(r) for r in self._reader().execute(statement, tuple(args)).fetchall()]

    def __init__(self, path: Path, codecs: CodecRegistry, reserve_bytes: int = StoreOptions.reserve_bytes) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():  # SQLite gives the -wal and -shm files the database file's mode
            self.path.touch(mode=0o600)
        self.codecs = codecs
        setup = _connect(self.path)
        try:
            migrate(setup)
        finally:
            setup.close()
        self.space = DiskSpace(self.path.parent, reserve_bytes)
        self._writer = GroupCommitter(lambda: _connect(self.path), translate=disk_fault)
        self._local = threading.local()

    # -- connections -------------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """This thread's reads in one read transaction (``message_reads``): they all see the state of its first."""
        conn = self._reader()
        if getattr(self._local, "snapshot", False):  # within this thread's snapshot already
            yield
            return
        conn.execute("BEGIN")
        self._local.snapshot = True
        try:
            yield
        finally:
            self._local.snapshot = False
            try:
                if conn.in_transaction:  # SQLite may have ended it itself after an error
                    conn.execute("COMMIT")  # a read transaction: nothing to keep or undo
            except sqlite3.Error:  # never leave the thread's reader in a transaction: a new one next time
                conn.close()
                self._local.conn = None

    def close(self) -> None:
        """Finish queued commits and close the writer."""
        self._writer.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def compact(self) -> bool:
        """Copy the WAL into the database and truncate it (shredded pages leave the WAL); True when complete."""
        conn = _connect(self.path)
        try:
            busy, _, _ = conn.execute(sql.CHECKPOINT).fetchone()
            return bool(busy == 0)
        finally:
            conn.close()

    checkpoint = compact  # the SQLite name for it

    def watch(self, callback: Callable[[], None]) -> None:
        """Nothing: SQLite cannot tell one process of another's commits; workers poll (and intake wakes its own)."""

    def ping(self) -> None:
        """Raise unless the writer thread is alive, the database answers a query and the disk has its reserve free.

        A disk below the reserve (``hub.store.disk_space``) is ``StoreUnavailable`` with its reason.
        """
        if not self._writer.alive:
            raise RuntimeError("the store's writer thread has stopped")
        self._reader().execute("SELECT 1").fetchone()
        self.space.check()

    def _append_events(self, conn: sqlite3.Connection, events: list[HubEvent]) -> None:
        """``_append_events`` in the writer's transaction, keeping the chain's head in its scratch."""
        _append_events(conn, events, self._writer.scratch)

    # -- intake ------------------------------------------------------------------------------
    def _check_space(self, intake: Intake) -> None:
        """Refuse a new message with the disk below its reserve; an acknowledgement of a delivery goes on."""
        if intake.acknowledges is None:
            self.space.check()

    def _accept_job(self, intake: Intake) -> _AcceptJob:
        return _AcceptJob(self, intake)

    def _accept_checked(self, conn: sqlite3.Connection, intake: Intake) -> AcceptResult:
        """One intake, alone: a repeat of a stored message is recognised (or refused), otherwise it is written."""
        first = intake.messages[0]
        existing = conn.execute(sql.FIND_BY_MESSAGE_ID, (first.sender, first.message_id)).fetchone()
        reused = "message_id"
        if existing is None and first.idempotency_key:
            reused = "Idempotency-Key"
            existing = conn.execute(sql.FIND_BY_IDEMPOTENCY_KEY, (first.sender, first.idempotency_key)).fetchone()
        if existing is not None and reuses_id_for_other_content(existing[1], first):
            raise Conflict(
                f"This {reused} was already used for a different message ({existing[0]}); "
                "give each new message its own id and key.",
                [Problem("$.message_id" if reused == "message_id" else "header Idempotency-Key",
                         "already used for a different message")],
            )  # fmt: skip
        if existing is not None:
            event = HubEvent("duplicate", existing[0], time.time(), detail={"message_id": first.message_id})
            self._append_events(conn, [event])
            return AcceptResult(existing[0], True, [event])
        rows = _AcceptRows()
        rows.add(self.codecs, intake)
        rows.insert(conn)
        events = list(intake.events)
        if intake.acknowledges is not None:
            now = first.received_at
            delivery_id, state, ack_id = intake.acknowledges
            row = conn.execute(sql.ACKNOWLEDGE_DELIVERY, (state, now, delivery_id)).fetchone()
            if row is not None:
                conn.execute(sql.WAKE_NEXT, {"at": now, "delivery_id": delivery_id})  # the partner has it
                events.append(HubEvent(state, row[0], now, delivery_id, row[1], detail={"acknowledgement": ack_id}))
        self._append_events(conn, events)
        return AcceptResult(first.id, False, events)

    def _accept_together(self, conn: sqlite3.Connection, jobs: list[_AcceptJob]) -> list[AcceptResult]:
        """Several intakes, none an acknowledgement, with one insert per table for all of them.

        Nothing is looked up first: the unique indexes on ``(sender, message_id)`` and ``(sender,
        idempotency_key)`` refuse a repeat (of a stored message, or of another in the group), and the
        ``IntegrityError`` makes the writer roll the group back and run each job alone
        (``_accept_checked``), which recognises the repeat or refuses it with its reason as always.
        """
        rows = _AcceptRows()
        results = []
        events: list[HubEvent] = []
        for job in jobs:
            rows.add(self.codecs, job.intake)
            events += job.intake.events
            results.append(AcceptResult(job.intake.messages[0].id, False, list(job.intake.events)))
        rows.insert(conn)
        self._append_events(conn, events)
        return results

    async def accept(self, intake: Intake) -> AcceptResult:
        """Commit an intake (grouped with concurrent ones); resolves after the durable commit.

        With the disk below its reserve the intake is refused (``StoreUnavailable``): the space left is for
        recording what happens to the messages already accepted, a partner's acknowledgement of one included.
        """
        self._check_space(intake)
        return await self._writer.submit_async(self._accept_job(intake))

    def accept_now(self, intake: Intake) -> AcceptResult:
        """Commit an intake and wait for it (refused like ``accept`` with the disk below its reserve)."""
        self._check_space(intake)
        return self._writer.run(self._accept_job(intake))

    async def accept_all(self, intakes: list[Intake]) -> list[AcceptResult]:
        """Commit several intakes as one job: the writer runs a job in one savepoint, so all or none.

        A conflict names the message of the body it is in (``message N: ...``).
        """
        for intake in intakes:
            self._check_space(intake)
        jobs = [self._accept_job(intake) for intake in intakes]

        def job(conn: sqlite3.Connection) -> list[AcceptResult]:
            return read_each(jobs, lambda one: one(conn))

        return await self._writer.submit_async(job)

    # -- delivery ----------------------------------------------------------------------------
    def _claim_job(
        self, limit: int, now: float, lease_seconds: float, expired_by: float
    ) -> Callable[[sqlite3.Connection], Claimed]:
        def job(conn: sqlite3.Connection) -> Claimed:
            lease_id = secrets.token_hex(8)
            due = sqlite_claims.claimable(conn, limit, now, expired_by)
            ids, fired, cancelled = notice_claims.claimed(conn.execute, lambda e: self._append_events(conn, e), due,
                                                          expired_by)  # fmt: skip
            if not ids:
                return Claimed([], cancelled)
            lease = sql.LEASE.format(marks=sql.marks(len(ids)))
            rows = conn.execute(lease, (now + lease_seconds, lease_id, *ids)).fetchall()
            record_ids = list({r[1] for r in rows})
            bodies: dict[str, tuple[Any, ...]] = {}
            for start in range(0, len(record_ids), 500):
                chunk = record_ids[start : start + 500]
                for r in conn.execute(sql.CLAIMED_BODIES.format(marks=sql.marks(len(chunk))), chunk):
                    bodies[r[0]] = r
            jobs = []
            unreadable: list[HubEvent] = []
            overtaking = sqlite_claims.overtaking_warnings(conn, rows, now)
            for delivery_id, record_id, partner, attempts, _key, _seq in rows:
                _, message_id, sender, mtype, codec, data, kek_id, wrapped, received_at = bodies[record_id]
                try:
                    body = self.codecs.decode(record_id, mtype, sender, StoredBody(codec, data, kek_id, wrapped))
                except BodyUnreadable as exc:  # no retry can help: dead-letter it with the reason
                    conn.execute(sql.DEAD_UNREADABLE, (f"body unreadable: {exc}", delivery_id))
                    conn.execute(sql.WAKE_NEXT, {"at": now, "delivery_id": delivery_id})
                    unreadable.append(HubEvent("dead_lettered", record_id, now, delivery_id, partner,
                                               {"attempts": attempts, "error": f"body unreadable: {exc}"}))  # fmt: skip
                    continue
                jobs.append(
                    DeliveryJob(
                        delivery_id, record_id, message_id, partner, attempts, mtype, body, received_at, lease_id
                    )
                )
            self._append_events(conn, overtaking + unreadable)
            return notice_claims.carry(jobs, fired, cancelled + overtaking + unreadable)

        return job

    async def claim(self, limit: int, now: float, lease_seconds: float, *, expired_by: float | None = None) -> Claimed:
        """Lease due push deliveries (pending, or in flight with a lease that ended by ``expired_by``)."""
        return await self._writer.submit_async(
            self._claim_job(limit, now, lease_seconds, now if expired_by is None else expired_by)
        )

    async def extend_leases(self, leases: list[tuple[str, str]], until: float) -> int:
        """Lengthen the leases ``(delivery id, lease id)`` still held to at least ``until``; return how many."""
        if not leases:
            return 0

        def job(conn: sqlite3.Connection) -> int:
            return sum(conn.execute(sql.EXTEND_LEASE, (until, d, lease)).rowcount for d, lease in leases)

        return await self._writer.submit_async(job)

    def _record_job(self, outcomes: list[Outcome]) -> Callable[[sqlite3.Connection], list[HubEvent]]:
        def job(conn: sqlite3.Connection) -> list[HubEvent]:
            events: list[HubEvent] = []
            for o in outcomes:
                if o.state == DeliveryState.DELIVERED:
                    changed = conn.execute(sql.RECORD_DELIVERED, (o.at, o.receipt, o.delivery_id, o.lease_id))
                elif o.state == DeliveryState.PENDING:
                    changed = conn.execute(sql.RECORD_RETRY, (o.due_at, o.error, o.delivery_id, o.lease_id))
                else:
                    changed = conn.execute(sql.RECORD_DEAD, (o.error, o.delivery_id, o.lease_id))
                row = changed.fetchone()  # (order key,) when it changed; None when the lease was lost
                if row is not None and row[0] is not None and o.state != DeliveryState.PENDING:
                    conn.execute(sql.WAKE_NEXT, {"at": o.at, "delivery_id": o.delivery_id})  # the next of its key
                if row is not None:  # otherwise the lease was lost to another worker, whose outcome counts
                    events += outcome_events(o)
            self._append_events(conn, events)
            return events

        return job

    async def record(self, outcomes: list[Outcome]) -> list[HubEvent]:
        """Commit delivery outcomes (grouped)."""
        return await self._writer.submit_async(self._record_job(outcomes))

    def replay(self, ids: list[str] | None, now: float) -> list[HubEvent]:
        """Make dead deliveries due again; ``ids`` are delivery ids or message record ids."""

        def job(conn: sqlite3.Connection) -> list[HubEvent]:
            if ids is None:
                rows = conn.execute(sql.ALL_DEAD).fetchall()
            else:
                rows = []
                for one in ids:
                    rows += conn.execute(sql.DEAD_BY_ID, (one, one)).fetchall()
            events = []
            for delivery_id, record_id, partner in rows:
                conn.execute(sql.REPLAY, (now, delivery_id))
                events.append(HubEvent("replayed", record_id, now, delivery_id, partner))
            self._append_events(conn, events)
            return events

        return self._writer.run(job)

    def ack_inbox(self, partner: str, delivery_id: str, now: float) -> list[HubEvent] | None:
        """Mark a pulled delivery delivered; None when it is not this partner's or not waiting."""

        def job(conn: sqlite3.Connection) -> list[HubEvent] | None:
            row = conn.execute(sql.ACK_INBOX, (now, delivery_id, partner)).fetchone()
            if row is None:
                return None
            event = HubEvent("delivered", row[0], now, delivery_id, partner, {"via": "inbox"})
            self._append_events(conn, [event])
            return [event]

        return self._writer.run(job)

    # -- the audit log (the upkeep writes are hub.store.upkeep_backend's) ----------------------------
    async def audit_async(self, events: list[HubEvent]) -> None:
        """``audit`` without blocking the event loop (grouped with other commits)."""
        await self._writer.submit_async(lambda conn: self._append_events(conn, events))

    def verify_audit(self) -> ChainReport:
        """Walk the audit chain and report the first broken link (on a connection of its own)."""
        conn = _connect(self.path)
        try:
            return verify((r[0], r[1], r[2], tuple(r[3:])) for r in conn.execute(sql.CHAIN_ROWS))
        finally:
            conn.close()

    # -- the rebuilds of the blind index and the fingerprints (hub.store.rebuild_backend) -------
    def _rebuild_write(self, job: WriteJob) -> Any:
        return self._writer.run(lambda conn: job(conn, "sqlite", lambda events: self._append_events(conn, events)))

    def _rebuild_read(self, job: Callable[[Any, str], Any]) -> Any:
        return job(self._reader(), "sqlite")

    def _rebuild_lock(self, purpose: str) -> RebuildLock | None:
        return sqlite_lock(self.path, purpose)

    # -- reads (the message reads are hub.store.message_reads') ---------------------------------
    def _mapped_read(self, statement: str, args: Sequence[Any] = ()) -> list[Any]:
        """The rows of one read, each a mapping keyed by column name (``sqlite3.Row``)."""
        return self._reader().execute(statement, tuple(args)).fetchall()


def open_sqlite(url: str, codecs: CodecRegistry, options: StoreOptions | None = None) -> SQLiteStore:
    """The SQLite store a ``sqlite:///`` URL names (made absolute by the configuration).

    Of ``options`` only ``reserve_bytes`` applies (``hub.store.disk_space``); the pool's are PostgreSQL's.
    """
    return SQLiteStore(sqlite_path(url), codecs, (options or StoreOptions()).reserve_bytes)
