"""What the dashboard's screens show and do, over the store's ports: the overview, the message search, and the
dead letters' filter and drop. Plain blocking functions like every service (async callers use a thread).

Personal data: the NHS-number search goes through the blind index and is audited (``messages.find_by_nhs_number``);
nothing here returns a body.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.plugin_api.events import HubEvent
from hub.services.errors import OperationRefused
from hub.services.messages import find_by_nhs_number
from hub.store.ports import Store
from hub.store.ports_console import MessageFilter

WINDOW_MINUTES = 60
RECENT_DELIVERIES = 500
"""How many of a partner's latest deliveries its response times on the partners screen are taken over."""
DROP_REASONS = {
    "duplicate": "A duplicate of a message that was delivered",
    "superseded": "Superseded by a later message",
    "test": "A test message",
    "partner_withdrawn": "The partner no longer takes this message",
    "sent_another_way": "Sent to the partner another way",
}
"""Why a dead letter may be dropped: codes only, so no free text (which could hold personal data) reaches the log."""


@dataclass
class Overview:
    """The last ``WINDOW_MINUTES`` minutes and the queues now.

    ``rows``: per (partner, type): ``accepted`` and ``delivered`` in the window and per minute;
    ``series``: accepted and delivered per minute, oldest first (``WINDOW_MINUTES`` each);
    ``queues``: per partner, deliveries ``pending``, ``in_flight``, ``available``, ``dead``, and ``failing``
    (still to do after at least one failed attempt) with ``failing_since`` (when the oldest failing or dead delivery
    of the partner was created, epoch seconds: the failures began no earlier); ``failing``: the partners with
    deliveries failing or dead.
    """

    since: float
    rows: list[dict[str, Any]]
    series: dict[str, list[int]]
    queues: list[dict[str, Any]]
    failing: list[dict[str, Any]] = field(default_factory=list)


def overview(store: Store, now: float | None = None) -> Overview:
    """Rates per partner and type over the last hour, per-minute series, queue depths and failing partners."""
    now = time.time() if now is None else now
    since = (now // 60 - WINDOW_MINUTES + 1) * 60  # whole minutes, the current one last (the store's counters)
    per: dict[tuple[str, str], dict[str, Any]] = {}
    series = {"accepted": [0] * WINDOW_MINUTES, "delivered": [0] * WINDOW_MINUTES}
    for kind, partner, message_type, minute, count in store.activity(since):
        row = per.setdefault((partner, message_type), {"partner": partner, "type": message_type, "accepted": 0,
                                                       "delivered": 0})  # fmt: skip
        row[kind] += count
        if 0 <= minute < WINDOW_MINUTES:
            series[kind][minute] += count
    rows = [
        {**r, "accepted_per_minute": round(r["accepted"] / WINDOW_MINUTES, 2),
         "delivered_per_minute": round(r["delivered"] / WINDOW_MINUTES, 2)}
        for _, r in sorted(per.items())
    ]  # fmt: skip
    queues = _queues(store)
    listed = [queues[p] for p in sorted(queues)]
    return Overview(since, rows, series, listed, [q for q in listed if q["failing"] or q["dead"]])


def _queues(store: Store) -> dict[str, dict[str, Any]]:
    """``Overview.queues`` by partner."""
    queues: dict[str, dict[str, Any]] = {}
    for partner, state, count, failing, oldest in store.queue_depths():
        q = queues.setdefault(partner, {"partner": partner, "pending": 0, "in_flight": 0, "available": 0, "dead": 0,
                                        "failing": 0, "failing_since": None})  # fmt: skip
        q[state] = count
        if state != "dead":
            q["failing"] += failing
        if oldest is not None and (q["failing_since"] is None or oldest < q["failing_since"]):
            q["failing_since"] = oldest
    return queues


def search(
    store: Store,
    where: MessageFilter,
    *,
    nhs_number: str | None = None,
    index_keys: Sequence[bytes] = (),
    actor: str,
    limit: int = 50,
    before: tuple[float, str] | None = None,
) -> list[dict[str, Any]]:
    """One page of messages matching ``where`` (and, with ``nhs_number``, about that person), newest first.

    The NHS number is looked up through the blind index (audited as ``searched`` by ``actor``, refused when it is
    not a valid NHS number); it is never stored or logged. Keyset paging: ``before`` is the last row's
    ``(received, id)``.
    """
    if nhs_number:
        found = find_by_nhs_number(store, list(index_keys), nhs_number, actor=actor)
        where = MessageFilter(**{**where.__dict__, "record_ids": [row["id"] for row in found]})
    return store.search_messages(where, limit, before)


def dead_deliveries(store: Store, *, partner: str | None = None, message_type: str | None = None,
                    limit: int = 1000) -> list[dict[str, Any]]:  # fmt: skip
    """Dead deliveries (``dead_letters``'s rows), oldest first, of ``partner`` and ``message_type`` when given."""
    return [r for r in store.dead_letters(limit)
            if (partner is None or r["partner"] == partner)
            and (message_type is None or r["type"] == message_type)]  # fmt: skip


def drop(store: Store, delivery_id: str, reason: str, *, actor: str) -> list[HubEvent]:
    """Give a dead delivery up for good with a reason code (``DROP_REASONS``); refused when it is not dead."""
    if reason not in DROP_REASONS:
        raise OperationRefused(f"the reason {reason!r} is not one of {', '.join(DROP_REASONS)}")
    events = store.drop_dead(delivery_id, reason, time.time(), actor)
    if not events:
        raise OperationRefused(f"{delivery_id} is not a dead delivery (replayed or dropped already?)")
    return events


def partner_health(store: Store, partner_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Each partner's health: ``last_success`` (its latest delivery done, epoch seconds, or None), the queue counts
    and ``failing_since`` of ``overview``'s queues, and per message type the ``partner_stats`` row over its
    ``RECENT_DELIVERIES`` latest deliveries (how many delivered, acknowledged and answered, and the median and
    longest times to the first acknowledgement and answer).

    The partners are ``partner_ids`` and any with deliveries still to do or dead. Reads a bounded number of rows per
    partner (``ConsoleReads.partner_recent_replies``), so its cost does not grow with the store.
    """
    from hub.plugin_api.data import ReplyTime
    from hub.services.partner_stats import stats_of

    queues = _queues(store)
    empty = {"pending": 0, "in_flight": 0, "available": 0, "dead": 0, "failing": 0, "failing_since": None}
    out = []
    for p in sorted(set(partner_ids) | set(queues)):
        recent = [ReplyTime(*row) for row in store.partner_recent_replies(p, RECENT_DELIVERIES)]
        out.append({**queues.get(p, empty), "partner": p, "last_success": recent[0].delivered_at if recent else None,
                    "types": stats_of(recent)})  # fmt: skip
    return out


def audit_entries(store: Store, *, kind: str | None = None, actor: str | None = None, record_id: str | None = None,
                  before: int | None = None, limit: int = 50) -> list[dict[str, Any]]:  # fmt: skip
    """The audit log newest first, filtered (``ConsoleReads.audit_events``); ids, codes and names, no personal data."""
    return store.audit_events(kind=kind, actor=actor, record_id=record_id, before=before, limit=limit)
