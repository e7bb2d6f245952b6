"""A trust that refers someone is told each step of the allocation chain in its own format: FHIR R4, HL7 v2.

A real ``hub serve`` with three hostels (one full, one declining, one accepting; ``offers_world``); the trust is
a FHIR partner (``fhir-r4`` adapter) or an HL7 v2 one (``hl7v2``), pushed over HTTP to its simulator. It refers a
person naming no provider; each step reaches it as a FHIR message Bundle with a Task (event ``referral-update``),
checked by an independent FHIR library (fhir.resources, R4B models), or as an HL7 v2.4 ORM^O01 status change
checked by hl7apy in strict mode, naming the referral and no service or provider.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from hl7apy import parser as hl7apy_parser
from hl7apy.consts import VALIDATION_LEVEL
from hostels_feed import FeedServer
from offers_world import SENT, call, make_world, offers_of, three_service_feed, told, unmatched_referral, wait_until

from hub.testing.world import HubWorld, Partner

STEP_SYSTEM = "https://hub.invalid/fhir/CodeSystem/hub-referral-step"


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    server = three_service_feed()
    yield server
    server.close()


def tasks(world: HubWorld, who: str) -> list[dict[str, Any]]:
    """The Task of every referral step the partner received, in order; every Bundle it received (the providers'
    Acknowledgements reach it too) is checked by fhir.resources first."""
    found = []
    for received in world.sims[who].received:
        assert received.content_type.startswith("application/fhir+json"), received.content_type
        bundle = Bundle.model_validate_json(received.body).model_dump(mode="json")
        header = bundle["entry"][0]["resource"]
        if header["eventCoding"]["code"] != "referral-update":
            continue
        ((task,),) = [[entry["resource"] for entry in bundle["entry"][1:]]]
        assert header["focus"][0]["reference"] == f"urn:uuid:{task['id']}"
        found.append(task)
    return found


CHAIN = [("offered", None), ("declined", "risk"), ("offered", None), ("accepted", None)]


def run_chain(factory: Callable[..., HubWorld], feed: FeedServer, trust: Partner) -> tuple[HubWorld, str]:
    """The trust refers a person naming no provider: the full hostel is passed over, the next declines (risk),
    the last accepts; return the world and the referral's record id once every step is recorded."""
    world = make_world(factory, feed, window="1h", referrers=(trust,))
    record = unmatched_referral(world, sender=trust.id)
    assert world.sims["hostel-no"].wait_for(lambda s: s.messages("Referral"), timeout=30)
    (offer,) = offers_of(world, "hostel-no")
    declined = call(world, "hostel-no", "POST", f"/offers/{offer['offer_id']}/answer",
                    {"answer": "decline", "reason_code": "risk"})  # fmt: skip
    assert declined.status_code == 200, declined.text
    assert world.sims["hostel-yes"].wait_for(lambda s: s.messages("Referral"), timeout=30)
    (taken,) = offers_of(world, "hostel-yes")
    accepted = call(world, "hostel-yes", "POST", f"/offers/{taken['offer_id']}/answer", {"answer": "accept"})
    assert accepted.status_code == 200, accepted.text
    assert told(world, record, trust.id) == CHAIN
    return world, record


def test_a_fhir_trust_referrer_gets_every_step_as_a_task(
    hub_world_factory: Callable[..., HubWorld], feed: FeedServer
) -> None:
    trust = Partner("trust-a", "nhs_trust", {"ods_code": "RWK"}, adapter="fhir-r4")
    world, record = run_chain(hub_world_factory, feed, trust)
    assert wait_until(lambda: len(tasks(world, "trust-a")) >= 4), world.sims["trust-a"].received
    found = tasks(world, "trust-a")
    reasons = [(t.get("statusReason") or {}).get("coding", [{}])[0].get("code") for t in found]
    steps = [(t["businessStatus"]["coding"][0]["code"], reason) for t, reason in zip(found, reasons, strict=True)]
    assert steps == CHAIN
    assert all(t["businessStatus"]["coding"][0]["system"] == STEP_SYSTEM for t in found)
    assert [t["status"] for t in found] == ["in-progress", "in-progress", "in-progress", "accepted"]
    assert {t["basedOn"][0]["identifier"]["value"] for t in found} == {f"urn:uuid:{SENT[record]}"}
    assert all(t["requester"]["identifier"]["value"] == "RWK" for t in found)
    text = str(found)
    assert "hostel-no" not in text and "hostel-yes" not in text and "svc-" not in text  # no service or provider


def orders(world: HubWorld, who: str) -> list[list[str]]:
    """The ORC fields of every ORM^O01 the partner received, in order, each checked by hl7apy strictly first."""
    found = []
    for received in world.sims[who].received:
        if not received.content_type.startswith("application/hl7-v2"):
            continue  # the providers' Acknowledgements: HL7 v2 has no form the hub writes for them
        text = received.body.decode()
        message = hl7apy_parser.parse_message(text, validation_level=VALIDATION_LEVEL.STRICT)
        message.validate()
        assert message.name == "ORM_O01"
        found += [s.split("|") for s in text.split("\r") if s.startswith("ORC|")]
    return found


def test_an_hl7v2_trust_referrer_gets_every_step_as_an_order_status_change(
    hub_world_factory: Callable[..., HubWorld], feed: FeedServer
) -> None:
    trust = Partner("trust-h", "nhs_trust", {"ods_code": "RXY"}, adapter="hl7v2")
    world, record = run_chain(hub_world_factory, feed, trust)
    assert wait_until(lambda: len(orders(world, "trust-h")) >= 4), world.sims["trust-h"].received
    found = orders(world, "trust-h")
    steps = [(orc[25].split("^")[0], orc[16].split("^")[0] if orc[16] else None) for orc in found]
    assert steps == CHAIN
    assert [orc[1] for orc in found] == ["SC"] * 4 and [orc[5] for orc in found] == ["IP", "IP", "IP", "SC"]
    assert {orc[2] for orc in found} == {f"{SENT[record]}^PARTNER-HUB"}
    text = str(found)
    assert "hostel-no" not in text and "hostel-yes" not in text and "svc-" not in text  # no service or provider
