"""The alerts' port (``ports.AlertStore``) on either backend, through the backend's ``_pathway_write`` (one write
transaction) and ``_pathway_read`` (one read); the statements are ``alerts_ops``'s, written once."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any

from hub.store import alerts_ops as ops
from hub.store.alert_records import AlertState, DeliveryEvent, OutboxRow


class AlertsOnBackend(abc.ABC):
    """Implements ``AlertStore`` with a backend's ``_pathway_write`` and ``_pathway_read``."""

    @abc.abstractmethod
    def _pathway_write(self, job: Callable[[Any, Any], Any]) -> Any:
        """Run ``job(execute, append)`` in one write transaction and return what it returns."""

    @abc.abstractmethod
    def _pathway_read(self, statement: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read (``?`` placeholders)."""

    def take_alert_lease(self, holder: str, now: float, until: float) -> bool:
        result: bool = self._pathway_write(lambda ex, append: ops.take_lease(ex, holder, now, until))
        return result

    def release_alert_lease(self, holder: str) -> None:
        self._pathway_write(lambda ex, append: ops.release_lease(ex, holder))

    def alert_events(self, span: int) -> tuple[int, int, list[DeliveryEvent]]:
        rows = self._pathway_read(ops.CURSOR_SEQ, (ops.CURSOR,))
        after = int(rows[0][0]) if rows else 0
        last = int(self._pathway_read(ops.LAST_SEQ)[0][0])
        to = min(last, after + span)
        if to <= after:
            return after, after, []
        events = [DeliveryEvent(int(r[0]), str(r[1]), str(r[2]), float(r[3]))
                  for r in self._pathway_read(ops.DELIVERY_EVENTS, (after, to))]  # fmt: skip
        return after, to, events

    def alert_states(self) -> dict[str, AlertState]:
        return {s.key: s for s in (ops.as_state(r) for r in self._pathway_read(ops.STATES))}

    def alert_queue_depths(self, now: float) -> dict[str, dict[str, int]]:
        pending: dict[str, int] = {}
        retrying: dict[str, int] = {}
        for partner, waiting, failed in self._pathway_read(ops.WAITING, (now,)):
            pending[str(partner)] = int(waiting)
            retrying[str(partner)] = int(failed or 0)
        dead = {str(partner): int(n) for partner, n in self._pathway_read(ops.DEAD)}
        return {"pending": pending, "retrying": retrying, "dead": dead}

    def save_alert_round(self, holder: str, now: float, after_seq: int, to_seq: int, states: Sequence[AlertState],
                         alerted: Sequence[tuple[str, int]], outbox: Sequence[OutboxRow]) -> bool:  # fmt: skip
        result: bool = self._pathway_write(
            lambda ex, append: ops.save_round(ex, holder, now, after_seq, to_seq, states, alerted, outbox)
        )
        return result

    def note_alert_event(self, key: str, partner: str | None, subject: str, at: float) -> None:
        self._pathway_write(lambda ex, append: ops.note_event(ex, key, partner, subject, at))

    def due_alerts(self, now: float, limit: int) -> list[OutboxRow]:
        return [ops.as_outbox(r) for r in self._pathway_read(ops.DUE_OUTBOX, (now, limit))]

    def next_alert_due(self) -> float | None:
        rows = self._pathway_read(ops.NEXT_OUTBOX)
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def alert_sent(self, outbox_id: str, now: float) -> None:
        self._pathway_write(lambda ex, append: ops.outbox_sent(ex, outbox_id, now))

    def alert_failed(self, outbox_id: str, next_at: float | None, error: str) -> None:
        self._pathway_write(lambda ex, append: ops.outbox_failed(ex, outbox_id, next_at, error))

    def alert_outbox(self, limit: int = 1000) -> list[OutboxRow]:
        return [ops.as_outbox(r) for r in self._pathway_read(ops.OUTBOX, (limit,))]
