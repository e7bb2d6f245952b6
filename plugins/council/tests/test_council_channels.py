"""Each way to reach a council, end to end over loopback: JSON API push, XML push, sealed e-mail, pull."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace

import requests
from council_helpers import NS, notice_by_postcode, notice_for
from lxml import etree

from hub.testing import wait_until
from hub.testing.messages import discharge_notice
from hub.testing.world import STANDARD_PARTNERS

wait = wait_until


def test_json_api_push_tls_only(council_world) -> None:
    response = council_world.post("trust-a", notice_for("E06000032"))
    assert response.status_code == 202, response.text
    council = council_world.sims["council-luton"]
    assert council.wait_for(lambda s: s.messages("HousingRequest"))
    [received] = [r for r in council.received if not r.duplicate]
    assert received.content_type == "application/json" and not received.sealed
    assert council.messages("HousingRequest")[0]["payload"]["target_authority_gss"] == "E06000032"


def test_json_api_push_sealed(hub_world_factory) -> None:
    world = hub_world_factory([replace(p, sealed=p.id == "council-luton") for p in STANDARD_PARTNERS])
    assert world.send("trust-a", discharge_notice()).status_code == 202
    council = world.sims["council-luton"]
    assert council.wait_for(lambda s: s.messages("HousingRequest"))
    received = next(r for r in council.received if not r.duplicate)
    assert received.sealed, "a council with envelope keys receives a sealed envelope"
    assert council.messages("HousingRequest")[0]["consent"]["share_contact"] is True


def test_xml_push_delivers_a_valid_duty_to_refer_document(council_world) -> None:
    response = council_world.post("trust-a", notice_for("E06000023"))
    assert response.status_code == 202, response.text
    council = council_world.sims["council-bristol"]
    assert council.wait_for(lambda s: s.received)
    received = council.received[0]
    assert received.content_type == "application/xml"
    root = etree.fromstring(received.body)
    assert root.tag == f"{{{NS}}}DutyToRefer"
    target = root.find(f"{{{NS}}}TargetAuthority")
    assert target is not None and target.get("gss") == "E06000023"


def test_a_render_failing_the_xsd_is_not_sent_and_the_delivery_records_why(council_world) -> None:
    notice = notice_for("E06000023")
    notice["payload"]["person"]["birth_date"] = "1990-02-30"  # the canonical pattern passes it; xs:date does not
    response = council_world.post("trust-a", notice)
    assert response.status_code == 202, response.text
    record = response.json()["id"]
    errors: list = []

    def recorded() -> bool:
        view = council_world.get("ops", f"/v1/messages/{record}").json()
        errors[:] = [d["last_error"] for d in view["deliveries"] if d["partner"] == "council-bristol"]
        return bool(errors and errors[0])

    assert wait(recorded)
    assert "duty-to-refer-1.xsd" in errors[0] and "BirthDate" in errors[0] and "not sent" in errors[0]
    assert "1990-02-30" not in errors[0]
    assert council_world.sims["council-bristol"].received == []


def test_sealed_email_over_starttls_with_a_neutral_subject(council_world, council_smtp) -> None:
    response = council_world.post("trust-a", notice_for("E06000030"))
    assert response.status_code == 202, response.text
    smtp = council_smtp
    assert wait(lambda: smtp.mails), "no e-mail arrived"
    mail = smtp.mails[0]
    assert mail.tls, "the e-mail must travel over STARTTLS"
    assert mail.rcpt_tos == ["dtr@swindon.example"]
    parsed = email.message_from_bytes(mail.content, policy=email.policy.default)
    headers = "\n".join(f"{k}: {v}" for k, v in parsed.items())
    assert parsed["Subject"] == "Secure referral from the partner hub"
    text = parsed.get_body(preferencelist=("plain",))
    assert text is not None, "the mail has no plain-text part"
    for personal in ("Alex", "Example", "9434765919", "07700", "Willow"):
        assert personal not in headers
        assert personal not in text.get_content()
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_content_type() == "application/jose"
    opened = council_world.open_sealed("council-swindon", attachment.get_content())
    root = etree.fromstring(opened)
    assert root.tag == f"{{{NS}}}DutyToRefer"
    assert root.findtext(f"{{{NS}}}Person/{{{NS}}}FamilyName") == "Example"


def test_a_council_that_pulls_collects_the_housing_request_from_its_inbox(council_world) -> None:
    response = council_world.post("trust-a", notice_by_postcode("LU6 1AQ"))  # Central Bedfordshire, by postcode
    assert response.status_code == 202, response.text
    items: list = []

    def collected() -> bool:
        items[:] = council_world.get("council-beds", "/v1/inbox").json()["items"]
        return bool(items)

    assert wait(collected)
    [item] = items
    assert item["type"] == "HousingRequest"
    assert item["body"]["payload"]["target_authority_gss"] == "E06000056"
    token = council_world.tokens["council-beds"]
    answer = requests.post(
        f"{council_world.url}/v1/inbox/{item['id']}/ack", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert answer.status_code in (200, 204), answer.text
    assert council_world.get("council-beds", "/v1/inbox").json()["items"] == []
