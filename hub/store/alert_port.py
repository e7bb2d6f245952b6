"""The alerts' port of the store (part of ``ports.Store``): their state, outbox, lease and event cursor.

Promises every backend keeps (checked on both by ``tests/contract/test_alert_store.py``):

- ``take_alert_lease``: at most one holder at a time; a holder renews its own lease; a lease not renewed by its
  ``until`` may be taken by another.
- ``save_alert_round`` writes nothing unless the caller still holds the lease and the cursor has not moved since
  ``alert_events`` read it: one round is applied once, by one process.
- An outbox row's id is unique: the same alert queued twice to one channel is stored once.
- ``note_alert_event`` adds one to a milestone key's count in one statement, whoever else writes.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

from hub.store.alert_records import AlertState, DeliveryEvent, OutboxRow


class AlertStore(abc.ABC):
    """State kept for ``hub.services.alerts`` (``hub.store.alerts_schema``)."""

    @abc.abstractmethod
    def take_alert_lease(self, holder: str, now: float, until: float) -> bool:
        """Hold (take or renew) the evaluator's lease until ``until``; False when another holds it unexpired."""

    @abc.abstractmethod
    def release_alert_lease(self, holder: str) -> None:
        """Give the lease up if ``holder`` holds it."""

    @abc.abstractmethod
    def alert_events(self, span: int) -> tuple[int, int, list[DeliveryEvent]]:
        """``(after, to, events)``: the delivery outcomes with ``after < seq <= to``, where ``after`` is the cursor
        and ``to`` at most ``after + span`` (and the last event stored)."""

    @abc.abstractmethod
    def alert_states(self) -> dict[str, AlertState]:
        """Every alert key's state."""

    @abc.abstractmethod
    def alert_queue_depths(self, now: float) -> dict[str, dict[str, int]]:
        """``{measure: {partner: count}}`` for ``pending`` (waiting to be sent: due or retrying), ``retrying``
        (of those, the ones that failed at least once) and ``dead``; partners with none are left out."""

    @abc.abstractmethod
    def save_alert_round(self, holder: str, now: float, after_seq: int, to_seq: int, states: Sequence[AlertState],
                         alerted: Sequence[tuple[str, int]], outbox: Sequence[OutboxRow]) -> bool:  # fmt: skip
        """Apply one round in one transaction (see ``alerts_ops.save_round``); False when it was not applied."""

    @abc.abstractmethod
    def note_alert_event(self, key: str, partner: str | None, subject: str, at: float) -> None:
        """Count one milestone breach under ``key`` (for the evaluator to alert)."""

    @abc.abstractmethod
    def due_alerts(self, now: float, limit: int) -> list[OutboxRow]:
        """Outbox rows waiting to be sent whose next attempt is due, oldest first."""

    @abc.abstractmethod
    def next_alert_due(self) -> float | None:
        """When the next outbox row waiting is due (None: none waits)."""

    @abc.abstractmethod
    def alert_sent(self, outbox_id: str, now: float) -> None:
        """The channel took it."""

    @abc.abstractmethod
    def alert_failed(self, outbox_id: str, next_at: float | None, error: str) -> None:
        """An attempt failed: again at ``next_at``, or never (None)."""

    @abc.abstractmethod
    def alert_outbox(self, limit: int = 1000) -> list[OutboxRow]:
        """The outbox, oldest first (``hub alerts list`` and tests)."""
