"""Lifecycle events: what the store records on timelines and what observers see."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EVENT_KINDS = frozenset(
    {
        "received",
        "duplicate",
        "routed",
        "unrouted",
        "refused",
        "derived",
        "delivering",
        "delivered",
        "available",
        "acknowledged",
        "failed",
        "retry_scheduled",
        "dead_lettered",
        "replayed",
    }
)


@dataclass(frozen=True)
class HubEvent:
    """One committed state change of a message or of one of its deliveries.

    Carries ids and codes only, never personal data, so it is safe to log.
    """

    kind: str
    message_id: str
    at: float
    delivery_id: str | None = None
    partner: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
