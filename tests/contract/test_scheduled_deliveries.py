"""Scheduled deliveries (``NewDelivery.not_before``): due later, shown as scheduled, cancellable until then."""

from __future__ import annotations

import asyncio
import uuid

from contract.stores import plan

from hub.store import Store
from hub.store.records import NewDelivery


def scheduled(store: Store, due_in: float) -> tuple[str, str, float]:
    """Store a message with one delivery due ``due_in`` seconds from now; return record, delivery and now."""
    import time

    now = time.time()
    intake = plan(str(uuid.uuid4()), to=(), at=now)
    delivery = str(uuid.uuid4())
    intake.deliveries.append(NewDelivery(delivery, intake.messages[0].id, "council-luton", "later", "push",
                                         not_before=now + due_in))  # fmt: skip
    return store.accept_now(intake).id, delivery, now


def test_a_scheduled_delivery_is_not_claimed_before_its_time_and_is_shown_scheduled(store: Store) -> None:
    record, delivery, now = scheduled(store, 60)
    assert asyncio.run(store.claim(10, now + 1, 30)) == []
    shown = store.message_view(record)["deliveries"][0]  # type: ignore[index]
    assert shown["state"] == "pending" and shown["scheduled_until"] is not None and shown["outcome"] == "waiting"
    assert store.message_view(record)["status"] == "in_progress"  # type: ignore[index]
    jobs = asyncio.run(store.claim(10, now + 61, 30))
    assert [j.delivery_id for j in jobs] == [delivery]


def test_a_scheduled_delivery_cancelled_is_never_sent_and_only_a_scheduled_one_may_be(store: Store) -> None:
    record, delivery, now = scheduled(store, 60)
    events = store.cancel_scheduled(delivery, now + 1, "ops")
    assert [(e.kind, e.delivery_id, e.actor) for e in events or []] == [("cancelled", delivery, "ops")]
    assert store.cancel_scheduled(delivery, now + 2, "ops") is None
    assert asyncio.run(store.claim(10, now + 120, 30)) == []
    view = store.message_view(record)
    assert view["deliveries"][0]["state"] == "cancelled" and view["status"] == "cancelled"  # type: ignore[index]
    assert view["deliveries"][0]["outcome"] == "cancelled"  # type: ignore[index]
    immediate = store.accept_now(plan(str(uuid.uuid4())))
    due_now = store.message_view(immediate.id)["deliveries"][0]  # type: ignore[index]
    assert due_now["scheduled_until"] is None
    assert store.cancel_scheduled(due_now["id"], now, "ops") is None
    assert store.verify_audit().ok
