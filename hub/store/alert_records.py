"""What the alerts' store port takes and gives (``ports.AlertStore``): ids, counts and codes, never personal data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AlertState:
    """One alert key's state (a row of ``alert_states``).

    ``kind``: ``partner`` (deliveries to it failing), ``queue`` (a threshold), ``milestone`` (breaches).
    ``state``: ``ok`` or ``firing``, since ``since``; ``value``: failures since it began failing, the queue's depth,
    or breaches not yet alerted. ``sent_state`` / ``sent_at``: the state last alerted and when (None: never);
    ``alerts``: how many alerts the key has given (the next alert's id is ``KEY#alerts+1``).
    """

    key: str
    kind: str
    partner: str | None
    subject: str | None
    state: str
    since: float
    value: int
    sent_state: str | None = None
    sent_at: float | None = None
    alerts: int = 0


@dataclass(frozen=True)
class OutboxRow:
    """One alert on its way to one channel (a row of ``alert_outbox``); ``payload`` is the JSON sent."""

    id: str
    alert_id: str
    channel: str
    payload: str
    created_at: float
    state: str = "pending"
    attempts: int = 0
    next_at: float = 0.0
    sent_at: float | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class DeliveryEvent:
    """A delivery outcome the evaluator reads: ``kind`` is ``delivered``, ``retry_scheduled`` or ``dead_lettered``."""

    seq: int
    kind: str
    partner: str
    at: float
