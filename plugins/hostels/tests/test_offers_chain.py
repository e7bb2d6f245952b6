"""The offer chain in a running hub over real HTTP: three hostels (one full, one declining, one accepting), the
time-out path, the navigators' queue, a place reserved and taken, and isolation between providers.

A real ``hub serve`` with push hostels (partner simulators on loopback), a real feed imported by the CLI, and
capacity recorded by the providers through the API; offer windows of one second.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hostels_feed import Feed, FeedServer, synthetic_service

from hub.testing.messages import example
from hub.testing.world import HubWorld, Partner, example_routes

FULL, DECLINER, TAKER = "svc-000000", "svc-000001", "svc-000002"


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    server = FeedServer(Feed(count=3, make=lambda i: synthetic_service(i)))
    yield server
    server.close()


def make_world(factory: Callable[..., HubWorld], feed: FeedServer, window: float) -> HubWorld:
    routes = example_routes()
    for route in routes:
        if route["name"] == "referral":
            route["to"] = {"kind": "referral-taker", "takers": ["dropin"]}
    partners = [Partner("cc-team", "referrer"), Partner("dropin", "charity"), Partner("nav", "navigator")]
    partners += [Partner(p, "hostel") for p in ("hostel-full", "hostel-no", "hostel-yes")]
    links = [{"id": sid, "partner": p, "unit": "bed", "needs": ["mental_health"]}
             for sid, p in ((FULL, "hostel-full"), (DECLINER, "hostel-no"), (TAKER, "hostel-yes"))]  # fmt: skip
    settings = {"plugins": {"hostels": {"service": links, "offers": {"window_seconds": window}}}}
    world = factory(partners, routes=routes, settings=settings)
    imported = world.cli("directory", "import", feed.url)
    assert imported.returncode == 0, imported.stderr
    # capacity from the providers; the most recent figure is offered first: the decliner, then the taker
    for who, sid, places in (("hostel-full", FULL, 0), ("hostel-yes", TAKER, 1), ("hostel-no", DECLINER, 3)):
        put = world.as_(who).put(f"{world.url}/plugins/hostels/services/{sid}/capacity", json={"available": places},
                                 timeout=10)  # fmt: skip
        assert put.status_code == 200, put.text
        time.sleep(0.05)
    return world


def unmatched_referral(world: HubWorld, sender: str = "cc-team", source: str = "professional") -> str:
    """Post a Referral that names no provider; return its record id."""
    message = example("referral", sender={"org_id": sender})
    message.pop("recipient", None)
    del message["payload"]["service_id"]
    message["payload"]["source"] = source
    message["payload"]["support_needs"] = ["mental health"]
    answer = world.send(sender, message)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def call(world: HubWorld, who: str, method: str, path: str, body: Any = None) -> Any:
    return world.as_(who).request(method, f"{world.url}/plugins/hostels{path}", json=body, timeout=15)


def offers_of(world: HubWorld, who: str) -> list[dict[str, Any]]:
    answer = call(world, who, "GET", "/offers")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["offers"])


def told(world: HubWorld, record: str, who: str = "cc-team") -> list[tuple[str, str | None]]:
    view = call(world, who, "GET", f"/referrals/{record}").json()
    return [(step["step"], step["detail"]) for step in view["told"]]


def test_full_declining_accepting_chain_with_reservation_navigator_and_isolation(
    hub_world_factory: Callable[..., HubWorld], feed: FeedServer
) -> None:
    world = make_world(hub_world_factory, feed, window=60)
    record = unmatched_referral(world)
    matched = call(world, "cc-team", "POST", f"/referrals/{record}/match")
    assert matched.status_code == 200, matched.text
    assert matched.json()["told"] == [{"step": "offered", "detail": None}]
    assert call(world, "hostel-no", "POST", f"/referrals/{record}/match").status_code == 404  # not its referral

    # the decliner receives the Referral by its own transport, naming it; nobody else receives anything yet
    assert world.sims["hostel-no"].wait_for(lambda s: s.messages("Referral"))
    first = world.sims["hostel-no"].messages("Referral")[0]
    assert first["payload"]["service_id"] == "hostel-no" and first["sender"]["org_id"] == "cc-team"
    assert world.sims["hostel-yes"].messages() == [] and world.sims["hostel-full"].messages() == []
    (offer,) = offers_of(world, "hostel-no")
    assert offer["message_id"] == first["message_id"]
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
    # the referrer receives each decision as the provider's Acknowledgement, a decline with its reason code only
    referrer = world.sims["cc-team"]
    assert referrer.wait_for(lambda s: len(s.messages("Acknowledgement")) == 2)
    acks = {a["sender"]["org_id"]: a for a in referrer.messages("Acknowledgement")}
    assert (
        acks["hostel-no"]["payload"]["status"] == "rejected" and acks["hostel-no"]["payload"]["reason_code"] == "risk"
    )
    assert acks["hostel-yes"]["payload"]["reason_code"] == "offer_accepted"  # starts assessment-after-acceptance
    assert acks["hostel-yes"]["in_reply_to"] == second["message_id"]
    assert world.sims["hostel-full"].messages() == []  # the full hostel is never offered

    # its one place is reserved: a second person, declined by the other, waits for a navigator
    again = unmatched_referral(world)
    call(world, "cc-team", "POST", f"/referrals/{again}/match")
    (offer2,) = [o for o in offers_of(world, "hostel-no") if o["referral"] == again]
    call(world, "hostel-no", "POST", f"/offers/{offer2['offer_id']}/answer",
         {"answer": "decline", "reason_code": "no_capacity"})  # fmt: skip
    assert told(world, again)[-1] == ("waiting_for_navigator", "all_declined")
    assert call(world, "cc-team", "GET", "/queue").status_code == 403
    queue = call(world, "nav", "GET", "/queue").json()["queue"]
    assert [q["referral"] for q in queue] == [again] and queue[0]["reason"] == "all_declined"

    # the first person arrives: the reservation becomes a place taken (the figure goes to 0)
    assert call(world, "hostel-yes", "POST", f"/offers/{taken['offer_id']}/arrived").status_code == 200
    assert told(world, record)[-1] == ("placed", None)
    shown = call(world, "hostel-yes", "GET", f"/services/{TAKER}").json()
    assert shown["capacities"][0]["available"] == 0

    # a navigator allocates the second by hand with a reason; the provider receives it
    refused = call(world, "nav", "POST", f"/queue/{again}/allocate", {"service_id": TAKER, "reason": ""})
    assert refused.status_code == 422
    allocated = call(world, "nav", "POST", f"/queue/{again}/allocate",
                     {"service_id": TAKER, "reason": "a room frees on Monday, agreed by phone"})  # fmt: skip
    assert allocated.status_code == 200, allocated.text
    assert world.sims["hostel-yes"].wait_for(lambda s: len(s.messages("Referral")) == 2)


def test_no_answer_in_the_window_moves_the_offer_on_and_a_self_referral_waits_for_a_navigator(
    hub_world_factory: Callable[..., HubWorld], feed: FeedServer
) -> None:
    world = make_world(hub_world_factory, feed, window=1)
    record = unmatched_referral(world)
    assert call(world, "cc-team", "POST", f"/referrals/{record}/match").status_code == 200
    assert world.sims["hostel-no"].wait_for(lambda s: s.messages("Referral"))
    # nobody answers: after the window the sweep moves it on, then to the navigators' queue
    assert world.sims["hostel-yes"].wait_for(lambda s: s.messages("Referral"), timeout=15)
    deadline = time.monotonic() + 15
    while told(world, record)[-1][0] != "waiting_for_navigator":
        assert time.monotonic() < deadline, told(world, record)
        time.sleep(0.2)
    assert [step for step, _ in told(world, record)] == ["offered", "expired", "offered", "expired",
                                                         "waiting_for_navigator"]  # fmt: skip
    assert len(world.sims["hostel-no"].messages("Referral")) == 1  # each offered once, each window fired once

    own = unmatched_referral(world, sender="dropin", source="self")
    assert call(world, "dropin", "POST", f"/referrals/{own}/match").json()["state"] == "waiting_for_navigator"
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
