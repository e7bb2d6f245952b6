"""The PostgreSQL store: any number of hub processes, on one or several machines, around one database.

Selected by ``[store] url = "postgresql://user@host:5432/dbname"`` (any libpq URI; a password in
it is never shown: messages name the store by ``url.describe``). Opening applies the schema's
migrations under an advisory lock (``postgres_schema``), then:

- writes go through one writer thread per process that groups jobs into one transaction with a
  savepoint each (``postgres_writer``), so a burst of messages costs one commit, not one each;
- reads take a connection from a pool (``psycopg_pool``, at most ``[store] pool_size`` per process, each
  wait at most ``pool_timeout_seconds``); the writer has a connection of its own (a pool of one, so that a
  broken connection is replaced); a fault of the database or the pools is ``StoreUnavailable``
  (``postgres_pool``), never a hang or a bare driver error;
- claims lock the rows they lease with ``FOR UPDATE SKIP LOCKED``, so workers in several processes
  never take the same delivery while its lease lives; a lease that runs out makes it due again,
  and ``extend_leases`` is the worker's heartbeat; outcomes count only under their lease;
- the audit chain's head is one locked row, so the events of every process form one chain;
- ``watch`` hears the ``NOTIFY`` of other processes' commits that made deliveries due.

Rows are shaped by ``hub.store.views`` exactly as the SQLite store's, so both show the same. What both stores do
alike is written once: the message reads (``hub.store.message_reads``), the upkeep writes
(``hub.store.upkeep_backend``), the pathway, console, users, alerts and rebuilds (``*_backend.py``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import psycopg

from hub.bodies import BodyUnreadable, CodecRegistry, StoredBody
from hub.plugin_api.events import HubEvent
from hub.plugin_api.problems import Conflict, Problem, read_each
from hub.store import notice_claims
from hub.store import postgres_sql as sql
from hub.store.alerts_backend import AlertsOnBackend
from hub.store.audit_chain import ChainReport, verify
from hub.store.backend_steps import outcome_events
from hub.store.console_backend import ConsoleOnBackend
from hub.store.message_reads import MessageReadsOnBackend
from hub.store.pathway_backend import PathwayOnBackend
from hub.store.ports import Store, StoreOptions
from hub.store.postgres_connect import connect, unreachable
from hub.store.postgres_notify import DueWatcher
from hub.store.postgres_pool import PING_WAIT_SECONDS, Pools, fetch
from hub.store.postgres_schema import migrate
from hub.store.postgres_writer import Keys, PostgresWriter, Tx
from hub.store.rebuild_backend import RebuildsOnBackend, WriteJob
from hub.store.rebuild_lock import RebuildLock, postgres_lock
from hub.store.records import (
    OVERTAKING_WARNING,
    AcceptResult,
    Claimed,
    DeliveryJob,
    DeliveryState,
    Intake,
    Outcome,
    reuses_id_for_other_content,
)
from hub.store.upkeep_backend import UpkeepOnBackend
from hub.store.users_backend import UsersOnBackend

POSTGRESQL = "postgresql"
CLAIM_WALK_ROWS = 2_000
"""The most due deliveries one claim looks at (see ``_claimable``)."""


def _claimable(conn: psycopg.Connection[Any], limit: int, now: float, expired_by: float) -> dict[str, float]:
    """Up to ``limit`` due deliveries that nothing holds back, locked, oldest due first: id -> due time.

    As the SQLite store's ``sqlite_claims.claimable``: walks the due pending deliveries (``postgres_sql.PENDING_DUE``,
    a server-side cursor that locks the rows it yields and skips those other claims hold) until it has
    ``limit``, or has walked ``CLAIM_WALK_ROWS``; parks the held-back ones it walked past
    (``postgres_sql.PARK``, which looks again at their elders, now); then takes expired leases nothing
    holds back. Rows walked but not used stay locked until the claim commits, unchanged.
    """
    taken: list[tuple[float, str]] = []
    held: list[str] = []
    walked = 0
    # the walk's estimated cost (a subquery per due row, all of them) makes the planner compile it with
    # JIT, which took a second of every claim on 100,000 pending; the walk reads a few rows: no JIT
    conn.execute(sql.NO_JIT)
    with conn.cursor(name="hub-claim-walk") as walk:
        walk.execute(sql.PENDING_DUE, (now,))
        chunk = limit
        while len(taken) < limit and walked < CLAIM_WALK_ROWS:
            rows = walk.fetchmany(min(chunk, CLAIM_WALK_ROWS - walked))
            for delivery_id, due_at, held_until in rows:
                walked += 1
                if held_until is None:
                    taken.append((due_at, delivery_id))
                    if len(taken) == limit:
                        break
                else:
                    held.append(delivery_id)
            if not rows:
                break
            chunk = max(chunk * 4, 256)  # held-back rows in the way: read on in bigger chunks
    if held:
        conn.execute(sql.PARK, (now, held))
    taken += [(due_at, delivery_id) for delivery_id, due_at in conn.execute(sql.EXPIRED_DUE, (expired_by, limit))]
    return {delivery_id: due_at for due_at, delivery_id in sorted(taken)[:limit]}


def _overtaking_warnings(conn: psycopg.Connection[Any], claimed: list[Any], now: float) -> list[HubEvent]:
    """A ``warning`` event for each ordered delivery claimed for the first time before a dead-lettered elder."""
    first = {r[0]: r for r in claimed if r[4] is not None and r[3] == 1}
    if not first:
        return []
    overtook: dict[str, list[str]] = {}
    for delivery_id, dead_id in conn.execute(sql.DEAD_ELDERS, (list(first),)):
        overtook.setdefault(delivery_id, []).append(dead_id)
    events = []
    for delivery_id, dead in overtook.items():
        _, record_id, partner, *_ = first[delivery_id]
        detail = {"warning": OVERTAKING_WARNING, "overtook": dead}
        events.append(HubEvent("warning", record_id, now, delivery_id, partner, detail))
    return events


class PostgresStore(
    PathwayOnBackend,
    AlertsOnBackend,
    UsersOnBackend,
    ConsoleOnBackend,
    RebuildsOnBackend,
    MessageReadsOnBackend,
    UpkeepOnBackend,
    Store,
):
    """``Store`` on a PostgreSQL database (see the module docstring)."""

    _NOT_FOR_ORDER = "{}"

    def _pathway_write(self, job: Callable[[Any, Any], Any]) -> Any:
        """The pathway's write ``job(execute, append)`` in the writer's transaction (``?`` become ``%s``)."""
        return self._writer.run(lambda tx: job(lambda st, a: tx.conn.execute(st.replace("?", "%s"), tuple(a)),
                                               tx.append))  # fmt: skip

    def _pathway_write_storing(self, job: Callable[[Any, Any, Any], Any]) -> Any:
        """``_pathway_write`` with ``accept(intake)`` in the same transaction."""

        def accept(tx: Tx, intake: Intake) -> AcceptResult:  # its rows in at once: the job goes on to read them
            result = self._accept_job(intake)(tx)
            tx.flush()
            return result

        return self._writer.run(lambda tx: job(lambda st, a: tx.conn.execute(st.replace("?", "%s"), tuple(a)),
                                               tx.append, lambda intake: accept(tx, intake)))  # fmt: skip

    def _pathway_read(self, statement: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one pathway read."""
        return [tuple(r) for r in self._rows(statement.replace("?", "%s"), tuple(args))]

    def __init__(self, url: str, codecs: CodecRegistry, options: StoreOptions | None = None) -> None:
        self.url = url
        self.codecs = codecs
        with connect(url) as setup:
            try:
                migrate(setup)
            except psycopg.Error as exc:
                raise unreachable(url, exc) from None
        self._pools = Pools(url, options or StoreOptions())
        self._connection = self._pools.reading
        self._writer = PostgresWriter(self._pools.write, self._pools.unavailable)
        self._watcher = DueWatcher(url)
        self._closed = False
        # the connection of the snapshot this context reads in (``_snapshot``), if any
        self._pinned: ContextVar[psycopg.Connection[Any] | None] = ContextVar(f"hub-store-{id(self)}", default=None)

    # -- connections -------------------------------------------------------------------------
    def _rows(self, statement: str, args: Any = (), mapping: bool = False) -> list[Any]:
        pinned = self._pinned.get()
        if pinned is not None:
            return fetch(pinned, statement, args, mapping)
        with self._connection() as conn:
            return fetch(conn, statement, args, mapping)

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """This context's reads on one connection, in one repeatable-read transaction (``message_reads``)."""
        if self._pinned.get() is not None:
            yield
            return
        with self._connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            token = self._pinned.set(conn)
            try:
                yield
            finally:
                self._pinned.reset(token)

    def _one(self, statement: str, args: Any = ()) -> Any:
        rows = self._rows(statement, args)
        return rows[0] if rows else None

    def close(self) -> None:
        """Finish queued commits, stop listening, close every connection."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        self._watcher.close()
        self._pools.close()

    def compact(self) -> bool:
        """VACUUM the tables shredding and delivery rewrite (never blocks the hub); always True.

        PostgreSQL keeps old row versions until VACUUM marks them free (autovacuum does it too);
        their space is reused, not returned to the system, and old versions stay in WAL and
        backups until those are recycled (see docs/scaling.md).
        """
        with connect(self.url) as conn:
            conn.execute(sql.VACUUM)
        return True

    def ping(self) -> None:
        """Raise unless the writer runs and the database answers a query (``StoreUnavailable`` if it does not).

        Waits ``PING_WAIT_SECONDS`` at most (less if ``pool_timeout_seconds`` is shorter) for a connection.
        """
        if self._closed or not self._writer.alive:
            raise RuntimeError("the store is closed or its writer thread has stopped")
        with self._connection(min(PING_WAIT_SECONDS, self._pools.options.pool_timeout_seconds)) as conn:
            conn.execute("SELECT 1")

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from another thread) whenever a commit anywhere made deliveries due."""
        self._watcher.add(callback)

    # -- intake ------------------------------------------------------------------------------
    def _accept_job(self, intake: Intake) -> Callable[[Tx], AcceptResult]:
        first = intake.messages[0]

        def job(tx: Tx) -> AcceptResult:
            conn = tx.conn
            existing = tx.find_existing(first.sender, first.message_id, first.idempotency_key)
            if existing is not None and reuses_id_for_other_content(existing.fingerprint, first):
                raise Conflict(
                    f"This {existing.reused} was already used for a different message ({existing.id}); "
                    "give each new message its own id and key.",
                    [Problem("$.message_id" if existing.reused == "message_id" else "header Idempotency-Key",
                             "already used for a different message")],
                )  # fmt: skip
            if existing is not None:
                event = HubEvent("duplicate", existing.id, time.time(), detail={"message_id": first.message_id})
                tx.append([event])
                return AcceptResult(existing.id, True, [event])
            rows = []
            for m in intake.messages:
                stored = self.codecs.encode(m.id, m.type, m.sender, m.body)
                rows.append(
                    (
                        m.id, m.message_id, m.sender, m.type, m.correlation_id, m.in_reply_to,
                        m.parent_id, m.idempotency_key, m.fingerprint, m.received_at, stored.codec, stored.data,
                        stored.kek_id, stored.wrapped_key, m.nhs_index, m.status, m.status_at, m.answers_record,
                    )
                )  # fmt: skip
            now = first.received_at
            unordered, ordered = [], []
            for d in intake.deliveries:
                state = DeliveryState.PENDING.value if d.mode == "push" else DeliveryState.AVAILABLE.value
                due = now if d.not_before is None else max(now, d.not_before)  # a scheduled delivery
                planned = (d.id, d.message_record_id, d.partner, d.route, d.mode, state, due, now)
                if d.order_key is None:
                    unordered.append(planned)
                else:  # in planned order: each takes the next place in its key's order
                    ordered.append((*planned, d.order_key))
            for m in intake.messages:
                tx.stored(m.sender, m.message_id, m.idempotency_key, m.id, m.fingerprint)
            tx.insert(sql.INSERT_MESSAGES, rows)  # with the group's other intakes (Tx.insert)
            tx.insert(sql.INSERT_DELIVERIES, unordered)
            # the keys' locks first, in a statement of their own (postgres_sql.LOCK_ORDER_KEYS); through
            # Tx.insert, so that in a pipelined group one statement locks the group's keys before its rows go in
            tx.insert(sql.LOCK_ORDER_KEYS, [(row[-1],) for row in ordered])
            tx.insert(sql.INSERT_ORDERED_DELIVERIES, ordered)
            tx.insert(sql.INSERT_INDEX_ENTRIES, list(intake.index_entries))
            if any(d.mode == "push" for d in intake.deliveries):
                tx.due()
            events = list(intake.events)
            if intake.acknowledges is not None:
                delivery_id, state, ack_id = intake.acknowledges
                tx.flush()  # the acknowledged delivery may be among the group's rows not yet inserted
                row = conn.execute(sql.ACKNOWLEDGE_DELIVERY, (state, now, delivery_id)).fetchone()
                if row is not None:
                    if conn.execute(sql.WAKE_NEXT, ([delivery_id], [now])).fetchall():
                        tx.due()  # the partner has it: the next of its key may go
                    events.append(HubEvent(state, row[0], now, delivery_id, row[1], detail={"acknowledgement": ack_id}))
            tx.append(events)
            return AcceptResult(first.id, False, events)

        return job

    @staticmethod
    def _keys(intakes: list[Intake]) -> Keys:
        return [(i.messages[0].sender, i.messages[0].message_id, i.messages[0].idempotency_key) for i in intakes]

    async def accept(self, intake: Intake) -> AcceptResult:
        """Commit an intake (grouped with concurrent ones); resolves after the durable commit."""
        return await asyncio.wrap_future(self._writer.submit(self._accept_job(intake), self._keys([intake])))

    def accept_now(self, intake: Intake) -> AcceptResult:
        """Commit an intake and wait for it."""
        return self._writer.submit(self._accept_job(intake), self._keys([intake])).result()

    async def accept_all(self, intakes: list[Intake]) -> list[AcceptResult]:
        """Commit several intakes as one job (one savepoint): all or none.

        A conflict names the message of the body it is in (``message N: ...``).
        """
        jobs = [self._accept_job(intake) for intake in intakes]

        def job(tx: Tx) -> list[AcceptResult]:
            return read_each(jobs, lambda one: one(tx))

        return await asyncio.wrap_future(self._writer.submit(job, self._keys(intakes)))

    # -- delivery ----------------------------------------------------------------------------
    def _claim_job(self, limit: int, now: float, lease_seconds: float, expired_by: float) -> Callable[[Tx], Claimed]:
        def job(tx: Tx) -> Claimed:
            conn = tx.conn
            lease_id = secrets.token_hex(8)
            due = _claimable(conn, limit, now, expired_by)
            ex = lambda st, a: conn.execute(st.replace("?", "%s"), tuple(a))  # noqa: E731
            kept, fired, cancelled = notice_claims.claimed(ex, tx.append, list(due), expired_by,
                                                           notice_claims.SKIP_LOCKED)  # fmt: skip
            due = {i: due[i] for i in kept}
            if not due:
                return Claimed([], cancelled)
            rows = conn.execute(sql.LEASE, (now + lease_seconds, lease_id, list(due))).fetchall()
            rows.sort(key=lambda r: (due[r[0]], r[0]))  # oldest due first
            bodies = {r[0]: r for r in conn.execute(sql.CLAIMED_BODIES, (list({r[1] for r in rows}),))}
            jobs = []
            unreadable: list[HubEvent] = []
            overtaking = _overtaking_warnings(conn, rows, now)
            for delivery_id, record_id, partner, attempts, _key, _seq in rows:
                _, message_id, sender, mtype, codec, data, kek_id, wrapped, received_at = bodies[record_id]
                try:
                    body = self.codecs.decode(record_id, mtype, sender, StoredBody(codec, data, kek_id, wrapped))
                except BodyUnreadable as exc:  # no retry can help: dead-letter it with the reason
                    conn.execute(sql.DEAD_UNREADABLE, (f"body unreadable: {exc}", delivery_id))
                    if conn.execute(sql.WAKE_NEXT, ([delivery_id], [now])).fetchall():
                        tx.due()
                    unreadable.append(HubEvent("dead_lettered", record_id, now, delivery_id, partner,
                                               {"attempts": attempts, "error": f"body unreadable: {exc}"}))  # fmt: skip
                    continue
                jobs.append(
                    DeliveryJob(
                        delivery_id, record_id, message_id, partner, attempts, mtype, body, received_at, lease_id
                    )
                )
            tx.append(overtaking + unreadable)
            return notice_claims.carry(jobs, fired, cancelled + overtaking + unreadable)

        return job

    async def claim(self, limit: int, now: float, lease_seconds: float, *, expired_by: float | None = None) -> Claimed:
        """Lease due push deliveries, skipping those another process is claiming."""
        job = self._claim_job(limit, now, lease_seconds, now if expired_by is None else expired_by)
        return await asyncio.wrap_future(self._writer.submit(job))

    async def extend_leases(self, leases: list[tuple[str, str]], until: float) -> int:
        """Lengthen the leases ``(delivery id, lease id)`` still held to at least ``until``; return how many."""
        if not leases:
            return 0

        def job(tx: Tx) -> int:
            held = 0
            with tx.conn.cursor() as cursor:
                for delivery_id, lease_id in leases:
                    held += cursor.execute(sql.EXTEND_LEASE, (until, delivery_id, lease_id)).rowcount
            return held

        return await asyncio.wrap_future(self._writer.submit(job))

    def _record_job(self, outcomes: list[Outcome]) -> Callable[[Tx], list[HubEvent]]:
        def job(tx: Tx) -> list[HubEvent]:
            conn = tx.conn
            events: list[HubEvent] = []
            delivered = [o for o in outcomes if o.state == DeliveryState.DELIVERED]
            # (delivery id, lease id) -> order key, for each outcome whose update changed its row
            changed: dict[tuple[str, str], str | None] = {}
            if delivered:  # one round trip for all of them, not one per delivery
                columns = ([o.delivery_id for o in delivered], [o.lease_id for o in delivered],
                           [o.at for o in delivered], [o.receipt for o in delivered])  # fmt: skip
                for delivery_id, lease_id, key in conn.execute(sql.RECORD_DELIVERED_MANY, columns).fetchall():
                    changed[(delivery_id, lease_id)] = key
            ended: list[Outcome] = []  # ordered deliveries that ended: their key's next may go
            for o in outcomes:
                if o.state == DeliveryState.PENDING:
                    row = conn.execute(sql.RECORD_RETRY, (o.due_at, o.error, o.delivery_id, o.lease_id)).fetchone()
                elif o.state != DeliveryState.DELIVERED:
                    row = conn.execute(sql.RECORD_DEAD, (o.error, o.delivery_id, o.lease_id)).fetchone()
                else:
                    row = (changed[(o.delivery_id, o.lease_id)],) if (o.delivery_id, o.lease_id) in changed else None
                if row is None:  # the lease was lost to another worker, whose outcome counts
                    continue
                if o.state != DeliveryState.PENDING and row[0] is not None:
                    ended.append(o)
                events += outcome_events(o)
            if ended and conn.execute(sql.WAKE_NEXT, ([o.delivery_id for o in ended],
                                                     [o.at for o in ended])).fetchall():  # fmt: skip
                tx.due()
            tx.append(events)
            return events

        return job

    async def record(self, outcomes: list[Outcome]) -> list[HubEvent]:
        """Commit delivery outcomes (grouped)."""
        return await asyncio.wrap_future(self._writer.submit(self._record_job(outcomes)))

    def replay(self, ids: list[str] | None, now: float) -> list[HubEvent]:
        """Make dead deliveries due again; ``ids`` are delivery ids or message record ids."""

        def job(tx: Tx) -> list[HubEvent]:
            conn = tx.conn
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
            if events:
                tx.due()
            tx.append(events)
            return events

        return self._writer.run(job)

    def ack_inbox(self, partner: str, delivery_id: str, now: float) -> list[HubEvent] | None:
        """Mark a pulled delivery delivered; None when it is not this partner's or not waiting."""

        def job(tx: Tx) -> list[HubEvent] | None:
            row = tx.conn.execute(sql.ACK_INBOX, (now, delivery_id, partner)).fetchone()
            if row is None:
                return None
            event = HubEvent("delivered", row[0], now, delivery_id, partner, {"via": "inbox"})
            tx.append([event])
            return [event]

        return self._writer.run(job)

    # -- the audit log (the upkeep writes are hub.store.upkeep_backend's) ----------------------------
    _TAKE = "FOR UPDATE OF {} SKIP LOCKED"  # an upkeep batch: processes at work at once never take one row twice

    async def audit_async(self, events: list[HubEvent]) -> None:
        """``audit`` without blocking the event loop (grouped with other commits)."""
        await asyncio.wrap_future(self._writer.submit(lambda tx: tx.append(events)))

    def verify_audit(self) -> ChainReport:
        """Walk the audit chain in ``seq`` order and report the first broken link (a server-side cursor)."""
        with self._connection() as conn, conn.transaction(), conn.cursor(name="hub-audit-verify") as cursor:
            cursor.itersize = 5000
            cursor.execute(sql.CHAIN_ROWS)
            return verify((r[0], r[1], r[2], tuple(r[3:])) for r in cursor)

    # -- the rebuilds of the blind index and the fingerprints (hub.store.rebuild_backend) -------
    def _rebuild_write(self, job: WriteJob) -> Any:
        return self._writer.run(lambda tx: job(tx.conn, POSTGRESQL, tx.append))

    def _rebuild_read(self, job: Callable[[Any, str], Any]) -> Any:
        with self._connection() as conn:
            return job(conn, POSTGRESQL)

    def _rebuild_lock(self, purpose: str) -> RebuildLock | None:
        return postgres_lock(self.url, purpose)

    # -- reads (the message reads are hub.store.message_reads') ---------------------------------
    _PARTNER_FIRST = "JOIN"  # PostgreSQL has no CROSS JOIN ... ON, and starts from the partner's entries anyway

    def _mapped_read(self, statement: str, args: Sequence[Any] = ()) -> list[Any]:
        """The rows of one read (``?`` become ``%s``), each a mapping keyed by column name."""
        return self._rows(statement.replace("?", "%s"), tuple(args), mapping=True)

    def _in(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column`` is one of ``values``, passed as one array: one statement, whatever the number of values."""
        return f"{column} = ANY(?::text[])", [list(values)]


def open_postgres(url: str, codecs: CodecRegistry, options: StoreOptions | None = None) -> PostgresStore:
    """The PostgreSQL store a ``postgresql://`` URL names, migrated and ready, with ``options``' pool size and wait."""
    return PostgresStore(url, codecs, options)
