"""The order promise of ``hub.store.ports.DeliveryQueue.claim``, against every backend.

Deliveries that share an order key (the router gives one partner's deliveries about one
correlation the same key) go out one at a time, in the order they were accepted; deliveries
of other keys, and unordered ones, are not held back by them.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from contract.stores import T0, delivery_of, plan

from hub.plugin_api.events import HubEvent
from hub.store import DeliveryState, Intake, NewDelivery, NewMessage, Outcome
from hub.store.records import OVERTAKING_WARNING

LEASE = 30.0
ANNE, BOB = "key-anne", "key-bob"  # two people's keys (the store treats a key as an opaque string)


def accept(store, intake):
    return asyncio.run(store.accept(intake))


def claim(store, now=T0, limit=10, lease=LEASE):
    return asyncio.run(store.claim(limit, now, lease))


def record(store, *outcomes):
    return asyncio.run(store.record(list(outcomes)))


def outcome(job, state, at=T0 + 1, **kwargs) -> Outcome:
    return Outcome(job.delivery_id, job.record_id, job.partner, state, job.attempts, at, lease_id=job.lease_id,
                   **kwargs)  # fmt: skip


def message_ids(jobs) -> list[str]:
    return sorted(j.message_id for j in jobs)


def test_a_keys_later_delivery_waits_for_the_earlier_while_other_keys_and_unordered_ones_go(store) -> None:
    for message_id, key in (("anne-1", ANNE), ("anne-2", ANNE), ("bob-1", BOB), ("plain", None)):
        accept(store, plan(message_id, order_key=key))
    first = claim(store)
    assert message_ids(first) == ["anne-1", "bob-1", "plain"]
    assert claim(store) == []  # anne-2 waits while anne-1 is in flight
    anne_1 = next(j for j in first if j.message_id == "anne-1")
    record(store, outcome(anne_1, DeliveryState.DELIVERED))
    assert message_ids(claim(store, now=T0 + 2)) == ["anne-2"]


@pytest.mark.parametrize("ending", ["delivered", "dead", "acknowledged"])
def test_the_next_delivery_of_a_key_is_due_as_soon_as_the_earlier_one_ends(store, ending) -> None:
    accept(store, plan("anne-1", order_key=ANNE))
    accept(store, plan("anne-2", order_key=ANNE))
    [first] = claim(store, now=T0)
    assert claim(store, now=T0 + 1) == []  # later claims look at anne-2 while anne-1 is out...
    assert claim(store, now=T0 + 2) == []
    if ending == "acknowledged":
        accept(store, plan("ack-1", sender="council-luton", to=(), message_type="Acknowledgement", at=T0 + 3,
                           acknowledges=(first.delivery_id, DeliveryState.ACKNOWLEDGED, "ack-record")))  # fmt: skip
    else:
        record(store, outcome(first, ending, at=T0 + 3, error=None if ending == "delivered" else "HTTP 400"))
    assert [j.message_id for j in claim(store, now=T0 + 3)] == ["anne-2"]  # ...and it goes at once, not later


def test_the_outcomes_of_several_keys_recorded_together_each_free_their_keys_next(store) -> None:
    """One record of many outcomes (a worker's group): each ended key's next is due at once; a retried one waits."""
    carol = "key-carol"
    for key in (ANNE, BOB, carol):
        for n in (1, 2):
            accept(store, plan(f"{key}-{n}", order_key=key))
    first = {j.message_id: j for j in claim(store, now=T0)}
    assert sorted(first) == ["key-anne-1", "key-bob-1", "key-carol-1"]
    assert claim(store, now=T0 + 1) == []  # each key's second waits (and is parked) while its first is out
    retried = outcome(first["key-carol-1"], DeliveryState.PENDING, at=T0 + 3, error="HTTP 503", due_at=T0 + 60)
    record(store, outcome(first["key-anne-1"], DeliveryState.DELIVERED, at=T0 + 3),
           outcome(first["key-bob-1"], DeliveryState.DEAD, at=T0 + 3, error="HTTP 400"), retried)  # fmt: skip
    assert message_ids(claim(store, now=T0 + 3)) == ["key-anne-2", "key-bob-2"]  # carol's first is still to go


def test_unordered_deliveries_of_one_partner_go_together(store) -> None:
    for n in range(3):
        accept(store, plan(f"plain-{n}"))
    assert message_ids(claim(store)) == ["plain-0", "plain-1", "plain-2"]


def test_one_claim_never_hands_out_two_deliveries_of_one_key(store) -> None:
    for n in range(5):
        accept(store, plan(f"anne-{n}", order_key=ANNE))
    for n in range(5):
        jobs = claim(store, now=T0 + n, limit=10)
        assert [j.message_id for j in jobs] == [f"anne-{n}"]
        record(store, outcome(jobs[0], DeliveryState.DELIVERED, at=T0 + n))


def test_the_order_is_the_order_of_acceptance_not_of_the_messages_own_times(store) -> None:
    # the second accepted claims to be older (an earlier received_at, so due earlier): it still waits
    accept(store, plan("anne-first-accepted", order_key=ANNE, at=T0))
    accept(store, plan("anne-second-accepted", order_key=ANNE, at=T0 - 60))
    [job] = claim(store)
    assert job.message_id == "anne-first-accepted"


def test_within_one_intake_the_planned_order_is_the_order(store) -> None:
    inbound, derived = str(uuid.uuid4()), str(uuid.uuid4())
    messages = [
        NewMessage(inbound, "notice", "trust-a", "DischargeNotice", b"{}", T0, correlation_id="c"),
        NewMessage(derived, "referral", "trust-a", "Referral", b"{}", T0, correlation_id="c", parent_id=inbound),
    ]
    deliveries = [NewDelivery(str(uuid.uuid4()), record_id, "steps-luton", "r", "push", ANNE)
                  for record_id in (derived, inbound)]  # fmt: skip
    accept(store, Intake(messages, deliveries, [HubEvent("received", inbound, T0)]))
    [job] = claim(store)
    assert job.message_id == "referral"
    record(store, outcome(job, DeliveryState.DELIVERED))
    assert [j.message_id for j in claim(store, now=T0 + 2)] == ["notice"]


def test_the_order_holds_across_processes_sharing_the_store(opened) -> None:
    accept(opened.store, plan("anne-1", order_key=ANNE))
    other = opened.reopen()  # another hub process on the same data
    try:
        accept(other, plan("anne-2", order_key=ANNE))
        assert [j.message_id for j in claim(other)] == ["anne-1"]
        assert claim(opened.store) == []
    finally:
        other.close()


def test_a_retry_waiting_out_its_back_off_holds_back_its_keys_later_deliveries_only(store) -> None:
    accept(store, plan("anne-1", order_key=ANNE))
    accept(store, plan("anne-2", order_key=ANNE))
    [first] = claim(store)
    record(store, outcome(first, DeliveryState.PENDING, error="HTTP 503", due_at=T0 + 100))
    accept(store, plan("bob-1", order_key=BOB, at=T0 + 10))
    [bob] = claim(store, now=T0 + 50)
    assert bob.message_id == "bob-1"  # anne-2 is due, but waits for anne-1
    record(store, outcome(bob, DeliveryState.DELIVERED, at=T0 + 51))
    [again] = claim(store, now=T0 + 100)
    assert (again.message_id, again.attempts) == ("anne-1", 2)
    record(store, outcome(again, DeliveryState.DELIVERED, at=T0 + 101))
    assert [j.message_id for j in claim(store, now=T0 + 101)] == ["anne-2"]


def test_an_earlier_delivery_whose_lease_ran_out_is_sent_again_before_the_later_ones(store) -> None:
    accept(store, plan("anne-1", order_key=ANNE))
    accept(store, plan("anne-2", order_key=ANNE))
    [first] = claim(store, now=T0)  # its worker dies
    assert first.message_id == "anne-1"
    [again] = claim(store, now=T0 + LEASE + 1)
    assert (again.message_id, again.attempts) == ("anne-1", 2)
    assert claim(store, now=T0 + LEASE + 2) == []


def test_a_dead_earlier_delivery_holds_nothing_back_but_the_overtaking_is_on_the_record(store) -> None:
    accept(store, plan("anne-1", order_key=ANNE))
    second = accept(store, plan("anne-2", order_key=ANNE))
    [first] = claim(store)
    record(store, outcome(first, DeliveryState.DEAD, error="HTTP 400"))
    claimed = claim(store, now=T0 + 2)
    [job] = claimed
    assert job.message_id == "anne-2"
    # observers are told of the warning the claim wrote (Claimed.told)
    assert [(e.kind, e.delivery_id, e.detail) for e in claimed.told] == [
        ("warning", job.delivery_id, {"warning": OVERTAKING_WARNING, "overtook": [first.delivery_id]})
    ]
    later = delivery_of(store, second.id, "council-luton")
    [warning] = [e for e in store.message_view(second.id)["timeline"] if e["event"] == "warning"]
    assert warning["delivery_id"] == later["id"] and warning["partner"] == "council-luton"
    assert warning["detail"] == {"warning": OVERTAKING_WARNING, "overtook": [first.delivery_id]}
    # a retry of the overtaking delivery is not warned of again
    record(store, outcome(job, DeliveryState.PENDING, at=T0 + 3, error="HTTP 503", due_at=T0 + 4))
    claimed = claim(store, now=T0 + 4)
    [retried] = claimed
    assert retried.attempts == 2 and claimed.told == []
    timeline = store.message_view(second.id)["timeline"]
    assert [e["event"] for e in timeline].count("warning") == 1


def test_no_warning_when_every_earlier_delivery_went_out(store) -> None:
    accept(store, plan("anne-1", order_key=ANNE))
    second = accept(store, plan("anne-2", order_key=ANNE))
    [first] = claim(store)
    record(store, outcome(first, DeliveryState.DELIVERED))
    claim(store, now=T0 + 2)
    assert "warning" not in [e["event"] for e in store.message_view(second.id)["timeline"]]


def test_a_replayed_dead_delivery_takes_its_old_place_before_the_later_ones_still_waiting(store) -> None:
    accept(store, plan("anne-1", order_key=ANNE))
    accept(store, plan("anne-2", order_key=ANNE))
    accept(store, plan("anne-3", order_key=ANNE))
    [first] = claim(store)
    record(store, outcome(first, DeliveryState.DEAD, error="HTTP 400"))
    [second] = claim(store, now=T0 + 2)
    assert second.message_id == "anne-2"
    record(store, outcome(second, DeliveryState.DELIVERED, at=T0 + 3))
    store.replay([first.delivery_id], T0 + 4)  # fixed, and sent again: anne-3 waits for it
    [replayed] = claim(store, now=T0 + 5)
    assert replayed.message_id == "anne-1"
    assert claim(store, now=T0 + 5) == []
    record(store, outcome(replayed, DeliveryState.DELIVERED, at=T0 + 6))
    assert [j.message_id for j in claim(store, now=T0 + 7)] == ["anne-3"]


def test_an_acknowledged_earlier_delivery_holds_nothing_back(store) -> None:
    accept(store, plan("anne-1", order_key=ANNE))
    accept(store, plan("anne-2", order_key=ANNE))
    [first] = claim(store)
    accept(store, plan("ack-1", sender="council-luton", to=(), message_type="Acknowledgement",
                       acknowledges=(first.delivery_id, DeliveryState.ACKNOWLEDGED, "ack-record")))  # fmt: skip
    assert [j.message_id for j in claim(store, now=T0 + 1)] == ["anne-2"]  # the partner has anne-1


def test_pull_deliveries_are_never_held_back_nor_hold_back(store) -> None:
    accept(store, plan("anne-pull", to=(("steps-luton", "pull"),), order_key=ANNE))
    accept(store, plan("anne-push", order_key=ANNE))
    assert [j.message_id for j in claim(store)] == ["anne-push"]
    assert [j.message_id for j in store.inbox("steps-luton", 10)] == ["anne-pull"]


def test_a_big_backlog_held_back_never_starves_what_can_go(store) -> None:
    # anne's first waits out a back-off; 3,000 of her later ones, due before it, are held back
    accept(store, plan("anne-0", order_key=ANNE))
    [first] = claim(store)
    record(store, outcome(first, DeliveryState.PENDING, error="HTTP 503", due_at=T0 + 100))
    asyncio.run(store.accept_all([plan(f"anne-{n}", order_key=ANNE, at=T0 + 10) for n in range(1, 3001)]))
    accept(store, plan("bob-1", order_key=BOB, at=T0 + 50))
    seen: list[str] = []
    for n in range(10):  # a claim may hand out fewer than asked for, but the claims that follow go on
        seen += [j.message_id for j in claim(store, now=T0 + 100 + n, limit=10)]
        if {"anne-0", "bob-1"} <= set(seen):
            break
    assert sorted(seen) == ["anne-0", "bob-1"]
