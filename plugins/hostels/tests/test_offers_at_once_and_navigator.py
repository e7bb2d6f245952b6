"""Offers to several services at once, and a referral flagged complex, in a running hub over real HTTP.

The world of ``offers_world`` (three push hostels as partner simulators on loopback, a real feed, capacity
recorded through the API), here with ``[plugins.hostels.offers] at_once = 3`` clipped by
``max_open_per_referral = 2`` and ``max_open_per_service = 1``, and the full hostel given two places so that
three services may take the person. What each provider received is read from its simulator: the bodies the
hub delivered, not the offer book.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from hostels_feed import FeedServer
from offers_world import (
    DECLINER,
    FULL,
    TAKER,
    call,
    make_world,
    offers_of,
    steps,
    three_service_feed,
    told,
    unmatched_referral,
    wait_until,
)

from hub.testing.messages import example
from hub.testing.world import HubWorld

HOSTELS = ("hostel-full", "hostel-no", "hostel-yes")
SERVICE_OF = {"hostel-full": FULL, "hostel-no": DECLINER, "hostel-yes": TAKER}


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    server = three_service_feed()
    yield server
    server.close()


def offered_to(world: HubWorld, hostel: str, record: str) -> list[dict[str, object]]:
    return [o for o in offers_of(world, hostel) if o["referral"] == record]


def test_offers_to_n_at_once_first_accept_wins_others_withdrawn_and_told_caps_kept(
    hub_world_factory: Callable[..., HubWorld], feed: FeedServer
) -> None:
    offers = {"at_once": 3, "max_open_per_referral": 2, "max_open_per_service": 1}
    world = make_world(hub_world_factory, feed, window="1h", offers=offers)
    # the full hostel now has two places, recorded last: the freshest figure, offered first
    put = world.as_("hostel-full").put(f"{world.url}/plugins/hostels/services/{FULL}/capacity",
                                       json={"available": 2}, timeout=10)  # fmt: skip
    assert put.status_code == 200, put.text
    sims = world.sims
    record = unmatched_referral(world)

    # offered to two at once (at_once 3 clipped by the per-referral cap), each by its own transport
    assert wait_until(lambda: sims["hostel-full"].messages("Referral") and sims["hostel-no"].messages("Referral"))
    assert sims["hostel-yes"].messages() == []
    assert wait_until(lambda: [s for s, _ in told(world, record)] == ["offered", "offered"]), told(world, record)
    firsts = {h: sims[h].messages("Referral")[0] for h in ("hostel-full", "hostel-no")}
    for hostel, offer in firsts.items():
        assert offer["payload"]["service_id"] == hostel and offer["recipient"]["org_id"] == hostel
    assert firsts["hostel-full"]["payload"]["offer_id"] != firsts["hostel-no"]["payload"]["offer_id"]

    # one declines: the next service is offered, keeping two open
    (no_offer,) = offered_to(world, "hostel-no", record)
    declined = call(world, "hostel-no", "POST", f"/offers/{no_offer['offer_id']}/answer",
                    {"answer": "decline", "reason_code": "risk"})  # fmt: skip
    assert declined.status_code == 200 and declined.json()["offered"] == 1, declined.text
    assert sims["hostel-yes"].wait_for(lambda s: s.messages("Referral"), timeout=30)
    assert len(offered_to(world, "hostel-full", record)) == len(offered_to(world, "hostel-yes", record)) == 1

    # the first accept wins: the other open offer is withdrawn and its provider told, naming only its own offer
    (yes_offer,) = offered_to(world, "hostel-yes", record)
    (full_offer,) = offered_to(world, "hostel-full", record)
    accepted = call(world, "hostel-yes", "POST", f"/offers/{yes_offer['offer_id']}/answer", {"answer": "accept"})
    assert accepted.status_code == 200, accepted.text
    assert offered_to(world, "hostel-full", record) == []
    late = call(world, "hostel-full", "POST", f"/offers/{full_offer['offer_id']}/answer", {"answer": "accept"})
    assert late.status_code == 422 and "already withdrawn" in late.text  # the accept came second: refused
    assert sims["hostel-full"].wait_for(lambda s: s.messages("ReferralUpdate"), timeout=30)
    (withdrawn,) = sims["hostel-full"].messages("ReferralUpdate")
    assert withdrawn["payload"]["step"] == "withdrawn" and withdrawn["recipient"]["org_id"] == "hostel-full"
    assert withdrawn["payload"]["referral_message_id"] == firsts["hostel-full"]["message_id"]
    assert withdrawn["correlation_id"] == firsts["hostel-full"]["correlation_id"]
    assert wait_until(lambda: steps(world, record)[-2:] == [("offered", None), ("accepted", None)])
    assert told(world, record) == [("offered", None), ("offered", None), ("declined", "risk"), ("offered", None),
                                   ("accepted", None)]  # fmt: skip

    # nothing of one provider's decision reached another: each received its offer, the full one its withdrawal
    assert [m["type"] for m in sims["hostel-no"].messages()] == ["Referral"]
    assert [m["type"] for m in sims["hostel-yes"].messages()] == ["Referral"]
    assert [m["type"] for m in sims["hostel-full"].messages()] == ["Referral", "ReferralUpdate"]
    for hostel in HOSTELS:
        text = json.dumps(sims[hostel].messages())
        others = [h for h in HOSTELS if h != hostel] + [SERVICE_OF[h] for h in HOSTELS if h != hostel]
        assert not [o for o in others if o in text], hostel
        assert '"risk"' not in text and "offer_accepted" not in text and "reason_code" not in text, hostel
    assert len(sims["hostel-full"].messages("ReferralUpdate")) == 1  # told once

    # caps: the taker's one place is reserved; the next referral goes to two, and a third finds both services
    # holding their one open offer: nothing is offered, it waits for a navigator
    second = unmatched_referral(world)
    assert wait_until(lambda: offered_to(world, "hostel-full", second) and offered_to(world, "hostel-no", second))
    third = unmatched_referral(world)
    assert wait_until(lambda: told(world, third) == [("waiting_for_navigator", "no_match")]), told(world, third)
    assert len(sims["hostel-full"].messages("Referral")) == len(sims["hostel-no"].messages("Referral")) == 2
    assert len(sims["hostel-yes"].messages("Referral")) == 1
    assert [q["referral"] for q in call(world, "nav", "GET", "/queue").json()["queue"]] == [third]


def test_a_complex_referral_waits_for_a_navigator_who_allocates_it_by_hand(
    hub_world_factory: Callable[..., HubWorld], feed: FeedServer
) -> None:
    world = make_world(hub_world_factory, feed, window="1h")
    message = example("referral", sender={"org_id": "cc-team"})
    message.pop("recipient", None)
    del message["payload"]["service_id"]
    message["payload"].update(source="professional", support_needs=["mental health"], complex=True)
    answer = world.send("cc-team", message)
    assert answer.status_code == 202, answer.text
    record = str(answer.json()["id"])

    # never offered: it waits in the queue, the referrer is told why
    waiting = [("waiting_for_navigator", "complex")]
    assert wait_until(lambda: told(world, record) == waiting), told(world, record)
    assert wait_until(lambda: len(world.sims["cc-team"].messages("ReferralUpdate")) == 1)
    found = [m["payload"] for m in world.sims["cc-team"].messages("ReferralUpdate")
             if m["payload"]["referral_message_id"] == message["message_id"]]  # fmt: skip
    assert [(p["step"], p.get("waiting_because")) for p in found] == waiting
    queue = call(world, "nav", "GET", "/queue").json()["queue"]
    assert [(q["referral"], q["referrer"], q["reason"]) for q in queue] == [(record, "cc-team", "complex")]
    listed = world.cli("offers", "queue", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(json.loads(line)["referral"], json.loads(line)["reason"]) for line in listed.stdout.splitlines()] == [
        (record, "complex")
    ]
    assert all(world.sims[h].messages() == [] for h in HOSTELS)  # nobody was offered it
    assert call(world, "hostel-yes", "GET", "/queue").status_code == 403  # a provider is no navigator
    assert call(world, "hostel-yes", "POST", f"/queue/{record}/allocate",
                {"service_id": TAKER, "reason": "mine"}).status_code == 403  # fmt: skip
    assert call(world, "nav", "POST", f"/queue/{record}/allocate", {"service_id": TAKER}).status_code == 422

    # a navigator allocates it by hand with a reason: recorded, and the service is offered it
    allocated = call(world, "nav", "POST", f"/queue/{record}/allocate",
                     {"service_id": TAKER, "reason": "complex needs: the taker's specialist bed"})  # fmt: skip
    assert allocated.status_code == 200 and allocated.json()["offered"] == 1, allocated.text
    assert call(world, "nav", "GET", "/queue").json()["queue"] == []
    again = call(world, "nav", "POST", f"/queue/{record}/allocate", {"service_id": TAKER, "reason": "twice"})
    assert again.status_code == 422 and "not waiting" in again.text  # allocated once
    shown = json.loads(world.cli("offers", "show", record).stdout)
    assert [(a["service_id"], a["navigator"], a["reason"]) for a in shown["allocations"]] == [
        (TAKER, "nav", "complex needs: the taker's specialist bed")
    ]
    assert world.sims["hostel-yes"].wait_for(lambda s: s.messages("Referral"), timeout=30)
    offer = world.sims["hostel-yes"].messages("Referral")[0]
    assert offer["payload"]["service_id"] == "hostel-yes" and "complex" not in offer["payload"]
    assert world.sims["hostel-full"].messages() == [] and world.sims["hostel-no"].messages() == []

    # accepted, then the person arrives: the referrer is told each step, ending with placed
    (open_offer,) = offers_of(world, "hostel-yes")
    assert call(world, "hostel-yes", "POST", f"/offers/{open_offer['offer_id']}/answer",
                {"answer": "accept"}).status_code == 200  # fmt: skip
    assert call(world, "hostel-yes", "POST", f"/offers/{open_offer['offer_id']}/arrived").status_code == 200
    expected = [*waiting, ("offered", None), ("accepted", None), ("placed", None)]
    assert told(world, record) == expected
    assert wait_until(lambda: [(p["payload"]["step"], p["payload"].get("waiting_because"))
                               for p in world.sims["cc-team"].messages("ReferralUpdate")] == expected)  # fmt: skip
