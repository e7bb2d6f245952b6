"""How stored rows are shown: the same for every backend.

A backend reads rows (mappings keyed by the column names of ``hub/store/sqlite_sql.py``'s
tables) and hands them here; what operators, partners and the CLI see is shaped only here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from hub.outcomes import add_outcomes
from hub.store.records import WAITING_DELIVERY_STATES, DeliveryState

Row = Mapping[str, Any]


def iso(ts: float | None) -> str | None:
    """A stored timestamp (seconds since the epoch) as ISO 8601 UTC with milliseconds; None stays None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def status(states: Iterable[str]) -> str:
    """One word for a message from its deliveries' states (and those of the messages derived from it).

    ``accepted`` (no deliveries), ``dead_lettered`` (any dead), ``in_progress`` (any waiting),
    ``acknowledged`` (all), ``rejected`` (any), else ``delivered``.
    """
    states = list(states)
    if not states:
        return "accepted"
    if all(s == DeliveryState.CANCELLED for s in states):
        return "cancelled"
    states = [s for s in states if s != DeliveryState.CANCELLED]
    if DeliveryState.DEAD in states:
        return "dead_lettered"
    if any(s in WAITING_DELIVERY_STATES for s in states):
        return "in_progress"
    if all(s == DeliveryState.ACKNOWLEDGED for s in states):
        return "acknowledged"
    if DeliveryState.REJECTED in states:
        return "rejected"
    return "delivered"


def delivery(d: Row) -> dict[str, Any]:
    """A ``deliveries`` row as the message view shows it (its ``outcome`` is added by ``message_view``)."""
    return {
        "id": d["id"], "message": d["record_id"], "partner": d["partner"], "route": d["route"],
        "mode": d["mode"], "state": d["state"], "attempts": d["attempts"], "last_error": d["last_error"],
        "next_attempt_at": iso(d["due_at"]) if d["state"] == DeliveryState.PENDING else None,
        "scheduled_until": iso(d["due_at"]) if _scheduled(d) else None,
        "delivered_at": iso(d["delivered_at"]), "acknowledged_at": iso(d["acknowledged_at"]),
        "receipt": d["receipt"],
    }  # fmt: skip


def _scheduled(d: Row) -> bool:
    """A delivery due later that was never attempted (stored with ``not_before``: a pathway notice before its
    time, for a push partner or a pull one)."""
    waiting = d["state"] in (DeliveryState.PENDING, DeliveryState.AVAILABLE) and d["attempts"] == 0
    return bool(waiting and d["due_at"] is not None and d["due_at"] > time.time() and d["due_at"] > d["created_at"])


def event(e: Row) -> dict[str, Any]:
    """An ``events`` row as a timeline entry."""
    return {
        "at": iso(e["at"]), "event": e["kind"], "message": e["record_id"], "delivery_id": e["delivery_id"],
        "partner": e["partner"], **({"detail": orjson.loads(e["detail"])} if e["detail"] else {}),
    }  # fmt: skip


def message_view(m: Row, derived: Iterable[Row], deliveries: Iterable[Row], events: Iterable[Row]) -> dict[str, Any]:
    """The whole view of one message: ``m`` its row, then the rows of its family (it and what was derived from it).

    ``derived`` oldest first; ``deliveries`` by creation, then partner; ``events`` in log order.
    Each delivery gets its ``outcome`` category (``hub.outcomes``). Error texts included: this
    view is for operators; ``hub.outcomes.for_partner`` makes a partner's.
    """
    shown = [delivery(d) for d in deliveries]
    timeline = [event(e) for e in events]
    add_outcomes(shown, timeline)
    return {
        "id": m["id"],
        "message_id": m["message_id"],
        "type": m["type"],
        "sender": m["sender"],
        "correlation_id": m["correlation_id"],
        "in_reply_to": m["in_reply_to"],
        "derived_from": m["parent_id"],
        "received_at": iso(m["received_at"]),
        "status": status(d["state"] for d in shown),
        "deliveries": shown,
        "derived": [{"id": r["id"], "type": r["type"]} for r in derived],
        "timeline": timeline,
    }


def listed(m: Row, states: list[str]) -> dict[str, Any]:
    """One line of ``list_messages``: a message and the states of its family's deliveries."""
    return {
        "id": m["id"], "message_id": m["message_id"], "type": m["type"], "sender": m["sender"],
        "received_at": iso(m["received_at"]), "status": status(states), "deliveries": len(states),
    }  # fmt: skip


def found(m: Row) -> dict[str, Any]:
    """One message found by blind index."""
    return {"id": m["id"], "message_id": m["message_id"], "type": m["type"], "sender": m["sender"],
            "received_at": iso(m["received_at"])}  # fmt: skip


def dead_letter(d: Row) -> dict[str, Any]:
    """One dead delivery with its message's type and last error."""
    return {"delivery_id": d["id"], "message": d["record_id"], "type": d["type"], "partner": d["partner"],
            "attempts": d["attempts"], "last_error": d["last_error"], "created_at": iso(d["created_at"])}  # fmt: skip


def refused(e: Row) -> dict[str, Any]:
    """One ``transmission_refused`` event: when, and its detail (ids, reason, problem locations)."""
    return {"at": iso(e["at"]), **orjson.loads(e["detail"] or "{}")}
