"""The promises of ``hub.store.ports.DeliveryQueue``, against every backend."""

from __future__ import annotations

import asyncio

import pytest
from contract.stores import T0, delivery_of, plan

from hub.bodies import CodecRegistry, PlainCodec
from hub.plugin_api.problems import Conflict
from hub.store import DeliveryState, Outcome

LEASE = 30.0


def accept(store, intake):
    return asyncio.run(store.accept(intake))


def claim(store, now=T0, limit=10, lease=LEASE):
    return asyncio.run(store.claim(limit, now, lease))


def record(store, *outcomes):
    return asyncio.run(store.record(list(outcomes)))


def outcome(job, state, at=T0 + 1, **kwargs) -> Outcome:
    return Outcome(job.delivery_id, job.record_id, job.partner, state, job.attempts, at, lease_id=job.lease_id,
                   **kwargs)  # fmt: skip


# -- accept ----------------------------------------------------------------------------------------
def test_accept_commits_the_message_its_deliveries_and_events_before_it_returns(opened) -> None:
    store = opened.store
    intake = plan("m-1", to=(("council-luton", "push"), ("steps-luton", "pull")), body=b'{"a": 1}')
    result = accept(store, intake)
    assert (result.id, result.duplicate) == (intake.messages[0].id, False)
    other = opened.reopen()  # what another process sees once accept has returned
    try:
        view = other.message_view(result.id)
        assert view is not None and view["message_id"] == "m-1" and view["sender"] == "trust-a"
        states = {d["partner"]: d["state"] for d in view["deliveries"]}
        assert states == {"council-luton": DeliveryState.PENDING, "steps-luton": DeliveryState.AVAILABLE}
        assert [e["event"] for e in view["timeline"]] == ["received"]
        assert other.read_body(result.id) == b'{"a": 1}'
        assert other.counts()["messages"] == 1
    finally:
        other.close()


def test_accept_now_is_accept_for_blocking_callers(store) -> None:
    intake = plan("m-1")
    assert store.accept_now(intake).id == intake.messages[0].id
    assert store.accept_now(plan("m-1")).duplicate is True


def test_a_repeated_message_id_is_stored_once_and_answered_as_a_duplicate(store) -> None:
    first = accept(store, plan("m-1"))
    again = accept(store, plan("m-1"))
    assert (again.id, again.duplicate) == (first.id, True)
    assert [e.kind for e in again.events] == ["duplicate"]
    assert store.counts()["messages"] == 1
    assert store.counts()["deliveries_pending"] == 1
    assert "duplicate" in [e["event"] for e in store.message_view(first.id)["timeline"]]


def test_the_same_message_id_from_another_sender_is_another_message(store) -> None:
    first = accept(store, plan("m-1", sender="trust-a"))
    second = accept(store, plan("m-1", sender="trust-b"))
    assert second.duplicate is False and second.id != first.id


def test_a_repeated_idempotency_key_is_a_duplicate_even_under_another_message_id(store) -> None:
    first = accept(store, plan("m-1", key="k-1", fingerprint="same"))
    again = accept(store, plan("m-2", key="k-1", fingerprint="same"))
    assert (again.id, again.duplicate) == (first.id, True)
    assert store.counts()["messages"] == 1


@pytest.mark.parametrize(
    ("second", "location"),
    [(dict(message_id="m-1"), "$.message_id"), (dict(message_id="m-2", key="k-1"), "header Idempotency-Key")],
)
def test_a_reused_id_or_key_for_a_different_message_is_a_conflict_and_writes_nothing(store, second, location) -> None:
    second = dict(second)  # the parameters are shared by every backend's run of this test
    accept(store, plan("m-1", key="k-1", fingerprint="first"))
    before = store.verify_audit().rows
    with pytest.raises(Conflict) as refused:
        accept(store, plan(second.pop("message_id"), fingerprint="different", **second))
    assert refused.value.status == 409
    assert [p.location for p in refused.value.problems] == [location]
    assert store.counts()["messages"] == 1
    assert store.verify_audit().rows == before


def test_accept_all_commits_every_message_of_a_body_together(store) -> None:
    intakes = [plan("m-1"), plan("m-2"), plan("m-3")]
    results = asyncio.run(store.accept_all(intakes))
    assert [r.id for r in results] == [i.messages[0].id for i in intakes]
    assert not any(r.duplicate for r in results)
    again = asyncio.run(store.accept_all([plan("m-1"), plan("m-2"), plan("m-3")]))
    assert [r.duplicate for r in again] == [True, True, True] and [r.id for r in again] == [r.id for r in results]
    assert store.counts()["messages"] == 3


