"""The pathway's scheduled notices in the store, written once for both backends (``?`` placeholders).

With the embedded scheduler a milestone's reminder and due notice are stored when it opens, in the transaction
that opens it (``store_notices``): each a ``PathwayNotice`` message whose deliveries are scheduled until the
timer's time (``deliveries.due_at``) and linked to the timer (``deliveries.timer_id``); the timer's
``notice_record`` names the message. From then on:

- a close of the milestone (met, or its pathway closed) cancels the deliveries of the timers it cancels, in its
  own transaction (``cancel_notices``): a closed milestone never sends its notice;
- a claim of such a delivery fires its timer in the claim's transaction (``hub.store.notice_claims``);
- a pull partner sees one in its inbox only once its timer fired (``INBOX_VISIBLE``);
- firing the timer otherwise (the fire endpoint's callback) releases its deliveries: due at once
  (``release_notices``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hub.plugin_api.events import HubEvent
from hub.store.pathway_records import NewMilestone
from hub.store.records import AcceptResult, Intake

Execute = Callable[[str, Sequence[Any]], Any]
Accept = Callable[[Intake], AcceptResult]

#: a delivery a pull partner may see and take: no notice, or one whose timer fired (and so is due)
INBOX_VISIBLE = (
    "(d.timer_id IS NULL OR EXISTS (SELECT 1 FROM pathway_timers t WHERE t.id = d.timer_id AND t.state = 'fired' "
    "AND d.due_at <= t.fired_at))"
)
WAITING = "('pending', 'available')"


def store_notices(ex: Execute, accept: Accept, milestone: NewMilestone) -> list[HubEvent]:
    """Store ``milestone``'s notices (just opened, its timers inserted): each message and its scheduled deliveries
    through ``accept`` in the caller's transaction, linked to its timer; the events written."""
    events: list[HubEvent] = []
    for notice in milestone.notices:
        timer_id = f"{milestone.id}.{notice.action}"
        if ex("SELECT 1 FROM pathway_timers WHERE id = ?", (timer_id,)).fetchone() is None:
            continue  # no such timer (a milestone without a reminder)
        result = accept(notice.intake)
        if not result.duplicate:
            ex("UPDATE deliveries SET timer_id = ? WHERE record_id = ?", (timer_id, result.id))
        ex("UPDATE pathway_timers SET notice_record = ? WHERE id = ?", (result.id, timer_id))
        events += result.events
    return events


def cancel_notices(ex: Execute, timer_ids: Sequence[str], at: float, actor: str | None) -> list[HubEvent]:
    """Cancel the waiting deliveries of the notices of ``timer_ids`` (just cancelled); a ``cancelled`` event each."""
    events: list[HubEvent] = []
    for timer_id in timer_ids:
        rows = ex(f"SELECT id, record_id, partner FROM deliveries WHERE timer_id = ? AND state IN {WAITING} "
                  "ORDER BY id", (timer_id,)).fetchall()  # fmt: skip
        for delivery_id, record_id, partner in rows:
            ex(f"UPDATE deliveries SET state = 'cancelled' WHERE id = ? AND state IN {WAITING}", (delivery_id,))
            events.append(HubEvent("cancelled", record_id, at, delivery_id, partner,
                                   {"timer_id": timer_id, "reason": "milestone closed"}, actor))  # fmt: skip
    return events


def release_notices(ex: Execute, timer_id: str, now: float) -> None:
    """Make the waiting deliveries of ``timer_id``'s notice due now (its timer fired other than by a claim)."""
    ex(f"UPDATE deliveries SET due_at = ? WHERE timer_id = ? AND state IN {WAITING} AND due_at > ?",
       (now, timer_id, now))  # fmt: skip
