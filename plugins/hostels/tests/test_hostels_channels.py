"""The channels small charities have, against real loopback servers: an HTML form POST and secure e-mail.

A real hub; trust-a discharges a person with support from

- ``charity-crm``: a charity CRM's web form (a real HTTP server here) that takes ``application/x-www-form-urlencoded``
  fields and answers the POST with its decision and case reference, form-encoded or in JSON;
- ``hostel-mail``: a hostel that takes referrals by e-mail (a real aiosmtpd server requiring STARTTLS), sealed
  to its own key.
"""

from __future__ import annotations

import email
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from hub.testing.messages import discharge_notice
from hub.testing.smtp_server import SmtpServer, smtp_server
from hub.testing.world import HubWorld, Partner, example_routes


@dataclass
class Crm:
    """A charity CRM's referral form: what it was posted, and what it answers."""

    url: str = ""
    posts: list[dict[str, list[str]]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    answer: bytes = b"status=accepted&reference=CRM-17"
    answer_type: str = "application/x-www-form-urlencoded"
    status: int = 200
    received: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def crm() -> Iterator[Crm]:
    state = Crm()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            state.content_types.append(self.headers.get("Content-Type", ""))
            state.posts.append(urllib.parse.parse_qs(body.decode(), strict_parsing=True))
            self.send_response(state.status)
            self.send_header("Content-Type", state.answer_type)
            self.send_header("Content-Length", str(len(state.answer)))
            self.end_headers()
            self.wfile.write(state.answer)
            state.received.set()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/referrals/external"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) requiring STARTTLS, its certificate made by the test's own CA."""
    with smtp_server(tmp_path) as server:
        yield server


REPLY = {"reference": "/reference", "decision": "/status", "accepted": ["accepted"], "rejected": ["declined"],
         "reason_code": "/reason_code", "reason": "/note"}  # fmt: skip


@pytest.fixture
def world(crm: Crm, mailbox: SmtpServer, hub_world_factory: Callable[..., HubWorld]) -> HubWorld:
    smtp = {"mode": "push", "transport": "smtp", "options": {
        "host": "127.0.0.1", "port": mailbox.port, "from": "hub@trust.example", "to": "referrals@hostel.example",
        "starttls": True, "ca_file": str(mailbox.ca_file)}}  # fmt: skip
    form = {"mode": "push", "transport": "form-post", "url": crm.url, "reply": REPLY}
    partners = [
        Partner("trust-a", "nhs_trust", {"ods_code": "RWK"}),
        Partner("charity-crm", "charity", adapter="referral-form", receive=form),
        Partner("hostel-mail", "hostel", sealed=True, receive=smtp),
    ]
    return hub_world_factory(partners, routes=example_routes())


def _discharge_to(provider: str) -> dict[str, Any]:
    message = discharge_notice()
    message["payload"]["support"]["provider_id"] = provider
    message["payload"].pop("employment", None)
    message["payload"].pop("housing", None)
    return message


def _acknowledgements(world: HubWorld) -> list[dict[str, Any]]:
    return world.sims["trust-a"].messages("Acknowledgement")


def _business_ack(world: HubWorld) -> dict[str, Any]:
    assert world.sims["trust-a"].wait_for(
        lambda sim: [m for m in sim.messages("Acknowledgement") if m["payload"].get("level") == "business"], 20
    ), "no business acknowledgement reached trust-a"
    return next(m for m in _acknowledgements(world) if m["payload"].get("level") == "business")


def test_form_post_referral_and_a_form_encoded_decision(world: HubWorld, crm: Crm) -> None:
    sent = world.send("trust-a", _discharge_to("charity-crm"))
    assert sent.status_code == 202, sent.text
    assert crm.received.wait(20), "the charity's form was never posted"
    [posted] = crm.posts
    assert crm.content_types == ["application/x-www-form-urlencoded"]
    referral_person = discharge_notice()["payload"]["person"]
    assert posted["first_name"] == [referral_person["given_name"]]
    assert posted["surname"] == [referral_person["family_name"]]
    assert posted["organisation_type"] == ["Professional"]
    assert posted["service_id"] == ["charity-crm"] and posted["referral_id"][0]
    ack = _business_ack(world)
    assert ack["payload"]["status"] == "accepted" and ack["payload"]["receiver_ref"] == "CRM-17"
    assert ack["sender"]["org_id"] == "charity-crm"


def test_form_post_decline_in_json_with_a_reason_code(world: HubWorld, crm: Crm) -> None:
    crm.answer = json.dumps({"status": "declined", "reference": "CRM-18", "reason_code": "no_capacity"}).encode()
    crm.answer_type = "application/json"
    assert world.send("trust-a", _discharge_to("charity-crm")).status_code == 202
    ack = _business_ack(world)
    assert ack["payload"]["status"] == "rejected" and ack["payload"]["receiver_ref"] == "CRM-18"
    assert ack["payload"].get("reason_code") == "no_capacity"


def test_a_form_answer_without_a_usable_decision_is_delivered_with_a_warning(world: HubWorld, crm: Crm) -> None:
    crm.answer = b"status=maybe&reference=CRM-19"
    sent = world.send("trust-a", _discharge_to("charity-crm"))
    assert crm.received.wait(20)
    record_id = sent.json()["id"]
    warnings: list[str] = []
    delivered = False
    deadline = time.monotonic() + 20
    # the view reads the deliveries, then the timeline: the outcome's commit may fall between the two reads
    while not (warnings and delivered):
        assert time.monotonic() < deadline, f"no warning on the timeline, or not delivered: {warnings}"
        view = world.view(record_id)
        warnings = [e["detail"]["warning"] for e in view["timeline"] if e["event"] == "warning"]
        delivered = view["deliveries"][0]["state"] == "delivered"
        time.sleep(0.1)
    assert "the decision at /status is none of the configured" in warnings[0]
    assert view["deliveries"][0]["receipt"] == "CRM-19"
    assert "maybe" not in json.dumps(view)  # the answer's content is never shown
    assert not [m for m in _acknowledgements(world) if m["payload"].get("level") == "business"]


def test_a_form_refused_with_400_is_not_retried(world: HubWorld, crm: Crm) -> None:
    crm.status = 400
    assert world.send("trust-a", _discharge_to("charity-crm")).status_code == 202
    assert crm.received.wait(20)
    time.sleep(1.5)  # the test hub retries in fractions of a second: a retry would have come by now
    assert len(crm.posts) == 1


def test_secure_email_to_a_hostel_sealed_to_its_key(world: HubWorld, mailbox: SmtpServer) -> None:
    assert world.send("trust-a", _discharge_to("hostel-mail")).status_code == 202
    deadline = time.monotonic() + 20
    while not mailbox.mails:
        assert time.monotonic() < deadline, "no e-mail reached the hostel"
        time.sleep(0.1)
    assert [m.tls for m in mailbox.mails] == [True]
    mail = email.message_from_bytes(mailbox.mails[0].content)
    person = discharge_notice()["payload"]["person"]
    assert person["family_name"].encode() not in mailbox.mails[0].content  # nothing readable outside the envelope
    [attachment] = [part for part in mail.walk() if part.get_content_type().startswith("application/jose")]
    sealed = attachment.get_payload(decode=True)
    assert isinstance(sealed, bytes)
    referral = json.loads(world.open_sealed("hostel-mail", sealed))
    assert referral["type"] == "Referral" and referral["payload"]["person"]["family_name"] == person["family_name"]


def test_form_answers_are_read_as_json_members_and_a_repeated_field_is_refused() -> None:
    from hub_hostels.channels.form_post import FORM, answer_document

    assert json.loads(answer_document(b"status=accepted&reference=CRM-1", FORM)) == {
        "status": "accepted",
        "reference": "CRM-1",
    }
    assert answer_document(b'{"status": "declined"}', "application/json") == b'{"status": "declined"}'
    assert answer_document(b"status=a&status=b", FORM) != b'{"status": "b"}'  # never silently the last one
    assert answer_document(b"\xff\xfe", FORM) == b""


def test_the_form_adapter_renders_referrals_only() -> None:
    from hub_hostels.channels.form_post import ReferralFormAdapter

    from hub import RenderError
    from hub.testing.messages import example

    with pytest.raises(RenderError, match="Referrals only"):
        ReferralFormAdapter().render(discharge_notice(), partner=None)  # type: ignore[arg-type]
    rendered = ReferralFormAdapter().render(example("referral"), partner=None)  # type: ignore[arg-type]
    fields = urllib.parse.parse_qs(rendered.body.decode())
    assert rendered.content_type == "application/x-www-form-urlencoded"
    assert fields["surname"] == [example("referral")["payload"]["person"]["family_name"]]
