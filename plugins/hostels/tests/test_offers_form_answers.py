"""A provider on the web-form channel answers offers in its form's answer: more information, decline, accept.

A real ``hub serve``; the decliner's service is linked to ``hostel-form``, whose referral form (a partner
simulator on loopback) takes the offer as an HTML form POST (``referral-form`` adapter, ``form-post`` transport)
and answers the POST form-encoded with its decision; its ``receive.reply`` table reads that answer. The hub
takes the decision in as the provider's Acknowledgement of the offer, and the chain answers it.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator

import pytest
from hostels_feed import FeedServer
from offers_world import call, make_world, offers_of, steps, three_service_feed, told, unmatched_referral, wait_until

from hub.testing.simulator import Received
from hub.testing.world import HubWorld, Partner

FORM = "application/x-www-form-urlencoded"
REPLY = {"reference": "/reference", "decision": "/decision", "accepted": ["accepted"], "rejected": ["declined"],
         "received": ["more_information"], "reason_code": "/reason_code"}  # fmt: skip


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    server = three_service_feed()
    yield server
    server.close()


def fields(received: Received) -> dict[str, str]:
    return {k: v[0] for k, v in urllib.parse.parse_qs(received.body.decode(), strict_parsing=True).items()}


def test_a_form_provider_asks_for_more_declines_and_accepts_in_its_form_answer(
    hub_world_factory: Callable[..., HubWorld], feed: FeedServer
) -> None:
    form = Partner("hostel-form", "hostel", adapter="referral-form", transport="form-post", reply=REPLY)
    world = make_world(hub_world_factory, feed, window="1h", decliner=form)
    crm = world.sims["hostel-form"]
    answers = iter([b"decision=more_information&reference=F-1",
                    b"decision=declined&reason_code=out_of_area&reference=F-2",
                    b"decision=accepted&reference=F-3"])  # fmt: skip
    crm.answer_with(lambda _received: next(answers), FORM)

    # 1. it asks for more: the offer stays open, the referrer is told, nothing moves on
    first = unmatched_referral(world)
    assert wait_until(lambda: told(world, first) == [("offered", None), ("info_requested", None)]), told(world, first)
    (posted,) = crm.received
    assert posted.content_type == FORM and fields(posted)["service_id"] == "hostel-form"
    offer_id = fields(posted)["offer_id"]
    assert [(o["offer_id"], o["state"]) for o in offers_of(world, "hostel-form")] == [(offer_id, "info_requested")]
    assert world.sims["hostel-yes"].messages() == []
    assert wait_until(lambda: steps(world, first) == [("offered", None), ("info_requested", None)])
    # it decides later through the API: a decline, and the next service is offered
    declined = call(world, "hostel-form", "POST", f"/offers/{offer_id}/answer",
                    {"answer": "decline", "reason_code": "no_capacity"})  # fmt: skip
    assert declined.status_code == 200, declined.text
    assert world.sims["hostel-yes"].wait_for(lambda s: len(s.messages("Referral")) == 1)

    # 2. it declines in its answer, with a reason code: the next service is offered at once
    second = unmatched_referral(world)
    assert world.sims["hostel-yes"].wait_for(lambda s: len(s.messages("Referral")) == 2, timeout=30)
    assert told(world, second) == [("offered", None), ("declined", "out_of_area"), ("offered", None)]
    sent = world.sims["hostel-yes"].messages("Referral")[1]
    assert "out_of_area" not in json.dumps(sent) and "hostel-form" not in json.dumps(sent)  # nothing of its decision

    # 3. it accepts in its answer: a place is reserved and the referrer told
    third = unmatched_referral(world)
    assert wait_until(lambda: told(world, third) == [("offered", None), ("accepted", None)]), told(world, third)
    assert wait_until(lambda: steps(world, third) == [("offered", None), ("accepted", None)]), steps(world, third)
    acks = [a for a in world.sims["cc-team"].messages("Acknowledgement") if a["sender"]["org_id"] == "hostel-form"]
    assert {a["payload"]["status"] for a in acks} >= {"received", "rejected", "accepted"}
    assert {a["payload"].get("receiver_ref") for a in acks} >= {"F-1", "F-2", "F-3"}
    # the form sees only its own offers: the taker's offers never reach it
    assert len(crm.received) == 3
