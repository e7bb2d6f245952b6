"""Lifecycle events: what the store records on timelines and what observers see."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EVENT_KINDS = frozenset(
    {
        "received",  # an inbound message was committed
        "duplicate",  # a resubmission was recognised and answered, not stored
        "derived",  # a route's transform made a new message from it
        "routed",  # a delivery to one partner was queued
        "unrouted",  # no route matched: stored, sent nowhere
        "refused",  # a route did not send (no consent, no such partner, ...)
        "delivered",  # the partner took the message (HTTP 2xx, or inbox ack)
        "acknowledged",  # the partner's Acknowledgement accepted it
        "rejected",  # the partner's Acknowledgement rejected it
        "answered",  # a reply (not an Acknowledgement) answered it: a HousingStatus, an appointment... (detail.answer)
        "retry_scheduled",  # an attempt failed; another is due later
        "dead_lettered",  # out of attempts, or a failure no retry can fix
        "replayed",  # an operator put a dead delivery back in the queue
        "cancelled",  # a scheduled delivery (due later, never attempted) was cancelled before it was due
        "body_read",  # a partner or operator read a body (inbox, 'hub messages show --body')
        "searched",  # an operator or partner searched by NHS number (the number is not recorded)
        "request_refused",  # an API request was refused (401, 403, 404, 405, 413, 415, 422, ...)
        "request_failed",  # an API request (or one line of a batch) failed inside the hub: a 500, with its incident id
        "transmission_refused",  # a listener refused a whole inbound transmission (MESH) and let go of it
        "shredded",  # retention destroyed the body's data key
        "rewrapped",  # key rotation re-wrapped data keys (one event per batch)
        "milestone_opened",  # the pathway: a milestone began (config/pathways.toml), with its due and remind times
        "milestone_reminded",  # its remind timer fired: a reminder was sent to the responsible partner
        "milestone_met",  # the responsible partner's closing message came before it was due
        "milestone_late",  # the closing message came after it was due (after the breach)
        "milestone_breached",  # its due timer fired with no closing message: a due notice was sent
        "milestone_cancelled",  # its pathway closed as a whole before it was met or breached
        "pathway_closed",  # a pathway closed as a whole (readmission, death, consent withdrawn, by hand)
        "pathway_close_refused",  # a closing message from a partner with no part in that pathway: nothing closed
        "timer_fire",  # a request to fire a timer that changed nothing (already fired, closed, early, unknown)
        "scheduler_sync",  # an external scheduler was told to schedule or cancel a timer (or could not be)
        "key_rotated",  # an operator added a key (a new primary KEK or index key, a next envelope key)
        "key_published",  # an operator exported the hub's public envelope keys for partners ('hub keys export')
        "key_activated",  # a published next envelope key became the active one
        "key_retired",  # a key's material was destroyed
        "index_rebuilt",  # the blind index was rebuilt under a new index key (the old one is then retired)
        "fingerprints_rekeyed",  # stored fingerprints re-keyed under a new fingerprint key (the old one then retired)
        "user_added",  # an administrator added a dashboard user (detail: its name and role)
        "user_disabled",  # an administrator disabled a dashboard user
        "user_password_reset",  # an administrator gave a dashboard user a new password (its lock is lifted)
        "login",  # a user logged in to the dashboard (actor: the user)
        "login_failed",  # a dashboard login failed: wrong password, unknown, disabled or locked user
        "logout",  # a user logged out of the dashboard
        "viewed",  # a dashboard user viewed a screen that can show personal data (detail: which, never the data)
        "dropped",  # an operator gave a dead delivery up for good, with a reason code (the delivery is cancelled)
        "ui_action",  # a dashboard user acted on a plugin's screen (detail: the screen, the action, ids and codes)
        "warning",  # what an adapter assumed reading a message, changed rendering it, or could not use in a
        # partner's answer to a delivery; nothing failed
    }
)


@dataclass(frozen=True)
class HubEvent:
    """One committed state change of a message or of one of its deliveries.

    ``record_id`` is the hub's id of the stored message (the ``id`` a 202
    returns), not the sender's ``message_id``. Carries ids and codes only,
    never personal data, so it is safe to log.
    """

    kind: str
    record_id: str
    at: float
    delivery_id: str | None = None
    partner: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None