def test_accept_all_stores_nothing_when_one_message_is_refused(store) -> None:
    accept(store, plan("m-2", fingerprint="stored"))
    with pytest.raises(Conflict):
        asyncio.run(store.accept_all([plan("m-1"), plan("m-2", fingerprint="another"), plan("m-3")]))
    assert store.counts()["messages"] == 1
    assert store.list_messages() and {m["message_id"] for m in store.list_messages()} == {"m-2"}


def test_a_refused_message_among_concurrent_ones_fails_alone(store) -> None:
    accept(store, plan("m-0", fingerprint="stored"))

    async def together():
        intakes = [plan(f"m-{n}") for n in range(1, 20)]
        intakes.insert(10, plan("m-0", fingerprint="another"))  # committed in one group with the others
        return await asyncio.gather(*(store.accept(i) for i in intakes), return_exceptions=True)

    results = asyncio.run(together())
    assert isinstance(results[10], Conflict)
    assert [r.duplicate for i, r in enumerate(results) if i != 10] == [False] * 19
    assert store.counts()["messages"] == 20
    report = store.verify_audit()
    assert report.ok and report.rows == 20  # one received event each; nothing of the refused one


def test_repeats_committed_in_one_group_are_stored_once(store) -> None:
    async def together():
        intakes = [plan("m-1", fingerprint="same"), plan("m-1", fingerprint="same"),
                   plan("m-2", key="k-2", fingerprint="two"), plan("m-3", key="k-2", fingerprint="two"),
                   plan("m-4", fingerprint="four"), plan("m-4", fingerprint="other")]  # fmt: skip
        return await asyncio.gather(*(store.accept(i) for i in intakes), return_exceptions=True)

    first, again, keyed, keyed_again, four, conflict = asyncio.run(together())
    assert (first.duplicate, again.duplicate, again.id) == (False, True, first.id)
    assert (keyed.duplicate, keyed_again.duplicate, keyed_again.id) == (False, True, keyed.id)
    assert four.duplicate is False and isinstance(conflict, Conflict)
    assert store.counts()["messages"] == 3
    assert store.verify_audit().ok


def test_an_acknowledgement_moves_its_delivery_unless_it_is_dead(store) -> None:
    first = accept(store, plan("m-1"))
    delivery = delivery_of(store, first.id, "council-luton")["id"]
    accept(store, plan("ack-1", sender="council-luton", to=(), message_type="Acknowledgement",
                       acknowledges=(delivery, DeliveryState.ACKNOWLEDGED, "ack-record")))  # fmt: skip
    shown = delivery_of(store, first.id, "council-luton")
    assert shown["state"] == DeliveryState.ACKNOWLEDGED and shown["acknowledged_at"] is not None

    dead = accept(store, plan("m-2"))
    [job] = claim(store)
    record(store, outcome(job, DeliveryState.DEAD, error="refused"))
    accept(store, plan("ack-2", sender="council-luton", to=(), message_type="Acknowledgement",
                       acknowledges=(job.delivery_id, DeliveryState.ACKNOWLEDGED, "ack-record-2")))  # fmt: skip
    assert delivery_of(store, dead.id, "council-luton")["state"] == DeliveryState.DEAD


# -- claim and record ------------------------------------------------------------------------------
def test_claim_leases_due_push_deliveries_oldest_first_each_an_attempt(store) -> None:
    older = accept(store, plan("m-1", at=T0 - 10))
    newer = accept(store, plan("m-2", at=T0 - 5))
    accept(store, plan("m-3", at=T0 + 60))  # not due yet
    accept(store, plan("m-4", to=(("steps-luton", "pull"),), at=T0 - 20))  # waits in an inbox, never claimed
    jobs = claim(store, limit=1)
    assert [j.record_id for j in jobs] == [older.id]
    [job] = jobs
    assert (job.partner, job.attempts, job.message_id, job.type) == ("council-luton", 1, "m-1", "HousingRequest")
    assert job.body == b'{"synthetic": true}' and job.lease_id
    assert delivery_of(store, older.id, "council-luton")["state"] == DeliveryState.IN_FLIGHT
    assert [j.record_id for j in claim(store)] == [newer.id]
    assert claim(store) == []


def test_an_expired_lease_makes_the_delivery_due_again_under_a_new_lease(store) -> None:
    accept(store, plan("m-1"))
    [first] = claim(store, now=T0)
    assert claim(store, now=T0 + LEASE - 1) == []  # still leased
    [second] = claim(store, now=T0 + LEASE + 1)  # the first worker died
    assert second.delivery_id == first.delivery_id
    assert second.lease_id != first.lease_id and second.attempts == 2


