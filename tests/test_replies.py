"""Partners' receipts and synchronous replies: stored, shown, and a decision in the answer is an Acknowledgement.

A real hub process and real HTTP partner simulators on loopback. steps-luton
(a hostel) answers each push with a JSON body configured in its
``receive.reply``; hostel-b gives only the ``X-Receipt-Id`` header; trust-a
sends the Referrals and receives the Acknowledgements.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.auth import generate_token, hash_token
from hub.config import load_settings
from hub.plugin_api.problems import ConfigError
from hub.store import open_store
from hub.testing import PartnerSimulator, RunningHub, free_port, run_hub_cli, wait_until, write_config
from hub.testing.messages import example

REPLY = {
    "reference": "/case/reference",
    "decision": "/case/outcome",
    "accepted": ["ACCEPTED", "taken"],
    "rejected": ["declined"],
    "reason": "/case/note",
}
FAST = {
    "delivery": {"lease_seconds": 5.0, "poll_interval_seconds": 0.05, "timeout_seconds": 2.0},
    "retry": {"initial_seconds": 0.1, "max_delay_seconds": 0.5, "max_attempts": 3},
}


@dataclass
class World:
    hub: RunningHub
    config_dir: Path
    tokens: dict[str, str]
    sims: dict[str, PartnerSimulator] = field(default_factory=dict)

    def send(self, who: str, message: dict[str, Any]) -> requests.Response:
        return requests.post(f"{self.hub.url}/v1/messages", json=message, timeout=10,
                             headers={"Authorization": f"Bearer {self.tokens[who]}"})  # fmt: skip

    def view(self, record_id: str, who: str = "ops") -> dict[str, Any]:
        response = requests.get(f"{self.hub.url}/v1/messages/{record_id}", timeout=10,
                                headers={"Authorization": f"Bearer {self.tokens[who]}"})  # fmt: skip
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def acknowledgements(self, message_id: str) -> int:
        """Acknowledgements stored in reply to ``message_id``, as the hub's store shows them."""
        store = open_store(load_settings(self.config_dir).store_url)
        try:
            acks = store.list_messages(limit=1_000_000, message_type="Acknowledgement")
            return sum(1 for a in acks if (store.message_view(a["id"]) or {}).get("in_reply_to") == message_id)
        finally:
            store.close()

    def settled(self, record_id: str, partner: str, states: tuple[str, ...]) -> dict[str, Any]:
        """The view once the delivery to ``partner`` is in one of ``states`` and its outcome is recorded."""

        def done() -> bool:
            view = self.view(record_id)
            delivery = next(d for d in view["deliveries"] if d["partner"] == partner)
            return delivery["state"] in states and delivery["delivered_at"] is not None

        assert wait_until(done, timeout=20), self.view(record_id)
        return self.view(record_id)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("replies")
    port = free_port()
    ids = ("trust-a", "steps-luton", "hostel-b", "ops")
    tokens = {pid: generate_token() for pid in ids}
    sims = {pid: PartnerSimulator(pid, hub_url=f"http://127.0.0.1:{port}", token=tokens[pid]).start()
            for pid in ids[:3]}  # fmt: skip
    partners = [
        {"id": "trust-a", "kind": "nhs_trust", "ods_code": "RWK", "token_sha256": hash_token(tokens["trust-a"]),
         "receive": {"mode": "push", "url": f"{sims['trust-a'].url}/inbound"}},
        {"id": "steps-luton", "kind": "hostel", "token_sha256": hash_token(tokens["steps-luton"]),
         "receive": {"mode": "push", "url": f"{sims['steps-luton'].url}/inbound", "reply": REPLY}},
        {"id": "hostel-b", "kind": "hostel", "token_sha256": hash_token(tokens["hostel-b"]),
         "receive": {"mode": "push", "url": f"{sims['hostel-b'].url}/inbound"}},
    ]  # fmt: skip
    config_dir = write_config(tmp / "config", partners=partners, settings=FAST,
                              operators=[{"id": "ops", "token_sha256": hash_token(tokens["ops"])}])  # fmt: skip
    hub = RunningHub(config_dir, port=port)
    try:
        hub.start()
        yield World(hub, config_dir, tokens, sims)
    finally:
        hub.stop()
        for sim in sims.values():
            sim.stop()


def referral(to: str) -> dict[str, Any]:
    message = example("referral", sender={"org_id": "trust-a", "ods_code": "RWK"}, recipient={"org_id": to})
    message["payload"]["service_id"] = to
    return message


def send_referral(world: World, to: str) -> tuple[dict[str, Any], str]:
    message = referral(to)
    response = world.send("trust-a", message)
    assert response.status_code == 202, response.text
    return message, response.json()["id"]


def acks_for(sim: PartnerSimulator, message_id: str) -> list[dict[str, Any]]:
    return [m for m in sim.messages("Acknowledgement") if m["in_reply_to"] == message_id]


