"""The pathway port (``ports_pathway.PathwayStore``) on either backend: each backend says how to run a write job and a
read; the statements and transactions are ``pathway_ops``'s, written once."""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from typing import Any

from hub.plugin_api.events import HubEvent
from hub.store import pathway_ops as ops
from hub.store.notice_ops import Accept
from hub.store.pathway_board import PathwayBoardReads, board_states
from hub.store.pathway_records import FireResult, PathwayChanges, PathwayClosing

Execute = Callable[[str, Sequence[Any]], Any]
Append = Callable[[list[HubEvent]], None]


TIMER_READ = 500
"""Milestones whose timers one statement reads (SQLite takes one parameter per id; PostgreSQL one array)."""


class PathwayOnBackend(PathwayBoardReads, abc.ABC):
    """Implements ``PathwayStore`` with a backend's ``_pathway_write``, ``_pathway_read`` and ``_snapshot`` (the
    boards' reads: ``PathwayBoardReads``)."""

    @abc.abstractmethod
    def _pathway_write(self, job: Callable[[Execute, Append], Any]) -> Any:
        """Run ``job(execute, append)`` in one write transaction and return what it returns."""

    @abc.abstractmethod
    def _pathway_write_storing(self, job: Callable[[Execute, Append, Accept], Any]) -> Any:
        """As ``_pathway_write``, the job also given ``accept(intake)``, which stores an intake (a message, its
        deliveries and events, like ``accept_now``) in the same transaction."""

    @abc.abstractmethod
    def _pathway_read(self, statement: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read (``?`` placeholders)."""

    @abc.abstractmethod
    def _snapshot(self) -> AbstractContextManager[None]:
        """A context in which this thread's reads all see one committed state (``message_reads``)."""

    # ``column`` is one of ``values``, and the arguments that say so: ``message_reads.MessageReadsOnBackend._in``
    # (an annotation, not an abstract method: this class comes first in a store's bases and would hide it)
    _in: Callable[[str, Sequence[Any]], tuple[str, list[Any]]]

    def pathway_events(self, limit: int) -> tuple[int, list[tuple[Any, ...]]]:
        rows = self._pathway_read("SELECT seq FROM pathway_cursor WHERE name = ?", (ops.CURSOR,))
        after = int(rows[0][0]) if rows else 0
        return after, [tuple(r) for r in self._pathway_read(ops.EVENTS_AFTER, (after, limit))]

    def apply_pathway(self, changes: PathwayChanges, now: float, external: bool) -> list[HubEvent] | None:
        result: list[HubEvent] | None = self._pathway_write_storing(
            lambda ex, append, accept: ops.apply_changes(ex, append, changes, now, external, accept)
        )
        return result

    def fire_timer(self, timer_id: str, now: float, fired_by: str) -> FireResult:
        result: FireResult = self._pathway_write(lambda ex, append: ops.fire(ex, append, timer_id, now, fired_by))
        return result

    def close_pathway(self, closing: PathwayClosing, external: bool) -> list[HubEvent]:
        result: list[HubEvent] = self._pathway_write(
            lambda ex, append: ops.close_pathway(ex, append, closing, external)
        )
        return result

    def due_timers(self, now: float, limit: int) -> list[str]:
        return [r[0] for r in self._pathway_read(ops.DUE_TIMERS, (now, limit))]

    def next_timer_due(self) -> float | None:
        rows = self._pathway_read(ops.NEXT_DUE)
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def unsent_notices(self, limit: int) -> list[str]:
        return [r[0] for r in self._pathway_read(ops.UNSENT_NOTICES, (limit,))]

    def record_notice(self, timer_id: str, record_id: str) -> None:
        self._pathway_write(lambda ex, append: ops.record_notice(ex, timer_id, record_id))

    def pending_syncs(self) -> list[tuple[str, str, float, int, float | None, str | None]]:
        return [(r[0], r[1], float(r[2]), int(r[3]), r[4], r[5]) for r in self._pathway_read(ops.PENDING_SYNCS)]

    def sync_result(self, timer_id: str, sync: str, now: float, next_at: float | None,
                    error: str | None) -> list[HubEvent]:  # fmt: skip
        result: list[HubEvent]
        if next_at is None:
            result = self._pathway_write(lambda ex, append: ops.sync_done(ex, append, timer_id, sync, now))
        else:
            result = self._pathway_write(
                lambda ex, append: ops.sync_failed(ex, append, timer_id, sync, now, next_at, error or "")
            )
        return result

    def confirm_cancel_later(self, timer_id: str, now: float, at: float) -> list[HubEvent]:
        """The scheduler took the first cancel of a ``CANCEL_UNCERTAIN`` timer: cancel it once more at ``at``."""
        result: list[HubEvent] = self._pathway_write(
            lambda ex, append: ops.confirm_cancel_later(ex, append, timer_id, now, at)
        )
        return result

    def cancel_if_settled(self, timer_id: str, sync: str, now: float) -> list[HubEvent]:
        """Ask for ``sync`` of a cancelled timer the scheduler was told nothing about (``ops.cancel_if_settled``)."""
        result: list[HubEvent] = self._pathway_write(
            lambda ex, append: ops.cancel_if_settled(ex, append, timer_id, sync, now)
        )
        return result

    def request_sync(self, timer_ids: list[str], sync: str) -> None:
        def job(ex: Execute, append: Append) -> None:
            for timer in timer_ids:
                ops.request_sync(ex, timer, sync)

        self._pathway_write(job)

    def pending_timers(self) -> dict[str, float]:
        return {r[0]: float(r[1]) for r in self._pathway_read(ops.PENDING_TIMERS)}

    def timer_state(self, timer_id: str) -> str | None:
        rows = self._pathway_read(ops.TIMER_STATES, (timer_id,))
        return str(rows[0][0]) if rows else None

    def milestones(self, *, correlation_id: str | None = None, nhs_index: str | Sequence[str] | None = None,
                   partner: str | None = None, due_before: float | None = None,
                   states: Collection[str] | None = None, milestone_id: str | None = None,
                   names: Collection[str] | None = None, limit: int = 1000) -> list[dict[str, Any]]:  # fmt: skip
        shown = None
        if correlation_id is None and nhs_index is None and milestone_id is None and names is None:
            shown = board_states(states, due_before)  # a list of running or breached ones: the boards' walks
        with self._snapshot():  # the milestones and their timers, as of one commit
            if shown is not None:
                found = self.board_states_by_due(shown, partner, due_before, limit) if shown else []
            else:
                statement, args = ops.milestones_query(correlation_id, nhs_index, partner, due_before,
                                                       sorted(states) if states else None, milestone_id,
                                                       None if names is None else sorted(names), limit)  # fmt: skip
                found = [ops.as_milestone(row) for row in self._pathway_read(statement, args)]
            timers: dict[str, list[dict[str, Any]]] = {m["id"]: [] for m in found}
            ids = list(timers)
            for start in range(0, len(ids), TIMER_READ):
                values, args = self._in("milestone_id", ids[start : start + TIMER_READ])
                for row in self._pathway_read(ops.TIMERS_OF.format(values=values), args):
                    timers[row[0]].append(dict(zip(ops.TIMER_COLUMNS, row[1:], strict=True)))
        for milestone in found:
            milestone["timers"] = timers[milestone["id"]]
        return found

    def open_milestones_for(self, partner: str, name: str, correlation_id: str | None,
                            in_reply_to: str | None) -> list[dict[str, Any]]:  # fmt: skip
        return [ops.as_milestone(r) for r in self._pathway_read(ops.OPEN_FOR, (partner, name, correlation_id,
                                                                               in_reply_to))]  # fmt: skip

    def pathway_closure(self, correlation_id: str) -> dict[str, Any] | None:
        rows = self._pathway_read(ops.CLOSURE, (correlation_id,))
        return dict(zip(("reason", "at", "actor"), rows[0], strict=True)) if rows else None

    def cancel_scheduled(self, delivery_id: str, now: float, actor: str) -> list[HubEvent] | None:
        """A scheduled delivery cancelled (``ports.DeliveryQueue.cancel_scheduled``), written once for both backends."""

        def job(ex: Execute, append: Append) -> list[HubEvent] | None:
            row = ex("SELECT record_id, partner FROM deliveries WHERE id = ? AND state IN ('pending', 'available') "
                     "AND attempts = 0 AND due_at > ? AND due_at > created_at",
                     (delivery_id, now)).fetchone()  # fmt: skip
            if row is None:
                return None
            ex("UPDATE deliveries SET state = 'cancelled' WHERE id = ? AND state IN ('pending', 'available')",
               (delivery_id,))  # fmt: skip
            events = [HubEvent("cancelled", row[0], now, delivery_id, row[1], actor=actor)]
            append(events)
            return events

        result: list[HubEvent] | None = self._pathway_write(job)
        return result

    def milestone_counts(self) -> list[tuple[str, str, str, int]]:
        return [(r[0], r[1], r[2], int(r[3])) for r in self._pathway_read(ops.MILESTONE_COUNTS)]