def test_a_claim_judges_other_leases_by_expired_by_and_due_retries_by_now(store) -> None:
    """A worker whose own clock runs ahead (after a step back of the wall clock) claims with its time as ``now``
    and the wall clock as ``expired_by``: it never takes a lease another worker still holds."""
    accept(store, plan("m-1"))
    [first] = claim(store, now=T0)
    ahead = T0 + 3600  # an hour ahead of the wall clock
    assert asyncio.run(store.claim(10, ahead, LEASE, expired_by=T0 + LEASE - 1)) == []  # still held by the wall
    record(store, outcome(first, DeliveryState.PENDING, at=T0 + 1, due_at=ahead - 10, error="HTTP 503"))
    [retry] = asyncio.run(store.claim(10, ahead, LEASE, expired_by=T0 + 2))  # due by the worker's own time
    assert retry.delivery_id == first.delivery_id and retry.attempts == 2


def test_an_outcome_counts_only_under_the_current_lease(store) -> None:
    accepted = accept(store, plan("m-1"))
    [slow] = claim(store, now=T0)
    [fast] = claim(store, now=T0 + LEASE + 1)
    assert record(store, outcome(slow, DeliveryState.DEAD, error="too late")) == []
    assert delivery_of(store, accepted.id, "council-luton")["state"] == DeliveryState.IN_FLIGHT
    events = record(store, outcome(fast, DeliveryState.DELIVERED, receipt="REF-1", warnings=("odd answer",)))
    assert [e.kind for e in events] == ["delivered", "warning"]
    assert events[0].detail == {"attempts": 2, "receipt": "REF-1"}
    shown = delivery_of(store, accepted.id, "council-luton")
    assert (shown["state"], shown["receipt"]) == (DeliveryState.DELIVERED, "REF-1")
    assert record(store, outcome(slow, DeliveryState.DELIVERED)) == []


def extend(store, jobs, until):
    return asyncio.run(store.extend_leases([(j.delivery_id, j.lease_id) for j in jobs], until))


def test_a_heartbeat_keeps_a_lease_alive_past_its_first_end(store) -> None:
    accepted = accept(store, plan("m-1"))
    [job] = claim(store, now=T0)
    assert extend(store, [job], T0 + 100) == 1
    assert claim(store, now=T0 + LEASE + 1) == []  # the first lease would have run out here
    assert extend(store, [job], T0 + 10) == 1  # still held; a lease is never shortened
    assert claim(store, now=T0 + 99) == []
    [again] = claim(store, now=T0 + 101)
    assert again.delivery_id == job.delivery_id and again.lease_id != job.lease_id
    assert extend(store, [job], T0 + 500) == 0  # the old lease is lost: nothing extended
    assert claim(store, now=T0 + 101 + LEASE + 1) != []  # and the new one ran out as it was
    assert record(store, outcome(job, DeliveryState.DELIVERED)) == []
    assert delivery_of(store, accepted.id, "council-luton")["state"] == DeliveryState.IN_FLIGHT


def test_a_recorded_delivery_has_no_lease_left_to_extend(store) -> None:
    accept(store, plan("m-1"))
    [job] = claim(store)
    record(store, outcome(job, DeliveryState.PENDING, error="timed out", due_at=T0 + 5))
    assert extend(store, [job], T0 + 100) == 0
    assert [j.delivery_id for j in claim(store, now=T0 + 5)] == [job.delivery_id]
    assert asyncio.run(store.extend_leases([], T0)) == 0


def test_two_stores_on_the_same_data_claiming_at_once_never_hand_out_one_delivery_twice(opened) -> None:
    store = opened.store
    for n in range(60):
        accept(store, plan(f"m-{n}", at=T0 - 60 + n))
    other = opened.reopen()  # as another process would

    async def drain(one):
        taken = []
        while batch := await one.claim(7, T0, LEASE):
            taken += [j.delivery_id for j in batch]
        return taken

    async def both():
        return await asyncio.gather(drain(store), drain(other), drain(store), drain(other))

    try:
        taken = [d for run in asyncio.run(both()) for d in run]
    finally:
        other.close()
    assert len(taken) == len(set(taken)) == 60


def test_delivered_keeps_an_acknowledgement_that_overtook_it(store) -> None:
    accepted = accept(store, plan("m-1"))
    [job] = claim(store)
    accept(store, plan("ack-1", sender="council-luton", to=(), message_type="Acknowledgement",
                       acknowledges=(job.delivery_id, DeliveryState.REJECTED, "ack-record")))  # fmt: skip
    record(store, outcome(job, DeliveryState.DELIVERED))
    shown = delivery_of(store, accepted.id, "council-luton")
    assert shown["state"] == DeliveryState.REJECTED and shown["delivered_at"] is not None


