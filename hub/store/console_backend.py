"""The dashboard's reads and its dead-letter drop (``ports_console.ConsoleReads``) on either backend, written once.

Statements use ``?`` placeholders (the PostgreSQL backend turns them into ``%s``) and only what both backends
understand; the one difference, how to keep the planner off an index when grouping, is ``_NOT_FOR_ORDER``.
"""

from __future__ import annotations

import abc
import json
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from hub.plugin_api.events import HubEvent
from hub.store import views
from hub.store.console_queries import (
    ACTIVITY,
    FAMILY_STATES,
    OLDEST_ACTIVITY,
    PARTNER_RECENT_REPLIES,
    PRUNE_ACTIVITY,
    search_statement,
)
from hub.store.pathway_backend import Append, Execute
from hub.store.ports_console import ConsoleReads, MessageFilter, ReplyRow

STILL_TO_DO = ("pending", "in_flight", "available", "dead")


class ConsoleOnBackend(ConsoleReads):
    """Implements ``ConsoleReads`` with a backend's ``_pathway_write``, ``_pathway_read`` and ``_snapshot``."""

    _NOT_FOR_ORDER = "+{}"
    """A column the planner must not walk an index of to group by it: SQLite's unary ``+`` (else, on a big store,
    it walks a partner's or sender's index whole rather than the time range's); PostgreSQL has no such habit."""

    @abc.abstractmethod
    def _pathway_write(self, job: Callable[[Execute, Append], Any]) -> Any:
        """Run ``job(execute, append)`` in one write transaction and return what it returns."""

    @abc.abstractmethod
    def _pathway_read(self, statement: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read (``?`` placeholders)."""

    @abc.abstractmethod
    def _snapshot(self) -> AbstractContextManager[None]:
        """A context in which this thread's reads all see one committed state (``message_reads``)."""

    def search_messages(self, where: MessageFilter, limit: int,
                        before: tuple[float, str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
        statement, args = search_statement(where, limit, before)
        out = []
        with self._snapshot():  # the rows found and their deliveries' states, as of one commit
            for row in self._pathway_read(statement, args):
                m = dict(zip(("id", "message_id", "type", "sender", "received_at", "correlation_id"), row,
                             strict=True))  # fmt: skip
                states = [r[0] for r in self._pathway_read(FAMILY_STATES, (m["id"], m["id"]))]
                out.append({**views.listed(m, states), "correlation_id": m["correlation_id"],
                            "received": float(m["received_at"])})  # fmt: skip
        return out

    def partner_recent_replies(self, partner: str, limit: int) -> list[ReplyRow]:
        return [(r[0], r[1], float(r[2]), None if r[3] is None else float(r[3]), None if r[4] is None else float(r[4]))
                for r in self._pathway_read(PARTNER_RECENT_REPLIES, (partner, limit))]  # fmt: skip

    def activity(self, since: float) -> list[tuple[str, str, str, int, int]]:
        first = int(since // 60)  # the counters' minutes are whole minutes of the epoch (activity_schema)
        return [(r[0], r[1], r[2], int(r[3]) - first, int(r[4])) for r in self._pathway_read(ACTIVITY, (first,))]

    def prune_activity(self, before: float, minutes: int = 60) -> int:
        cut = int(before // 60)

        def job(ex: Execute, _append: Append) -> int:
            oldest = ex(OLDEST_ACTIVITY, ()).fetchone()[0]
            if oldest is None or int(oldest) >= cut:
                return 0
            return int(ex(PRUNE_ACTIVITY, (min(int(oldest) + minutes, cut),)).rowcount)

        return int(self._pathway_write(job))

    def queue_depths(self) -> list[tuple[str, str, int, int, float | None]]:
        marks = ", ".join("?" * len(STILL_TO_DO))
        # a scheduled delivery (due later, never tried: a pathway notice before its time) is no backlog
        statement = (f"SELECT {self._NOT_FOR_ORDER.format('partner')} AS partner, state, count(*), "
                     "sum(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), "
                     f"min(CASE WHEN attempts > 0 THEN created_at END) FROM deliveries WHERE state IN ({marks}) "
                     "AND NOT (state IN ('pending', 'available') AND attempts = 0 AND coalesce(due_at, 0) > ?) "
                     "GROUP BY 1, state ORDER BY 1, state")  # fmt: skip
        return [(r[0], r[1], int(r[2]), int(r[3] or 0), None if r[4] is None else float(r[4]))
                for r in self._pathway_read(statement, (*STILL_TO_DO, time.time()))]  # fmt: skip

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
