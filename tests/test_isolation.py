"""A partner reads only what it sent or what is addressed to it; pull partners collect from their inbox."""

from __future__ import annotations

import uuid

from messages import housing_request


def test_sender_recipient_and_operator_can_read_a_message_but_another_partner_cannot(world) -> None:
    record = world.send("trust-a", housing_request()).json()["id"]
    url = f"{world.url}/v1/messages/{record}"
    assert world.as_("trust-a").get(url).status_code == 200
    assert world.as_("council-luton").get(url).status_code == 200
    assert world.as_("ops").get(url).status_code == 200
    for outsider in ("trust-b", "council-beds", "steps-luton"):
        response = world.as_(outsider).get(url)
        assert response.status_code == 404, outsider
        assert response.headers["content-type"] == "application/problem+json"


def test_an_unknown_id_and_a_forbidden_id_look_the_same(world) -> None:
    record = world.send("trust-a", housing_request()).json()["id"]
    hidden = world.as_("trust-b").get(f"{world.url}/v1/messages/{record}")
    missing = world.as_("trust-b").get(f"{world.url}/v1/messages/{uuid.uuid4()}")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["title"] == missing.json()["title"]


def test_a_pull_partner_collects_from_its_inbox_and_acknowledges(world) -> None:
    record = world.send("trust-a", housing_request(target="E06000056")).json()["id"]
    inbox = world.as_("council-beds").get(f"{world.url}/v1/inbox").json()["items"]
    assert len(inbox) == 1 and inbox[0]["type"] == "HousingRequest"
    assert inbox[0]["body"]["payload"]["target_authority_gss"] == "E06000056"
    assert world.as_("council-luton").get(f"{world.url}/v1/inbox").json()["items"] == []

    delivery = inbox[0]["id"]
    stolen = world.as_("council-luton").post(f"{world.url}/v1/inbox/{delivery}/ack")
    assert stolen.status_code == 404
    taken = world.as_("council-beds").post(f"{world.url}/v1/inbox/{delivery}/ack")
    assert taken.status_code == 200 and taken.json()["status"] == "delivered"
    assert world.as_("council-beds").get(f"{world.url}/v1/inbox").json()["items"] == []
    assert world.view(record)["deliveries"][0]["state"] == "delivered"
    again = world.as_("council-beds").post(f"{world.url}/v1/inbox/{delivery}/ack")
    assert again.status_code == 404


def test_operators_may_read_but_not_send(world) -> None:
    response = world.send("ops", housing_request())
    assert response.status_code == 403
    assert world.db_count("messages") == 0


def test_a_recipient_sees_only_its_own_delivery_and_events(world) -> None:
    from messages import discharge_notice

    record = world.send("trust-a", discharge_notice()).json()["id"]
    assert world.sims["council-luton"].wait_for(lambda s: s.messages("HousingRequest"))
    derived = next(d["id"] for d in world.view(record)["derived"] if d["type"] == "HousingRequest")
    seen = world.as_("council-luton").get(f"{world.url}/v1/messages/{derived}").json()
    assert {d["partner"] for d in seen["deliveries"]} == {"council-luton"}
    assert all(e["partner"] == "council-luton" for e in seen["timeline"])
    assert world.as_("council-luton").get(f"{world.url}/v1/messages/{record}").status_code == 404
    full = world.view(record)
    assert {d["partner"] for d in full["deliveries"]} == {"council-luton", "steps-luton", "ips-luton"}
