"""A claim of a pathway notice's delivery fires its timer, in the claim's transaction (both backends).

A delivery linked to a timer (``deliveries.timer_id``, ``hub.store.notice_ops``) is claimed like any other once
due; before it is leased, ``claimed`` decides, for each such delivery among those the claim is about to lease:

- its timer is still pending: the claim fires it (``pathway_ops.fire``: the milestone is reminded or breached,
  the event written) and the delivery goes, carrying the fire's events (``DeliveryJob.events``) for observers.
  So the timer fires exactly when its notice goes out, and at most once: two claims never lease one delivery,
  and the timer's conditional update lets one fire win. On PostgreSQL the milestone's row is locked first, and
  skipped when another transaction holds it (a close, a fire): the delivery is left for the next claim, so a
  claim never waits for a close that waits for the delivery the claim holds;
- its timer fired and this delivery's message is the timer's notice (a sibling delivery's claim fired it, or
  ``POST /v1/pathway/timers/{timer_id}/fire``): it goes;
- otherwise (the timer cancelled, fired with another notice, or unknown): the delivery is cancelled, with a
  ``cancelled`` event on the audit chain, and never sent. Each milestone sends each notice once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from hub.plugin_api.events import HubEvent
from hub.store import pathway_ops
from hub.store.records import Claimed, DeliveryJob

Execute = Callable[[str, Sequence[Any]], Any]
Append = Callable[[list[HubEvent]], None]

FIRED_BY = "notice"
"""Who fired a timer whose notice's claim fired it (the timer's ``fired_by``)."""
#: PostgreSQL's: lock a milestone's row unless another transaction holds it
SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"


def claimed(ex: Execute, append: Append, ids: Sequence[str], now: float, skip_locked: str = "",
            ) -> tuple[list[str], dict[str, tuple[HubEvent, ...]], list[HubEvent]]:  # fmt: skip
    """Of ``ids`` (deliveries a claim is about to lease), those to lease, in their order, the events of the
    timers fired for them by delivery id, and the ``cancelled`` events of those it cancelled (see the module
    docstring); all of them written with ``append``. ``skip_locked``: ``SKIP_LOCKED`` on
    PostgreSQL, "" on SQLite (one writer at a time).

    ``now`` is the wall clock (the claim's ``expired_by``), the pathway's time: a worker's clock that stayed ahead
    after the wall clock stepped back (``ForwardClock``) does not fire a timer early; its delivery waits, with no
    event written, until the wall clock reaches the timer's time."""
    if not ids:
        return list(ids), {}, []
    marks = ", ".join("?" for _ in ids)
    rows = ex(f"SELECT d.id, d.record_id, d.partner, d.timer_id, t.milestone_id, t.state, t.notice_record, t.due_at "
              f"FROM deliveries d LEFT JOIN pathway_timers t ON t.id = d.timer_id WHERE d.id IN ({marks}) "
              "AND d.timer_id IS NOT NULL ORDER BY d.id", list(ids)).fetchall()  # fmt: skip
    if not rows:
        return list(ids), {}, []
    left: set[str] = set()
    carried: dict[str, tuple[HubEvent, ...]] = {}
    cancelled: list[HubEvent] = []
    for delivery_id, record_id, partner, timer_id, milestone_id, state, notice, due_at in rows:
        if state == "pending" and now < due_at - pathway_ops.FIRE_TOLERANCE_SECONDS:
            left.add(delivery_id)  # not yet due on the wall clock
            continue
        if state == "pending":
            if skip_locked and ex(f"SELECT id FROM pathway_milestones WHERE id = ?{skip_locked}",
                                  (milestone_id,)).fetchone() is None:  # fmt: skip
                left.add(delivery_id)  # a close or a fire holds the milestone: the next claim decides
                continue
            # as it is now (the milestone held): another claim, or this one for a sibling delivery, may have fired it
            state, notice = ex("SELECT state, notice_record FROM pathway_timers WHERE id = ?", (timer_id,)).fetchone()
        if state == "pending":
            result = pathway_ops.fire(ex, append, timer_id, now, FIRED_BY)
            if result.outcome == "fired":
                carried[delivery_id] = result.events
                continue
            if result.outcome == "not_yet_due":  # (checked above: not reached)
                left.add(delivery_id)
                continue
            state, notice = ex("SELECT state, notice_record FROM pathway_timers WHERE id = ?",
                               (timer_id,)).fetchone()  # fmt: skip
        if state == "fired" and notice == record_id:
            continue
        ex("UPDATE deliveries SET state = 'cancelled' WHERE id = ?", (delivery_id,))
        why = {"timer_id": timer_id, "reason": f"timer {state or 'unknown'}"}
        cancelled.append(HubEvent("cancelled", record_id, now, delivery_id, partner, why, FIRED_BY))
        left.add(delivery_id)
    append(cancelled)
    return [i for i in ids if i not in left], carried, cancelled


def carry(jobs: list[DeliveryJob], carried: dict[str, tuple[HubEvent, ...]], told: list[HubEvent]) -> Claimed:
    """What the claim returns: ``jobs`` with the events ``claimed`` gave for each (``DeliveryJob.events``), and
    ``told``, the claim's other events (``Claimed.told``), after those given for a delivery not among ``jobs``."""
    if not carried:
        return Claimed(jobs, told)
    handed = {j.delivery_id for j in jobs}
    # a timer fired for a delivery the claim then did not hand out (its body cannot be read): told all the same
    orphans = [event for delivery_id, events in carried.items() if delivery_id not in handed for event in events]
    jobs = [dataclasses.replace(j, events=carried[j.delivery_id]) if j.delivery_id in carried else j for j in jobs]
    return Claimed(jobs, orphans + told)