def test_a_retry_is_due_again_at_its_time_and_not_before(store) -> None:
    accepted = accept(store, plan("m-1"))
    [job] = claim(store)
    [event] = record(store, outcome(job, DeliveryState.PENDING, error="timed out", due_at=T0 + 100,
                                    failure="partner_unavailable"))  # fmt: skip
    assert event.kind == "retry_scheduled"
    assert event.detail == {"attempts": 1, "error": "timed out", "retry_in_seconds": 99.0,
                            "failure": "partner_unavailable"}  # fmt: skip
    shown = delivery_of(store, accepted.id, "council-luton")
    assert (shown["state"], shown["last_error"]) == (DeliveryState.PENDING, "timed out")
    assert claim(store, now=T0 + 99) == []
    [again] = claim(store, now=T0 + 100)
    assert again.attempts == 2


def test_a_dead_delivery_keeps_its_error_for_the_operator(store) -> None:
    accepted = accept(store, plan("m-1"))
    [job] = claim(store)
    [event] = record(store, outcome(job, DeliveryState.DEAD, error="HTTP 400", failure="refused_by_partner"))
    assert event.kind == "dead_lettered"
    [dead] = store.dead_letters()
    assert (dead["delivery_id"], dead["message"], dead["partner"], dead["last_error"], dead["attempts"]) == (
        job.delivery_id, accepted.id, "council-luton", "HTTP 400", 1)  # fmt: skip
    assert claim(store, now=T0 + 10_000) == []


def test_a_delivery_whose_body_cannot_be_read_is_dead_lettered_not_handed_out(opened) -> None:
    accepted = accept(opened.store, plan("m-1"))
    wrong = opened.reopen(CodecRegistry(PlainCodec()))  # does not know the codec the body was written with
    try:
        claimed = claim(wrong)
        assert claimed == []
        shown = delivery_of(wrong, accepted.id, "council-luton")
        # observers are told of the dead-lettering (Claimed.told), as of any other
        [told] = claimed.told
        assert (told.kind, told.delivery_id, told.detail["error"]) == (
            "dead_lettered",
            shown["id"],
            shown["last_error"],
        )
        assert shown["state"] == DeliveryState.DEAD and shown["last_error"].startswith("body unreadable")
    finally:
        wrong.close()


# -- replay ----------------------------------------------------------------------------------------
def test_replay_makes_dead_deliveries_due_again_with_no_attempts_counted(store) -> None:
    one, two = accept(store, plan("m-1")), accept(store, plan("m-2"))
    waiting = accept(store, plan("m-3", at=T0 + 1_000))
    jobs = {j.record_id: j for j in claim(store)}
    record(store, *(outcome(jobs[r.id], DeliveryState.DEAD, error="gone") for r in (one, two)))
    assert [e.kind for e in store.replay([one.id], T0 + 5)] == ["replayed"]  # by message id
    assert delivery_of(store, one.id, "council-luton")["state"] == DeliveryState.PENDING
    assert delivery_of(store, two.id, "council-luton")["state"] == DeliveryState.DEAD
    assert store.replay([waiting.id], T0 + 5) == []  # not dead: left alone
    [again] = claim(store, now=T0 + 5)
    assert (again.record_id, again.attempts) == (one.id, 1)
    delivery = jobs[two.id].delivery_id
    assert [e.delivery_id for e in store.replay(None, T0 + 6)] == [delivery]  # None: every dead one
    assert store.replay([delivery], T0 + 7) == []


# -- the inbox -------------------------------------------------------------------------------------
def test_an_inbox_holds_only_the_partners_own_waiting_deliveries_oldest_first(store) -> None:
    first = accept(store, plan("m-1", to=(("steps-luton", "pull"),), at=T0 - 2, body=b'{"n": 1}'))
    second = accept(store, plan("m-2", to=(("steps-luton", "pull"),), at=T0 - 1))
    accept(store, plan("m-3", to=(("other-hostel", "pull"),)))
    accept(store, plan("m-4"))  # push
    inbox = store.inbox("steps-luton", 10)
    assert [j.record_id for j in inbox] == [first.id, second.id]
    assert inbox[0].body == b'{"n": 1}' and inbox[0].partner == "steps-luton"
    assert [j.record_id for j in store.inbox("steps-luton", 1)] == [first.id]


def test_only_the_partner_can_take_its_delivery_from_the_inbox_and_only_once(store) -> None:
    accepted = accept(store, plan("m-1", to=(("steps-luton", "pull"),)))
    [item] = store.inbox("steps-luton", 10)
    assert store.ack_inbox("other-hostel", item.delivery_id, T0 + 1) is None
    [event] = store.ack_inbox("steps-luton", item.delivery_id, T0 + 1)
    assert (event.kind, event.record_id, event.detail) == ("delivered", accepted.id, {"via": "inbox"})
    assert delivery_of(store, accepted.id, "steps-luton")["state"] == DeliveryState.DELIVERED
    assert store.ack_inbox("steps-luton", item.delivery_id, T0 + 2) is None
    assert store.inbox("steps-luton", 10) == []