def test_the_partners_receipt_is_stored_and_shown_to_the_sender_the_recipient_and_operators(world: World) -> None:
    message, record = send_referral(world, "hostel-b")  # answers with X-Receipt-Id only (the message id)
    view = world.settled(record, "hostel-b", ("delivered",))
    delivery = view["deliveries"][0]
    assert delivery["receipt"] == message["message_id"]
    delivered = [e for e in view["timeline"] if e["event"] == "delivered"]
    assert delivered[0]["detail"]["receipt"] == message["message_id"]

    for who in ("trust-a", "hostel-b"):
        seen = world.view(record, who)
        assert [d["receipt"] for d in seen["deliveries"]] == [message["message_id"]]
    shown = run_hub_cli(world.config_dir, "messages", "show", record)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["deliveries"][0]["receipt"] == message["message_id"]


def test_a_rejection_in_the_answer_becomes_the_partners_acknowledgement_routed_to_the_sender(world: World) -> None:
    steps, trust = world.sims["steps-luton"], world.sims["trust-a"]
    steps.answer_with({"case": {"reference": "SL-0042", "outcome": "declined", "note": "No bed until March"}})
    message, record = send_referral(world, "steps-luton")

    assert trust.wait_for(lambda s: acks_for(s, message["message_id"]), timeout=20)
    ack = acks_for(trust, message["message_id"])[0]
    assert ack["sender"]["org_id"] == "steps-luton"
    assert ack["recipient"]["org_id"] == "trust-a"
    assert ack["correlation_id"] == message["correlation_id"]
    assert ack["payload"]["level"] == "business"
    assert ack["payload"]["status"] == "rejected"
    assert ack["payload"]["receiver_ref"] == "SL-0042"
    assert ack["payload"]["reason"] == "No bed until March"

    view = world.settled(record, "steps-luton", ("rejected",))
    delivery = view["deliveries"][0]
    assert (delivery["state"], delivery["receipt"]) == ("rejected", "SL-0042")
    kinds = [e["event"] for e in view["timeline"] if e.get("partner") == "steps-luton"]
    assert kinds.index("delivered") < kinds.index("rejected")
    assert "warning" not in kinds
    assert world.view(record, "trust-a")["deliveries"][0]["receipt"] == "SL-0042"


def test_an_acceptance_in_the_answer_marks_the_delivery_acknowledged(world: World) -> None:
    steps, trust = world.sims["steps-luton"], world.sims["trust-a"]
    steps.answer_with(lambda item: {"case": {"reference": 7781, "outcome": " Taken "}})
    message, record = send_referral(world, "steps-luton")
    view = world.settled(record, "steps-luton", ("acknowledged",))
    assert view["deliveries"][0]["receipt"] == "7781"
    assert trust.wait_for(lambda s: acks_for(s, message["message_id"]), timeout=20)
    ack = acks_for(trust, message["message_id"])[0]
    assert (ack["payload"]["status"], ack["payload"]["receiver_ref"]) == ("accepted", "7781")


@pytest.mark.parametrize(
    ("answer", "warning"),
    [
        (b"<html>Thanks Alex Example, 9434765919</html>", "is not JSON"),
        (b'{"case": {"outcome": "declined", "outcome": "taken"}}', "is not JSON"),
        ({"case": {"reference": "SL-1", "outcome": "maybe Alex Example"}}, "none of the configured"),
        ({"case": {"reference": ["Alex Example"], "outcome": "taken"}}, "not a usable reference"),
        ({"unexpected": True}, "no reference at /case/reference"),
    ],
)
def test_an_unusable_answer_leaves_the_delivery_delivered_with_a_warning_and_never_the_answer(
    world: World, answer: Any, warning: str
) -> None:
    world.sims["steps-luton"].answer_with(answer)
    message, record = send_referral(world, "steps-luton")
    view = world.settled(record, "steps-luton", ("delivered", "acknowledged"))
    delivery = view["deliveries"][0]
    warnings = [e["detail"]["warning"] for e in view["timeline"] if e["event"] == "warning"]
    assert warnings and any(warning in w for w in warnings), warnings
    text = json.dumps(view)
    assert "Alex" not in text and "9434765919" not in text and "maybe" not in text
    if answer == {"case": {"reference": ["Alex Example"], "outcome": "taken"}}:
        # the decision is still usable without the reference; the header's receipt stands in for it
        assert delivery["state"] == "acknowledged"
        assert delivery["receipt"] == message["message_id"]
        return
    assert delivery["state"] == "delivered"
    assert delivery["receipt"] in (message["message_id"], "SL-1")  # the header's, or the body's when readable
    assert world.acknowledgements(message["message_id"]) == 0  # a decision is committed before the outcome


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ({"reference": "case.reference"}, "partner[0].receive.reply.reference: must be a JSON Pointer"),
        ({"decision": "/outcome"}, "partner[0].receive.reply.accepted: required with decision"),
        ({"accepted": ["ok"], "reference": "/r"}, "partner[0].receive.reply.accepted: needs 'decision'"),
        ({}, "partner[0].receive.reply.reference: required"),
        ({"decision": "/d", "accepted": ["OK"], "rejected": ["ok"]}, "reply.rejected: 'ok' is also listed"),
        ({"decision": "/d", "rejected": ["no"], "received": [" NO "]}, "reply.received: ' NO ' is also listed"),
        ({"received": ["more"], "reference": "/r"}, "partner[0].receive.reply.received: needs 'decision'"),
        ({"decision": "/d", "accepted": [{"a": 1}]}, "reply.accepted: each value must be a string"),
        ({"reference": "/r", "colour": "/c"}, "partner[0].receive.reply.colour: unknown setting"),
    ],
)
def test_a_bad_reply_mapping_is_refused_at_start_up_naming_the_key(tmp_path: Path, reply, message) -> None:
    from hub.config import load_config

    partner = {"id": "steps-luton", "kind": "hostel", "receive": {"mode": "push", "url": "http://x", "reply": reply}}
    write_config(tmp_path, partners=[partner])
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert message in str(caught.value)


