"""What partners are told about a delivery: an outcome category, never the transport's error text.

A failed attempt's error text names the recipient's infrastructure (host, port,
address, mail server, certificate), which is the operator's business, not the
sender's. Each failure is therefore also recorded with whose side it failed on,
and partners see only a category derived from the delivery's state and that:

=======================  ==========================================================
``waiting``              not attempted yet, first attempt in flight, or in the inbox
``delivered``            the partner took it (its acknowledgement, if any, is in ``state``)
``retrying``             an attempt failed on the hub's side; another is due
``partner_unavailable``  the partner could not be reached, did not answer in time or
                         answered with a temporary failure; another attempt is due
``refused_by_partner``   the partner answered and refused it; no retry can help
``dead_lettered``        no more attempts (out of retries, or the hub cannot render it)
``cancelled``            a scheduled delivery cancelled before it was due
=======================  ==========================================================

Operators (the API with an operator token, ``hub messages show``, ``hub dlq list``)
see the full error text as well.
"""

from __future__ import annotations

import copy
from typing import Any

from hub.plugin_api.records import DeliveryOutcome

# whose side a failed attempt failed on (recorded as ``failure`` on retry_scheduled and dead_lettered events)
HUB = "hub"
PARTNER_UNAVAILABLE = "partner_unavailable"
REFUSED_BY_PARTNER = "refused_by_partner"
FAILURES = frozenset({HUB, PARTNER_UNAVAILABLE, REFUSED_BY_PARTNER})

OUTCOMES = ("waiting", "delivered", "retrying", PARTNER_UNAVAILABLE, REFUSED_BY_PARTNER, "dead_lettered")
_FAILURE_EVENTS = ("retry_scheduled", "dead_lettered")


def failure_of(outcome: DeliveryOutcome) -> str | None:
    """Whose side a failed attempt failed on; None when it succeeded.

    The transport's own ``failure``, if it set one; otherwise a retryable failure
    means the partner was unavailable and a final one that it refused the message.
    """
    if outcome.ok:
        return None
    if outcome.failure in FAILURES:
        return outcome.failure
    return PARTNER_UNAVAILABLE if outcome.retryable else REFUSED_BY_PARTNER


def delivery_outcome(state: str, last_failure: str | None, failed_before: bool) -> str:
    """The category of a delivery in ``state`` whose latest failure (if ``failed_before``) was ``last_failure``."""
    if state in ("delivered", "acknowledged", "rejected"):
        return "delivered"
    if state == "cancelled":
        return "cancelled"
    if state == "dead":
        return REFUSED_BY_PARTNER if last_failure == REFUSED_BY_PARTNER else "dead_lettered"
    if not failed_before:
        return "waiting"
    return PARTNER_UNAVAILABLE if last_failure == PARTNER_UNAVAILABLE else "retrying"


def add_outcomes(deliveries: list[dict[str, Any]], timeline: list[dict[str, Any]]) -> None:
    """Set ``outcome`` on each delivery of a message view from its state and its failure events."""
    failures: dict[str, str | None] = {}
    for event in timeline:  # oldest first: the last one seen is the latest
        if event["event"] in _FAILURE_EVENTS and event.get("delivery_id"):
            failures[event["delivery_id"]] = event.get("detail", {}).get("failure")
    for delivery in deliveries:
        delivery["outcome"] = delivery_outcome(
            delivery["state"], failures.get(delivery["id"]), delivery["id"] in failures
        )


OPERATORS_ONLY = frozenset({"ui_action"})
"""Timeline events no partner sees: what a dashboard user did about the message (a navigator's allocation names
the service chosen, which the referrer is never told)."""


def for_partner(view: dict[str, Any]) -> dict[str, Any]:
    """A copy of a message view without error text or operators' acts: what a sender or recipient may see."""
    out = copy.deepcopy(view)
    for delivery in out.get("deliveries", []):
        delivery.pop("last_error", None)
    out["timeline"] = [e for e in out.get("timeline", []) if e.get("event") not in OPERATORS_ONLY]
    for event in out.get("timeline", []):
        detail = event.get("detail")
        if isinstance(detail, dict):
            detail.pop("error", None)
    return out
