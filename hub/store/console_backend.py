"""The dashboard's reads and its dead-letter drop (``ports_console.ConsoleReads``) on either backend, written once.

Statements use ``?`` placeholders (the PostgreSQL backend turns them into ``%s``) and only what both backends
understand; the one difference, truncating a number to an integer, is the class attribute ``_TRUNCATE``.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Sequence
from typing import Any

from hub.plugin_api.events import HubEvent
from hub.store import views
from hub.store.pathway_backend import Append, Execute
from hub.store.ports_console import ConsoleReads, MessageFilter

STILL_TO_DO = ("pending", "in_flight", "available", "dead")
FAMILY_STATES = (
    "SELECT state FROM deliveries WHERE record_id = ? OR record_id IN (SELECT id FROM messages WHERE parent_id = ?)"
)


def search_statement(where: MessageFilter, limit: int, before: tuple[float, str] | None) -> tuple[str, list[Any]]:
    """The search's statement and arguments: newest first, ordered by (received_at, id), after ``before``."""
    clauses: list[str] = []
    args: list[Any] = []
    if where.record_ids is not None:
        ids = sorted(where.record_ids)
        clauses.append(f"id IN ({', '.join('?' * len(ids))})" if ids else "1 = 0")
        args += ids
    if where.correlation_id is not None:
        clauses.append("correlation_id = ?")
        args.append(where.correlation_id)
    if where.partner is not None:
        clauses.append("(sender = ? OR id IN (SELECT record_id FROM deliveries WHERE partner = ?))")
        args += [where.partner, where.partner]
    if where.message_type is not None:
        clauses.append("type = ?")
        args.append(where.message_type)
    if where.state is not None:
        clauses.append("id IN (SELECT record_id FROM deliveries WHERE state = ?)")
        args.append(where.state)
    if where.received_from is not None:
        clauses.append("received_at >= ?")
        args.append(where.received_from)
    if where.received_to is not None:
        clauses.append("received_at < ?")
        args.append(where.received_to)
    if before is not None:
        clauses.append("(received_at < ? OR (received_at = ? AND id < ?))")
        args += [before[0], before[0], before[1]]
    statement = (
        "SELECT id, message_id, type, sender, received_at, correlation_id FROM messages"
        + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
        + " ORDER BY received_at DESC, id DESC LIMIT ?"
    )
    return statement, [*args, limit]


class ConsoleOnBackend(ConsoleReads):
    """Implements ``ConsoleReads`` with a backend's ``_pathway_write`` and ``_pathway_read``."""

    _TRUNCATE = "CAST({} AS INTEGER)"
    """SQL that truncates a non-negative number to an integer (SQLite's CAST does; PostgreSQL's rounds)."""

    @abc.abstractmethod
    def _pathway_write(self, job: Callable[[Execute, Append], Any]) -> Any:
        """Run ``job(execute, append)`` in one write transaction and return what it returns."""

    @abc.abstractmethod
    def _pathway_read(self, statement: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read (``?`` placeholders)."""

    def search_messages(self, where: MessageFilter, limit: int,
                        before: tuple[float, str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
        statement, args = search_statement(where, limit, before)
        out = []
        for row in self._pathway_read(statement, args):
            m = dict(zip(("id", "message_id", "type", "sender", "received_at", "correlation_id"), row, strict=True))
            states = [r[0] for r in self._pathway_read(FAMILY_STATES, (m["id"], m["id"]))]
            out.append({**views.listed(m, states), "correlation_id": m["correlation_id"],
                        "received": float(m["received_at"])})  # fmt: skip
        return out

    def activity(self, since: float) -> list[tuple[str, str, str, int, int]]:
        minute = self._TRUNCATE.format("({} - ?) / 60")
        accepted = (f"SELECT sender, type, {minute.format('received_at')}, count(*) FROM messages "
                    "WHERE received_at >= ? GROUP BY 1, 2, 3")  # fmt: skip
        delivered = (f"SELECT d.partner, m.type, {minute.format('d.delivered_at')}, count(*) FROM deliveries d "
                     "JOIN messages m ON m.id = d.record_id WHERE d.delivered_at >= ? GROUP BY 1, 2, 3")  # fmt: skip
        rows: list[tuple[str, str, str, int, int]] = []
        for kind, statement in (("accepted", accepted), ("delivered", delivered)):
            rows += [(kind, r[0], r[1], int(r[2]), int(r[3])) for r in self._pathway_read(statement, (since, since))]
        return rows

    def queue_depths(self) -> list[tuple[str, str, int, int, float | None]]:
        marks = ", ".join("?" * len(STILL_TO_DO))
        statement = ("SELECT partner, state, count(*), sum(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), "
                     f"min(CASE WHEN attempts > 0 THEN created_at END) FROM deliveries WHERE state IN ({marks}) "
                     "GROUP BY partner, state ORDER BY partner, state")  # fmt: skip
        return [(r[0], r[1], int(r[2]), int(r[3] or 0), None if r[4] is None else float(r[4]))
                for r in self._pathway_read(statement, STILL_TO_DO)]  # fmt: skip

    def audit_events(self, *, kind: str | None = None, actor: str | None = None, record_id: str | None = None,
                     before: int | None = None, limit: int = 50) -> list[dict[str, Any]]:  # fmt: skip
        clauses: list[str] = []
        args: list[Any] = []
        for column, value in (("kind", kind), ("actor", actor), ("record_id", record_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if before is not None:
            clauses.append("seq < ?")
            args.append(before)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        statement = f"SELECT seq, at, kind, record_id, delivery_id, partner, actor, detail FROM events{where} " \
                    "ORDER BY seq DESC LIMIT ?"  # fmt: skip
        keys = ("seq", "at", "kind", "record_id", "delivery_id", "partner", "actor", "detail")
        out = []
        for row in self._pathway_read(statement, [*args, limit]):
            entry = dict(zip(keys, row, strict=True))
            entry["detail"] = json.loads(entry["detail"]) if entry["detail"] else {}
            out.append(entry)
        return out

    def drop_dead(self, delivery_id: str, reason: str, now: float, actor: str) -> list[HubEvent]:
        def job(ex: Execute, append: Append) -> list[HubEvent]:
            row = ex("SELECT record_id, partner FROM deliveries WHERE id = ? AND state = 'dead'",
                     (delivery_id,)).fetchone()  # fmt: skip
            if row is None:
                return []
            ex("UPDATE deliveries SET state = 'cancelled' WHERE id = ? AND state = 'dead'", (delivery_id,))
            events = [HubEvent("dropped", row[0], now, delivery_id, row[1], detail={"reason": reason}, actor=actor)]
            append(events)
            return events

        result: list[HubEvent] = self._pathway_write(job)
        return result