@pytest.mark.parametrize("as_dict", [False, True])
def test_a_third_party_transport_can_return_a_receipt_and_a_decision(tmp_path: Path, as_dict: bool) -> None:
    from hub import DeliveryOutcome, PartnerReply, hookimpl
    from hub.testing.messages import housing_request

    decision = {"status": "rejected", "reference": "DESK-9", "reason": "out of area"}
    reply: Any = decision if as_dict else PartnerReply(**decision)
    from hub.config import load_config
    from hub.plugins import load_plugins
    from hub.runtime import build_hub

    class Counter:
        name = "counter"

        async def start(self, *, timeout_seconds: float, max_connections: int) -> None:
            pass

        async def close(self) -> None:
            pass

        async def deliver(self, rendered, *, partner, message_id, delivery_id):
            return DeliveryOutcome(True, receipt="DESK-9", reply=reply)

    class Plugin:
        @hookimpl
        def hub_register_transports(self, register):
            register(Counter())

    config_dir = write_config(tmp_path / "config", partners=[
        {"id": "trust-a", "kind": "nhs_trust", "ods_code": "RWK", "receive": {"mode": "pull"}},
        {"id": "council-luton", "kind": "council", "gss_code": "E06000032",
         "receive": {"mode": "push", "transport": "counter"}},
    ], settings=FAST)  # fmt: skip
    hub = build_hub(load_config(config_dir), plugins=load_plugins(env={}, extra_plugins=[Plugin()]))
    try:
        record = hub.intake.submit_now(housing_request(), sender_id="trust-a").id

        async def deliver_until_rejected() -> None:
            stop = asyncio.Event()
            worker = hub.make_worker()
            task = asyncio.create_task(worker.run(stop))
            for _ in range(400):
                view = hub.store.message_view(record)
                if view and view["deliveries"][0]["state"] == "rejected" and view["deliveries"][0]["delivered_at"]:
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await task

        asyncio.run(deliver_until_rejected())
        view = hub.store.message_view(record)
        assert view is not None
        assert (view["deliveries"][0]["state"], view["deliveries"][0]["receipt"]) == ("rejected", "DESK-9")
        inbox = hub.store.inbox("trust-a", 10)
        assert [job.type for job in inbox] == ["Acknowledgement"]
        ack = json.loads(inbox[0].body)
        assert (ack["sender"]["org_id"], ack["payload"]["status"], ack["payload"]["reason"]) == (
            "council-luton", "rejected", "out of area")  # fmt: skip
    finally:
        hub.close()


def test_a_reason_with_characters_no_message_may_hold_keeps_the_decision() -> None:
    """A non-character in the partner's reason is cleaned, so its Acknowledgement passes intake: the decision stands."""
    from hub.canonical import _NOT_TEXT
    from hub.replies import JsonPointer, ReplyMapping

    mapping = ReplyMapping(decision=JsonPointer.parse("/outcome"), accepted=("yes",), rejected=("no",),
                           reason=JsonPointer.parse("/why"))  # fmt: skip
    reading = mapping.read('{"outcome": "no", "why": "full\ufffe until\uffff March\u0085"}'.encode())
    assert reading.reply is not None and reading.reply.status == "rejected"
    assert reading.reply.reason is not None and not _NOT_TEXT.search(reading.reply.reason)
    assert reading.warnings == []


def test_a_received_value_is_a_decision_not_yet_made() -> None:
    """``received`` values give an Acknowledgement with status received (taken, asks for more or decides later)."""
    from hub.plugin_api.partner import Partner
    from hub.replies import JsonPointer, ReplyMapping, acknowledgement_for

    mapping = ReplyMapping(decision=JsonPointer.parse("/decision"), accepted=("accepted",),
                           received=("more_information",))  # fmt: skip
    reading = mapping.read(b'{"decision": " More_Information "}')
    assert reading.reply is not None and reading.reply.status == "received" and reading.warnings == []
    partner = Partner("steps-luton", "STEPS Luton", "hostel")
    delivered = {"message_id": "m-1", "sender": {"org_id": "trust-a"}, "correlation_id": "c-1"}
    ack = acknowledgement_for(delivered, partner, reading.reply)
    assert ack["payload"]["status"] == "received" and ack["in_reply_to"] == "m-1"
    unknown = mapping.read(b'{"decision": "maybe"}')
    assert unknown.reply is None and "accepted, rejected or received" in unknown.warnings[0]
