"""The offer chain in a running hub over real HTTP: three hostels (one full, one declining, one accepting), the
time-out path, the navigators' queue, a place reserved and taken, and isolation between providers.

A real ``hub serve`` with push hostels (partner simulators on loopback), a real feed imported by the CLI, and
capacity recorded by the providers through the API; the offer window and the assessment are pathway milestones
of a few seconds (``offers_world``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from hostels_feed import FeedServer
from offers_world import (
    TAKER,
    call,
    make_world,
    milestone_of,
    offers_of,
    pathway,
    steps,
    three_service_feed,
    told,
    unmatched_referral,
    wait_until,
)

from hub.testing.messages import example
from hub.testing.world import HubWorld


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    server = three_service_feed()
    yield server
    server.close()


def test_full_declining_accepting_chain_with_reservation_navigator_isolation_and_assessment(
    hub_world_factory: Callable[..., HubWorld], feed: FeedServer
) -> None:
    world = make_world(hub_world_factory, feed, window="1h", assess="6s", remind="3s")
    record = unmatched_referral(world)  # matched on intake: nobody calls /match

    # the decliner receives the Referral by its own transport, naming it; nobody else receives anything yet
    assert world.sims["hostel-no"].wait_for(lambda s: s.messages("Referral"), timeout=30)
    first = world.sims["hostel-no"].messages("Referral")[0]
    assert first["payload"]["service_id"] == "hostel-no" and first["sender"]["org_id"] == "cc-team"
    assert world.sims["hostel-yes"].messages() == [] and world.sims["hostel-full"].messages() == []
    (offer,) = offers_of(world, "hostel-no")
    assert offer["message_id"] == first["message_id"]
    # its window is the pathway's milestone, due an hour after the delivery
    assert wait_until(lambda: offers_of(world, "hostel-no")[0]["expires_at"]), offers_of(world, "hostel-no")
    assert 3000 < offers_of(world, "hostel-no")[0]["expires_at"] - offer["offered_at"] < 3700
    matched = call(world, "cc-team", "POST", f"/referrals/{record}/match")  # a second time changes nothing
    assert matched.status_code == 200 and matched.json()["told"] == [{"step": "offered", "detail": None}]
    assert call(world, "hostel-no", "POST", f"/referrals/{record}/match").status_code == 404  # not its referral
    assert offers_of(world, "hostel-yes") == []  # isolation: a provider sees only its own offers
    stolen = call(world, "hostel-yes", "POST", f"/offers/{offer['offer_id']}/answer", {"answer": "accept"})
    unknown = call(world, "hostel-yes", "POST", "/offers/no-such-offer/answer", {"answer": "accept"})
    assert stolen.status_code == unknown.status_code == 404 and stolen.json()["detail"] == unknown.json()["detail"]
    bad = call(world, "hostel-no", "POST", f"/offers/{offer['offer_id']}/answer", {"answer": "decline"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["location"] == "/reason_code"
    assert offers_of(world, "hostel-no")[0]["state"] == "open"  # a bad answer changed nothing

    declined = call(world, "hostel-no", "POST", f"/offers/{offer['offer_id']}/answer",
                    {"answer": "decline", "reason_code": "risk"})  # fmt: skip
    assert declined.status_code == 200, declined.text
    assert world.sims["hostel-yes"].wait_for(lambda s: s.messages("Referral"))
    second = world.sims["hostel-yes"].messages("Referral")[0]
    text = json.dumps(second)
    assert "hostel-no" not in text and "reason_code" not in text  # nothing of the other's decision
    (taken,) = offers_of(world, "hostel-yes")
    assert call(world, "hostel-yes", "POST", f"/offers/{taken['offer_id']}/answer",
                {"answer": "accept"}).status_code == 200  # fmt: skip
    assert told(world, record) == [("offered", None), ("declined", "risk"), ("offered", None), ("accepted", None)]
    # the referrer receives each step as a ReferralUpdate in its own format and transport, naming no service
    referrer = world.sims["cc-team"]
    assert wait_until(lambda: len(steps(world, record)) == 4), steps(world, record)
    assert steps(world, record) == told(world, record)
    assert not any(p in json.dumps(referrer.messages("ReferralUpdate")) for p in ("hostel-", "svc-"))
    # and each decision as the provider's Acknowledgement, a decline with its reason code only
    assert referrer.wait_for(lambda s: len(s.messages("Acknowledgement")) == 2)
    acks = {a["sender"]["org_id"]: a for a in referrer.messages("Acknowledgement")}
    assert (
        acks["hostel-no"]["payload"]["status"] == "rejected" and acks["hostel-no"]["payload"]["reason_code"] == "risk"
    )
    assert acks["hostel-yes"]["payload"]["reason_code"] == "offer_accepted"  # starts assessment-after-acceptance
    assert acks["hostel-yes"]["in_reply_to"] == second["message_id"]
    assert world.sims["hostel-full"].messages() == []  # the full hostel is never offered
    # the decliner was told nothing of the taker, nor the taker of the decliner, beyond its own offer
    assert [m["type"] for m in world.sims["hostel-no"].messages()] == ["Referral"]

    # the acceptance opened the 48-hour assessment (here 6 s), which the taker's assessment meets
    correlation = first["correlation_id"]
    assessed = example("acknowledgement", sender={"org_id": "hostel-yes"}, in_reply_to=second["message_id"],
                       correlation_id=correlation,
                       payload={"level": "business", "status": "accepted", "reason_code": "assessed",
                                "at": "2026-12-03T10:00:00Z"})  # fmt: skip
    assert world.send("hostel-yes", assessed).status_code == 202
    met = wait_until(lambda: milestone_of(world, correlation, "assessment-after-acceptance", "met"))
    assert met and met["partner"] == "hostel-yes", pathway(world, correlation)

    # its one place is reserved: a second person, declined by the other, waits for a navigator
    again = unmatched_referral(world)
    assert wait_until(lambda: [o for o in offers_of(world, "hostel-no") if o["referral"] == again])
    (offer2,) = [o for o in offers_of(world, "hostel-no") if o["referral"] == again]
    call(world, "hostel-no", "POST", f"/offers/{offer2['offer_id']}/answer",
         {"answer": "decline", "reason_code": "no_capacity"})  # fmt: skip
    assert told(world, again)[-1] == ("waiting_for_navigator", "all_declined")
    assert wait_until(lambda: steps(world, again)[-1:] == [("waiting_for_navigator", "all_declined")])
    assert call(world, "cc-team", "GET", "/queue").status_code == 403
    queue = call(world, "nav", "GET", "/queue").json()["queue"]
    assert [q["referral"] for q in queue] == [again] and queue[0]["reason"] == "all_declined"

    # the first person arrives: the reservation becomes a place taken (the figure goes to 0)
    assert call(world, "hostel-yes", "POST", f"/offers/{taken['offer_id']}/arrived").status_code == 200
    assert told(world, record)[-1] == ("placed", None)
    assert wait_until(lambda: steps(world, record)[-1:] == [("placed", None)]), steps(world, record)
    shown = call(world, "hostel-yes", "GET", f"/services/{TAKER}").json()
    assert shown["capacities"][0]["available"] == 0

    # a navigator allocates the second by hand with a reason; the provider receives it and accepts
    refused = call(world, "nav", "POST", f"/queue/{again}/allocate", {"service_id": TAKER, "reason": ""})
    assert refused.status_code == 422
    allocated = call(world, "nav", "POST", f"/queue/{again}/allocate",
                     {"service_id": TAKER, "reason": "a room frees on Monday, agreed by phone"})  # fmt: skip
    assert allocated.status_code == 200, allocated.text
    assert world.sims["hostel-yes"].wait_for(lambda s: len(s.messages("Referral")) == 2)
    third = world.sims["hostel-yes"].messages("Referral")[1]
    (offer3,) = [o for o in offers_of(world, "hostel-yes") if o["referral"] == again]
    assert call(world, "hostel-yes", "POST", f"/offers/{offer3['offer_id']}/answer",
                {"answer": "accept"}).status_code == 200  # fmt: skip
    # no assessment comes: the provider is reminded, then the milestone is breached and it gets the due notice
    correlation3 = third["correlation_id"]
    breached = wait_until(lambda: milestone_of(world, correlation3, "assessment-after-acceptance", "breached"))
    assert breached, pathway(world, correlation3)
    notices = lambda: [m["payload"]["notice"] for m in world.sims["hostel-yes"].messages("PathwayNotice")]  # noqa: E731
    assert wait_until(lambda: notices() == ["reminder", "due"]), notices()
    assert world.sims["hostel-no"].messages("PathwayNotice") == []  # nothing of another provider's milestone


def test_no_answer_in_the_window_moves_the_offer_on_across_a_restart_and_a_self_referral_waits(
    hub_world_factory: Callable[..., HubWorld], feed: FeedServer
) -> None:
    world = make_world(hub_world_factory, feed, window="3s")
    record = unmatched_referral(world)
    assert world.sims["hostel-no"].wait_for(lambda s: s.messages("Referral"), timeout=30)
    first = world.sims["hostel-no"].messages("Referral")[0]
    # the hub stops while the offer is open: the window is the pathway's timer in the store, not a clock of
    # the process, so the hub started again lapses it and offers the next service
    world.hub.stop()
    world.hub.start()
    assert world.sims["hostel-yes"].wait_for(lambda s: s.messages("Referral"), timeout=30)
    window = milestone_of(world, first["correlation_id"], "offer-window", "breached")
    assert window and window["partner"] == "hostel-no", pathway(world, first["correlation_id"])
    assert [t["state"] for t in window["timers"]] == ["fired"]
    # nobody answers the second either: it lapses too, and the referral waits for a navigator
    assert wait_until(lambda: told(world, record)[-1][0] == "waiting_for_navigator"), told(world, record)
    assert [step for step, _ in told(world, record)] == ["offered", "expired", "offered", "expired",
                                                         "waiting_for_navigator"]  # fmt: skip
    assert wait_until(lambda: len(steps(world, record)) == 5) and steps(world, record) == told(world, record)
    assert len(world.sims["hostel-no"].messages("Referral")) == 1  # each offered once, each window fired once
    late = call(world, "hostel-no", "POST", f"/offers/{first['payload']['offer_id']}/answer", {"answer": "accept"})
    assert late.status_code == 422 and "already expired" in late.text  # a lapsed offer cannot be taken

    own = unmatched_referral(world, sender="dropin", source="self")
    assert wait_until(lambda: steps(world, own, "dropin")) == [("waiting_for_navigator", "self_referral")]
    assert told(world, own, "dropin") == [("waiting_for_navigator", "self_referral")]

    # a navigator at the command line: the queue, then an allocation the running hub sends
    listed = world.cli("offers", "queue", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {json.loads(line)["referral"]: json.loads(line)["reason"] for line in listed.stdout.splitlines()} == {
        record: "all_declined",
        own: "self_referral",
    }
    before = len(world.sims["hostel-yes"].messages("Referral"))
    bad = world.cli("offers", "allocate", own, "svc-none", "--reason", "x")
    assert bad.returncode == 1 and "not a linked service" in bad.stderr
    done = world.cli("offers", "allocate", own, TAKER, "--reason", "triaged: low support needs", "--navigator", "nav")
    assert done.returncode == 0, done.stderr
    assert world.sims["hostel-yes"].wait_for(lambda s: len(s.messages("Referral")) == before + 1, timeout=20)
    shown = json.loads(world.cli("offers", "show", own).stdout)
    assert shown["allocations"][0]["navigator"] == "nav" and shown["offers"][0]["partner"] == "hostel-yes"


def test_two_hub_processes_run_one_chain_each_step_once(
    hub_world_factory: Callable[..., HubWorld], feed: FeedServer
) -> None:
    from hub.testing.running_hub import RunningHub

    world = make_world(hub_world_factory, feed, window="3s")
    second = RunningHub(world.config_dir).start()  # another `hub serve` on the same configuration and store
    try:
        records = [unmatched_referral(world, via=second.url if n % 2 else None) for n in range(4)]  # either takes in
        waiting = [("waiting_for_navigator", "all_declined")]
        for record in records:  # nobody answers: each window lapses once, whichever process sees it first
            assert wait_until(lambda: all(told(world, r)[-1:] == waiting for r in records), timeout=60)
            assert [s for s, _ in told(world, record)] == ["offered", "expired", "offered", "expired",
                                                           "waiting_for_navigator"]  # fmt: skip
            assert wait_until(lambda: all(len(steps(world, r)) == 5 for r in records))
            assert steps(world, record) == told(world, record)
        for hostel in ("hostel-no", "hostel-yes"):  # each offered each referral once
            offers = world.sims[hostel].messages("Referral")
            assert len(offers) == len({m["payload"]["offer_id"] for m in offers}) == len(records), hostel
    finally:
        second.stop()
