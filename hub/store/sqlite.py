"""The embedded default store: one SQLite file in WAL mode with durable, grouped commits.

Writes go through one writer thread (``GroupCommitter``); reads use their own
connection, which WAL lets run beside the writer. Several processes (``hub
serve`` and ``hub worker``, or the CLI beside a running server) may share the
file: SQLite serialises their write transactions and ``busy_timeout`` makes a
writer wait its turn instead of failing.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from hub.bodies import BodyUnreadable, CodecRegistry, StoredBody
from hub.events import HubEvent
from hub.outcomes import add_outcomes
from hub.problems import Conflict, Problem, read_each
from hub.store.audit_chain import GENESIS, ChainReport, row_hash, verify
from hub.store.base import (
    AcceptResult,
    DeliveryJob,
    Intake,
    Outcome,
    ReplyTarget,
    Store,
)
from hub.store.group_commit import GroupCommitter
from hub.store.sqlite_schema import MIGRATIONS

BUSY_TIMEOUT_MS = 30_000


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA secure_delete=ON")  # shredded keys and bodies are overwritten, not left in free pages
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations; return the schema version now in force."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL)")
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    for version, sql in MIGRATIONS:
        if version in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # re-check under the write lock: another process may have migrated meanwhile
            if conn.execute("SELECT 1 FROM schema_migrations WHERE version=?", (version,)).fetchone():
                conn.execute("COMMIT")
                continue
            for statement in sql.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return max(v for v, _ in MIGRATIONS)


def _event_fields(event: HubEvent) -> tuple[Any, ...]:
    detail = orjson.dumps(event.detail, option=orjson.OPT_SORT_KEYS).decode() if event.detail else None
    return (event.record_id, event.delivery_id, event.partner, event.at, event.kind, detail, event.actor)


_INSERT_EVENT = (
    "INSERT INTO events (record_id, delivery_id, partner, at, kind, detail, actor, prev_hash, hash) "
    "VALUES (?,?,?,?,?,?,?,?,?)"
)
EVENT_FIELDS = "record_id, delivery_id, partner, at, kind, detail, actor"


def _append_events(conn: sqlite3.Connection, events: list[HubEvent]) -> None:
    """Append events to the hash-chained audit log, inside the caller's write transaction."""
    if not events:
        return
    row = conn.execute("SELECT hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    previous = (row[0] if row else None) or GENESIS
    rows = []
    for event in events:
        fields = _event_fields(event)
        current = row_hash(previous, fields)
        rows.append((*fields, previous, current))
        previous = current
    conn.executemany(_INSERT_EVENT, rows)


def _insert_index_entries(conn: sqlite3.Connection, entries: list[tuple[str, str, str]]) -> None:
    """Write NHS-number search entries ``(partner, blind index, record id)`` inside the caller's transaction."""
    if entries:
        conn.executemany("INSERT OR IGNORE INTO message_index (partner, nhs_index, record_id) VALUES (?,?,?)", entries)


# A partner's search reads only its own entries: the outer loop is the (partner, nhs_index) key of
# message_index (CROSS JOIN keeps SQLite from choosing another order), so the work done depends on
# that partner's entries alone, never on whether someone else's message holds the number.
FIND_FOR_PARTNER_SQL = (
    "SELECT m.id, m.message_id, m.type, m.sender, m.received_at FROM message_index i "
    "CROSS JOIN messages m ON m.id = i.record_id WHERE i.partner = ? AND i.nhs_index = ? ORDER BY m.received_at"
)
FIND_ALL_SQL = "SELECT id, message_id, type, sender, received_at FROM messages WHERE nhs_index = ? ORDER BY received_at"


class SQLiteStore(Store):
    """``Store`` on one SQLite file (see the module docstring)."""

    def __init__(self, path: Path, codecs: CodecRegistry) -> None:
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
        self._writer = GroupCommitter(lambda: _connect(self.path))
        self._local = threading.local()

    # -- connections -------------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Finish queued commits and close the writer."""
        self._writer.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def checkpoint(self) -> bool:
        """Copy the WAL into the database and truncate it; True when it could be done completely."""
        conn = _connect(self.path)
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return busy == 0
        finally:
            conn.close()

    def ping(self) -> None:
        """Raise unless the writer thread is alive and the database answers a query."""
        if not self._writer.alive:
            raise RuntimeError("the store's writer thread has stopped")
        self._reader().execute("SELECT 1").fetchone()

    # -- intake ------------------------------------------------------------------------------
    def _accept_job(self, intake: Intake) -> Any:
        first = intake.messages[0]

        def job(conn: sqlite3.Connection) -> AcceptResult:
            existing = conn.execute(
                "SELECT id, fingerprint FROM messages WHERE sender=? AND message_id=?",
                (first.sender, first.message_id),
            ).fetchone()
            reused = "message_id"
            if existing is None and first.idempotency_key:
                reused = "Idempotency-Key"
                existing = conn.execute(
                    "SELECT id, fingerprint FROM messages WHERE sender=? AND idempotency_key=?",
                    (first.sender, first.idempotency_key),
                ).fetchone()
            if existing is not None and existing[1] and first.fingerprint and existing[1] != first.fingerprint:
                raise Conflict(
                    f"This {reused} was already used for a different message ({existing[0]}); "
                    "give each new message its own id and key.",
                    [Problem("$.message_id" if reused == "message_id" else "header Idempotency-Key",
                             "already used for a different message")],
                )  # fmt: skip
            if existing is not None:
                event = HubEvent("duplicate", existing[0], time.time(), detail={"message_id": first.message_id})
                _append_events(conn, [event])
                return AcceptResult(existing[0], True, [event])
            rows = []
            for m in intake.messages:
                stored = self.codecs.encode(m.id, m.type, m.sender, m.body)
                rows.append(
                    (
                        m.id, m.message_id, m.sender, m.type, m.correlation_id, m.in_reply_to,
                        m.parent_id, m.idempotency_key, m.fingerprint, m.received_at, stored.codec, stored.data,
                        stored.kek_id, stored.wrapped_key, m.nhs_index,
                    )
                )  # fmt: skip
            conn.executemany(
                "INSERT INTO messages (id, message_id, sender, type, correlation_id, in_reply_to, parent_id, "
                "idempotency_key, fingerprint, received_at, body_codec, body, kek_id, data_key, nhs_index) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            now = first.received_at
            conn.executemany(
                "INSERT INTO deliveries (id, record_id, partner, route, mode, state, attempts, due_at, created_at)"
                " VALUES (?,?,?,?,?,?,0,?,?)",
                [
                    (d.id, d.message_record_id, d.partner, d.route, d.mode,
                     "pending" if d.mode == "push" else "available", now, now)
                    for d in intake.deliveries
                ],
            )  # fmt: skip
            _insert_index_entries(conn, intake.index_entries)
            events = list(intake.events)
            if intake.acknowledges is not None:
                delivery_id, state, ack_id = intake.acknowledges
                row = conn.execute(
                    "UPDATE deliveries SET state=?, acknowledged_at=? WHERE id=? "
                    "AND state IN ('pending','in_flight','available','delivered','acknowledged','rejected') "
                    "RETURNING record_id, partner",
                    (state, now, delivery_id),
                ).fetchone()
                if row is not None:
                    events.append(HubEvent(state, row[0], now, delivery_id, row[1], detail={"acknowledgement": ack_id}))
            _append_events(conn, events)
            return AcceptResult(first.id, False, events)

        return job

    async def accept(self, intake: Intake) -> AcceptResult:
        """Commit an intake (grouped with concurrent ones); resolves after the durable commit."""
        return await asyncio.wrap_future(self._writer.submit(self._accept_job(intake)))

    def accept_now(self, intake: Intake) -> AcceptResult:
        """Commit an intake and wait for it."""
        return self._writer.run(self._accept_job(intake))  # type: ignore[no-any-return]

    async def accept_all(self, intakes: list[Intake]) -> list[AcceptResult]:
        """Commit several intakes as one job: the writer runs a job in one savepoint, so all or none.

        A conflict names the message of the body it is in (``message N: ...``).
        """
        jobs = [self._accept_job(intake) for intake in intakes]

        def job(conn: sqlite3.Connection) -> list[AcceptResult]:
            return read_each(jobs, lambda one: one(conn))

        return await asyncio.wrap_future(self._writer.submit(job))  # type: ignore[no-any-return]

    # -- delivery ----------------------------------------------------------------------------
    def _claim_job(self, limit: int, now: float, lease_seconds: float) -> Any:
        def job(conn: sqlite3.Connection) -> list[DeliveryJob]:
            lease_id = secrets.token_hex(8)
            rows = conn.execute(
                "UPDATE deliveries SET state='in_flight', attempts=attempts+1, due_at=?, lease_id=? "
                "WHERE id IN (SELECT id FROM deliveries WHERE state IN ('pending','in_flight') AND due_at<=? "
                "ORDER BY due_at LIMIT ?) RETURNING id, record_id, partner, attempts",
                (now + lease_seconds, lease_id, now, limit),
            ).fetchall()
            if not rows:
                return []
            record_ids = list({r[1] for r in rows})
            bodies: dict[str, tuple[Any, ...]] = {}
            for start in range(0, len(record_ids), 500):
                chunk = record_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for r in conn.execute(
                    f"SELECT id, message_id, sender, type, body_codec, body, kek_id, data_key, received_at "
                    f"FROM messages WHERE id IN ({marks})",
                    chunk,
                ):
                    bodies[r[0]] = r
            jobs = []
            unreadable: list[HubEvent] = []
            for delivery_id, record_id, partner, attempts in rows:
                _, message_id, sender, mtype, codec, data, kek_id, wrapped, received_at = bodies[record_id]
                try:
                    body = self.codecs.decode(record_id, mtype, sender, StoredBody(codec, data, kek_id, wrapped))
                except BodyUnreadable as exc:  # no retry can help: dead-letter it with the reason
                    conn.execute(
                        "UPDATE deliveries SET state='dead', due_at=NULL, last_error=? WHERE id=?",
                        (f"body unreadable: {exc}", delivery_id),
                    )
                    unreadable.append(HubEvent("dead_lettered", record_id, now, delivery_id, partner,
                                               {"attempts": attempts, "error": f"body unreadable: {exc}"}))  # fmt: skip
                    continue
                jobs.append(
                    DeliveryJob(
                        delivery_id, record_id, message_id, partner, attempts, mtype, body, received_at, lease_id
                    )
                )
            _append_events(conn, unreadable)
            return jobs

        return job

    async def claim(self, limit: int, now: float, lease_seconds: float) -> list[DeliveryJob]:
        """Lease due push deliveries (pending, or in flight with an expired lease)."""
        return await asyncio.wrap_future(self._writer.submit(self._claim_job(limit, now, lease_seconds)))  # type: ignore[no-any-return]

    def _record_job(self, outcomes: list[Outcome]) -> Any:
        def job(conn: sqlite3.Connection) -> list[HubEvent]:
            events: list[HubEvent] = []
            for o in outcomes:
                if o.state == "delivered":
                    # an acknowledgement can overtake the transport's answer: keep its state then
                    changed = conn.execute(
                        "UPDATE deliveries SET state=CASE WHEN state='in_flight' THEN 'delivered' ELSE state END, "
                        "delivered_at=coalesce(delivered_at, ?), due_at=NULL, last_error=NULL, "
                        "receipt=coalesce(?, receipt) "
                        "WHERE id=? AND lease_id=? AND state IN ('in_flight', 'acknowledged', 'rejected')",
                        (o.at, o.receipt, o.delivery_id, o.lease_id),
                    ).rowcount
                    detail = {"attempts": o.attempts, **({"receipt": o.receipt} if o.receipt else {})}
                    event = HubEvent("delivered", o.record_id, o.at, o.delivery_id, o.partner, detail)
                elif o.state == "pending":
                    changed = conn.execute(
                        "UPDATE deliveries SET state='pending', due_at=?, last_error=? "
                        "WHERE id=? AND lease_id=? AND state='in_flight'",
                        (o.due_at, o.error, o.delivery_id, o.lease_id),
                    ).rowcount
                    retry_in = round((o.due_at or o.at) - o.at, 3)
                    detail = {"attempts": o.attempts, "error": o.error, "retry_in_seconds": retry_in}
                    detail |= {"failure": o.failure} if o.failure else {}
                    event = HubEvent("retry_scheduled", o.record_id, o.at, o.delivery_id, o.partner, detail)
                else:
                    changed = conn.execute(
                        "UPDATE deliveries SET state='dead', due_at=NULL, last_error=? "
                        "WHERE id=? AND lease_id=? AND state='in_flight'",
                        (o.error, o.delivery_id, o.lease_id),
                    ).rowcount
                    detail = {"attempts": o.attempts, "error": o.error}
                    detail |= {"failure": o.failure} if o.failure else {}
                    event = HubEvent("dead_lettered", o.record_id, o.at, o.delivery_id, o.partner, detail)
                if changed:  # otherwise the lease was lost to another worker, whose outcome counts
                    events.append(event)
                    events += [HubEvent("warning", o.record_id, o.at, o.delivery_id, o.partner, {"warning": w})
                               for w in o.warnings]  # fmt: skip
            _append_events(conn, events)
            return events

        return job

    async def record(self, outcomes: list[Outcome]) -> list[HubEvent]:
        """Commit delivery outcomes (grouped)."""
        return await asyncio.wrap_future(self._writer.submit(self._record_job(outcomes)))  # type: ignore[no-any-return]

    def replay(self, ids: list[str] | None, now: float) -> list[HubEvent]:
        """Make dead deliveries due again; ``ids`` are delivery ids or message record ids."""

        def job(conn: sqlite3.Connection) -> list[HubEvent]:
            if ids is None:
                rows = conn.execute("SELECT id, record_id, partner FROM deliveries WHERE state='dead'").fetchall()
            else:
                rows = []
                for one in ids:
                    rows += conn.execute(
                        "SELECT id, record_id, partner FROM deliveries WHERE state='dead' AND (id=? OR record_id=?)",
                        (one, one),
                    ).fetchall()
            events = []
            for delivery_id, record_id, partner in rows:
                conn.execute(
                    "UPDATE deliveries SET state='pending', attempts=0, due_at=? WHERE id=?", (now, delivery_id)
                )
                events.append(HubEvent("replayed", record_id, now, delivery_id, partner))
            _append_events(conn, events)
            return events

        return self._writer.run(job)  # type: ignore[no-any-return]

    def ack_inbox(self, partner: str, delivery_id: str, now: float) -> list[HubEvent] | None:
        """Mark a pulled delivery delivered; None when it is not this partner's or not waiting."""

        def job(conn: sqlite3.Connection) -> list[HubEvent] | None:
            row = conn.execute(
                "UPDATE deliveries SET state='delivered', delivered_at=?, attempts=attempts+1 "
                "WHERE id=? AND partner=? AND state='available' RETURNING record_id",
                (now, delivery_id, partner),
            ).fetchone()
            if row is None:
                return None
            event = HubEvent("delivered", row[0], now, delivery_id, partner, {"via": "inbox"})
            _append_events(conn, [event])
            return [event]

        return self._writer.run(job)  # type: ignore[no-any-return]

    # -- audit, keys and retention ---------------------------------------------------------------
    def audit(self, events: list[HubEvent]) -> None:
        """Append events that change no state (reads, searches, refused requests) to the audit log."""
        self._writer.run(lambda conn: _append_events(conn, events))

    async def audit_async(self, events: list[HubEvent]) -> None:
        """``audit`` without blocking the event loop (grouped with other commits)."""
        await asyncio.wrap_future(self._writer.submit(lambda conn: _append_events(conn, events)))

    def verify_audit(self) -> ChainReport:
        """Walk the audit chain and report the first broken link."""
        conn = _connect(self.path)
        try:
            cursor = conn.execute(f"SELECT seq, prev_hash, hash, {EVENT_FIELDS} FROM events ORDER BY seq")
            return verify((r[0], r[1], r[2], tuple(r[3:])) for r in cursor)
        finally:
            conn.close()

    def find_by_index(self, nhs_index: str, partner: str | None = None) -> list[dict[str, Any]]:
        """Messages about the person with this blind-index value: every one, or ``partner``'s search entries.

        A partner has an entry for what it sent and for what it received with the NHS number in
        its (minimised) copy; the lookup touches nothing else (``FIND_FOR_PARTNER_SQL``).
        """
        if partner is None:
            rows = self._reader().execute(FIND_ALL_SQL, (nhs_index,)).fetchall()
        else:
            rows = self._reader().execute(FIND_FOR_PARTNER_SQL, (partner, nhs_index)).fetchall()
        return [{"id": r[0], "message_id": r[1], "type": r[2], "sender": r[3], "received_at": _iso(r[4])} for r in rows]

    def reply_times(self) -> list[tuple[str, str, float, float | None, float | None]]:
        """For each delivered message: (partner, type, delivered at, first acknowledgement, first other reply).

        A reply is a message the partner sent with ``in_reply_to`` naming the delivered message; the
        first reply that is not an Acknowledgement is its answer (for a council: the first appointment).
        """
        return [
            tuple(r)  # type: ignore[misc]
            for r in self._reader().execute(
                "SELECT d.partner, m.type, d.delivered_at, "
                "(SELECT min(r.received_at) FROM messages r WHERE r.sender=d.partner AND r.in_reply_to=m.message_id "
                " AND r.type='Acknowledgement'), "
                "(SELECT min(r.received_at) FROM messages r WHERE r.sender=d.partner AND r.in_reply_to=m.message_id "
                " AND r.type!='Acknowledgement') "
                "FROM deliveries d JOIN messages m ON m.id=d.record_id "
                "WHERE d.delivered_at IS NOT NULL AND m.type!='Acknowledgement'"
            )
        ]

    def key_usage(self) -> dict[str, int]:
        """How many stored data keys each KEK wraps."""
        rows = self._reader().execute("SELECT kek_id, count(*) FROM messages WHERE kek_id IS NOT NULL GROUP BY kek_id")
        return {r[0]: r[1] for r in rows}

    def rewrap(self, keys: Any, batch_size: int = 500) -> int:
        """Re-wrap one batch of data keys not under the primary KEK; return how many (0 when done).

        Bodies are never touched: only the 60-byte wrapped keys change.
        """
        from hub.crypto.at_rest import unwrap_data_key, wrap_data_key

        primary = keys.primary_kek_id()
        infos = getattr(keys, "infos", None)
        retired = [i.id for i in infos() if i.status == "retired"] if infos else []
        skip = ",".join("?" * len(retired)) or "''"

        def job(conn: sqlite3.Connection) -> int:
            rows = conn.execute(
                f"SELECT id, kek_id, data_key FROM messages WHERE kek_id IS NOT NULL AND kek_id != ? "
                f"AND kek_id NOT IN ({skip}) LIMIT ?",
                (primary, *retired, batch_size),
            ).fetchall()
            for record_id, kek_id, wrapped in rows:
                data_key = unwrap_data_key(keys, record_id, kek_id, wrapped)
                new_kek, new_wrapped = wrap_data_key(keys, record_id, data_key, primary)
                conn.execute("UPDATE messages SET kek_id=?, data_key=? WHERE id=?", (new_kek, new_wrapped, record_id))
            if rows:
                _append_events(conn, [HubEvent("rewrapped", "", time.time(), detail={"count": len(rows), "to": primary},
                                               actor="keys")])  # fmt: skip
            return len(rows)

        return self._writer.run(job)  # type: ignore[no-any-return]

    def shred_expired(self, retention_days: dict[str, float], now: float, actor: str = "retention") -> int:
        """Destroy the data keys (and ciphertexts) of messages past their type's retention; return the count.

        A message is shredded only once all its deliveries are finished (delivered,
        acknowledged, rejected or dead). Its keyed fingerprint, blind-index value and search
        entries go with the body; routing metadata and the audit trail stay.
        """

        def job(conn: sqlite3.Connection) -> int:
            total = 0
            for message_type, days in retention_days.items():
                cutoff = now - days * 86400
                rows = conn.execute(
                    "SELECT id FROM messages m WHERE type=? AND received_at < ? AND shredded_at IS NULL "
                    "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.record_id=m.id "
                    "AND d.state IN ('pending','in_flight','available'))",
                    (message_type, cutoff),
                ).fetchall()
                for (record_id,) in rows:
                    conn.execute(
                        "UPDATE messages SET data_key=NULL, kek_id=NULL, body=NULL, nhs_index=NULL, fingerprint=NULL, "
                        "shredded_at=? WHERE id=?",
                        (now, record_id),
                    )
                    conn.execute("DELETE FROM message_index WHERE record_id=?", (record_id,))
                    conn.execute("DELETE FROM upgrade_pending WHERE record_id=?", (record_id,))
                events = [
                    HubEvent("shredded", r[0], now, detail={"type": message_type, "retention_days": days}, actor=actor)
                    for r in rows
                ]
                _append_events(conn, events)
                total += len(rows)
            return total

        return self._writer.run(job)  # type: ignore[no-any-return]

    def complete_upgrades(
        self,
        fingerprint: Callable[[dict[str, Any]], str],
        index_for: Callable[[str, dict[str, Any]], str | None],
        batch_size: int = 200,
    ) -> int:
        """Do what migration 3 left in ``upgrade_pending``, in batches; return how many items were done.

        ``fingerprint``: re-key an unkeyed fingerprint (a body that cannot be read loses it).
        ``recipient_index``: write a recipient's search entry when ``index_for`` says its copy
        carried the NHS number. Nothing to do costs one query.
        """
        if self._reader().execute("SELECT 1 FROM upgrade_pending LIMIT 1").fetchone() is None:
            return 0

        def job(conn: sqlite3.Connection) -> int:
            rows = conn.execute(
                "SELECT u.task, u.record_id, u.partner, m.type, m.sender, m.body_codec, m.body, m.kek_id, m.data_key "
                "FROM upgrade_pending u LEFT JOIN messages m ON m.id = u.record_id LIMIT ?",
                (batch_size,),
            ).fetchall()
            decoded: dict[str, dict[str, Any] | None] = {}
            for task, record_id, partner, mtype, sender, codec, data, kek_id, wrapped in rows:
                if record_id not in decoded:
                    decoded[record_id] = None
                    if mtype is not None:
                        try:
                            body = self.codecs.decode(
                                record_id, mtype, sender, StoredBody(codec, data, kek_id, wrapped)
                            )
                            decoded[record_id] = orjson.loads(body)
                        except BodyUnreadable:
                            pass
                message = decoded[record_id]
                if task == "fingerprint":
                    value = fingerprint(message) if message is not None else None
                    conn.execute("UPDATE messages SET fingerprint=? WHERE id=?", (value, record_id))
                elif task == "recipient_index" and message is not None:
                    entry = index_for(partner, message)
                    if entry is not None:
                        _insert_index_entries(conn, [(partner, entry, record_id)])
                conn.execute(
                    "DELETE FROM upgrade_pending WHERE task=? AND record_id=? AND partner=?", (task, record_id, partner)
                )
            return len(rows)

        total = 0
        while True:
            done: int = self._writer.run(job)
            total += done
            if done < batch_size:
                return total

    # -- reads -------------------------------------------------------------------------------
    def find_reply_targets(self, in_reply_to: str, replier: str) -> list[ReplyTarget]:
        """Every message with this ``message_id`` delivered (or offered) to ``replier``, newest first.

        Message ids are unique per sender only, so two senders' messages can match; the caller decides.
        """
        rows = (
            self._reader()
            .execute(
                "SELECT m.id, m.sender, d.id, m.type FROM messages m JOIN deliveries d ON d.record_id = m.id "
                "WHERE m.message_id=? AND d.partner=? ORDER BY m.received_at DESC",
                (in_reply_to, replier),
            )
            .fetchall()
        )
        return [ReplyTarget(r[0], r[1], r[2], r[3]) for r in rows]

    def may_read(self, partner_id: str, record_id: str) -> bool:
        """Sender, or a recipient of this message or of one derived from it."""
        row = (
            self._reader()
            .execute(
                "SELECT 1 FROM messages m WHERE m.id=? AND (m.sender=? OR EXISTS "
                "(SELECT 1 FROM deliveries d WHERE d.record_id=m.id AND d.partner=?))",
                (record_id, partner_id, partner_id),
            )
            .fetchone()
        )
        return row is not None

    def _status(self, states: list[str]) -> str:
        if not states:
            return "accepted"
        if "dead" in states:
            return "dead_lettered"
        if any(s in ("pending", "in_flight", "available") for s in states):
            return "in_progress"
        if all(s == "acknowledged" for s in states):
            return "acknowledged"
        if "rejected" in states:
            return "rejected"
        return "delivered"

    def message_view(self, record_id: str) -> dict[str, Any] | None:
        """State, deliveries (each with its ``outcome`` category), derived messages and timeline of one message.

        The whole view, error texts included, is for operators; ``hub.outcomes.for_partner`` makes a partner's.
        """
        conn = self._reader()
        m = conn.execute(
            "SELECT id, message_id, sender, type, correlation_id, in_reply_to, parent_id, received_at "
            "FROM messages WHERE id=?",
            (record_id,),
        ).fetchone()
        if m is None:
            return None
        derived = [
            {"id": r[0], "type": r[1]}
            for r in conn.execute("SELECT id, type FROM messages WHERE parent_id=? ORDER BY received_at", (record_id,))
        ]
        family = [record_id] + [d["id"] for d in derived]
        marks = ",".join("?" * len(family))
        deliveries = [
            {
                "id": d["id"], "message": d["record_id"], "partner": d["partner"], "route": d["route"],
                "mode": d["mode"], "state": d["state"], "attempts": d["attempts"], "last_error": d["last_error"],
                "next_attempt_at": _iso(d["due_at"]) if d["state"] == "pending" else None,
                "delivered_at": _iso(d["delivered_at"]), "acknowledged_at": _iso(d["acknowledged_at"]),
                "receipt": d["receipt"],
            }
            for d in conn.execute(f"SELECT * FROM deliveries WHERE record_id IN ({marks}) ORDER BY created_at, partner",
                                  family)
        ]  # fmt: skip
        timeline = [
            {
                "at": _iso(e["at"]), "event": e["kind"], "message": e["record_id"], "delivery_id": e["delivery_id"],
                "partner": e["partner"], **({"detail": orjson.loads(e["detail"])} if e["detail"] else {}),
            }
            for e in conn.execute(f"SELECT * FROM events WHERE record_id IN ({marks}) ORDER BY at, seq", family)
        ]  # fmt: skip
        add_outcomes(deliveries, timeline)
        return {
            "id": m["id"],
            "message_id": m["message_id"],
            "type": m["type"],
            "sender": m["sender"],
            "correlation_id": m["correlation_id"],
            "in_reply_to": m["in_reply_to"],
            "derived_from": m["parent_id"],
            "received_at": _iso(m["received_at"]),
            "status": self._status([d["state"] for d in deliveries]),
            "deliveries": deliveries,
            "derived": derived,
            "timeline": timeline,
        }

    def list_messages(
        self, *, limit: int = 50, message_type: str | None = None, partner: str | None = None
    ) -> list[dict[str, Any]]:
        """Newest first, with a status computed from their deliveries."""
        sql = "SELECT id, message_id, type, sender, received_at FROM messages WHERE 1=1"
        args: list[Any] = []
        if message_type:
            sql += " AND type=?"
            args.append(message_type)
        if partner:
            sql += " AND (sender=? OR id IN (SELECT record_id FROM deliveries WHERE partner=?))"
            args += [partner, partner]
        sql += " ORDER BY received_at DESC LIMIT ?"
        args.append(limit)
        conn = self._reader()
        out = []
        for r in conn.execute(sql, args).fetchall():
            states = [
                s[0]
                for s in conn.execute(
                    "SELECT state FROM deliveries WHERE record_id=? OR record_id IN "
                    "(SELECT id FROM messages WHERE parent_id=?)",
                    (r["id"], r["id"]),
                )
            ]
            out.append(
                {"id": r["id"], "message_id": r["message_id"], "type": r["type"], "sender": r["sender"],
                 "received_at": _iso(r["received_at"]), "status": self._status(states),
                 "deliveries": len(states)}
            )  # fmt: skip
        return out

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """Dead deliveries, oldest first, with their last error."""
        return [
            {"delivery_id": r[0], "message": r[1], "type": r[2], "partner": r[3], "attempts": r[4],
             "last_error": r[5], "created_at": _iso(r[6])}
            for r in self._reader().execute(
                "SELECT d.id, d.record_id, m.type, d.partner, d.attempts, d.last_error, d.created_at "
                "FROM deliveries d JOIN messages m ON m.id=d.record_id WHERE d.state='dead' "
                "ORDER BY d.created_at LIMIT ?",
                (limit,),
            )
        ]  # fmt: skip

    def refused_transmissions(self, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first, from the audit log: when, and the event's detail (ids, reason, problem locations).

        Such events have no record id, so the ``events_record`` index finds them among the few like them.
        """
        return [
            {"at": _iso(r[0]), **orjson.loads(r[1] or "{}")}
            for r in self._reader().execute(
                "SELECT at, detail FROM events WHERE record_id='' AND kind='transmission_refused' "
                "ORDER BY seq DESC LIMIT ?",
                (limit,),
            )
        ]

    def inbox(self, partner: str, limit: int) -> list[DeliveryJob]:
        """Deliveries waiting for a pull partner, oldest first, with decoded bodies."""
        rows = (
            self._reader()
            .execute(
                "SELECT d.id, d.record_id, m.message_id, d.partner, d.attempts, m.type, m.sender, "
                "m.body_codec, m.body, m.kek_id, m.data_key, "
                "m.received_at FROM deliveries d JOIN messages m ON m.id=d.record_id "
                "WHERE d.partner=? AND d.state='available' ORDER BY d.created_at LIMIT ?",
                (partner, limit),
            )
            .fetchall()
        )
        jobs = []
        for r in rows:
            try:
                body = self.codecs.decode(r[1], r[5], r[6], StoredBody(r[7], r[8], r[9], r[10]))
            except BodyUnreadable:
                body = b""  # shown to the partner as an item the hub cannot render
            jobs.append(DeliveryJob(r[0], r[1], r[2], r[3], r[4], r[5], body, r[11]))
        return jobs

    def read_body(self, record_id: str) -> bytes | None:
        """Decoded canonical body of one record; None if there is no such record.

        Raises ``BodyUnreadable`` when the body was shredded or its key retired.
        """
        row = (
            self._reader()
            .execute("SELECT type, sender, body_codec, body, kek_id, data_key FROM messages WHERE id=?", (record_id,))
            .fetchone()
        )
        if row is None:
            return None
        return self.codecs.decode(record_id, row[0], row[1], StoredBody(row[2], row[3], row[4], row[5]))

    def counts(self) -> dict[str, int]:
        """Deliveries by state, and the number of messages."""
        conn = self._reader()
        out = {
            f"deliveries_{state}": n
            for state, n in conn.execute("SELECT state, count(*) FROM deliveries GROUP BY state")
        }
        out["messages"] = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        return out


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
