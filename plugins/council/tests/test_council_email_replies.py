"""Statuses by e-mail: a council on the smtp transport replies with a sealed HousingStatus to the hub's listener."""

from __future__ import annotations

import email
import email.policy
import smtplib
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from council_helpers import NS, notice_for, status_xml
from lxml import etree

from hub.testing.certs import TestCA
from hub.testing.running_hub import free_port
from hub.testing.world import HubWorld, Partner

REPLY_TO = "dtr-replies@hub.example"
COUNCIL_MAIL = "dtr@swindon.example"


@pytest.fixture
def reply_world(tmp_path: Path, council_smtp, hub_world_factory: Callable[..., HubWorld]) -> tuple[HubWorld, int, Path]:
    """trust-a, and council-swindon (sealed) taking referrals by e-mail and replying to the hub's listener."""
    ca = TestCA(tmp_path / "reply-ca", "Reply Test CA")
    issued = ca.issue("hub-replies", "127.0.0.1", server=True)
    port = free_port()
    smtp = {"mode": "push", "transport": "smtp", "options": {
        "host": "127.0.0.1", "port": council_smtp.port, "from": "hub@trust.example", "to": COUNCIL_MAIL,
        "starttls": True, "ca_file": str(council_smtp.ca_file), "reply_to": REPLY_TO}}  # fmt: skip
    partners = [
        Partner("trust-a", "nhs_trust", {"ods_code": "RWK"}),
        Partner("council-swindon", "council", {"gss_code": "E06000030"}, adapter="council-xml", sealed=True,
                receive=smtp),
        Partner("council-other", "council", {"gss_code": "E07000001"}, sealed=True, receive="pull"),
    ]  # fmt: skip
    listener = {"host": "127.0.0.1", "port": port, "cert_file": str(issued.cert), "key_file": str(issued.key)}
    world = hub_world_factory(partners, settings={"listeners": {"smtp-replies": listener}})
    return world, port, ca.path


def referral_by_mail(world: HubWorld, council_smtp) -> tuple[str, EmailMessage]:
    """Send a Duty to Refer to Swindon; return the DutyToRefer's MessageId and the e-mail it came in."""
    assert world.post("trust-a", notice_for("E06000030")).status_code == 202
    from hub.testing import wait_until

    assert wait_until(lambda: council_smtp.mails)
    mail = email.message_from_bytes(council_smtp.mails[0].content, policy=email.policy.default)
    [attachment] = list(mail.iter_attachments())
    document = etree.fromstring(world.open_sealed("council-swindon", attachment.get_content()))
    message_id = document.findtext(f"{{{NS}}}MessageId")
    assert message_id
    return str(message_id), mail


def sealed_status(world: HubWorld, in_reply_to: str, status: str, signing_key=None) -> tuple[str, bytes]:
    """A HousingStatus document sealed by council-swindon for the hub (or signed with ``signing_key``)."""
    import uuid

    message_id = str(uuid.uuid4())
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    body = status_xml(in_reply_to, status, now, authority="E06000030", message_id=message_id)
    return message_id, world.seal_as("council-swindon", body, message_id=message_id, message_type="HousingStatus",
                                     signing_key=signing_key)  # fmt: skip


def reply(port: int, ca: Path, sealed: bytes | None, *, sender: str = COUNCIL_MAIL,
          message_id: str | None = None) -> tuple[int, str]:  # fmt: skip
    """E-mail a reply to the hub's listener over STARTTLS; return the SMTP answer to DATA (code, text)."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, REPLY_TO, "Re: Secure referral from the partner hub"
    if message_id is not None:
        mail["Message-ID"] = message_id
    mail.set_content("Status attached.")
    if sealed is not None:
        mail.add_attachment(sealed, maintype="application", subtype="jose", filename="status.jwe")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.starttls(context=ssl.create_default_context(cafile=str(ca)))
        client.ehlo()
        client.mail(sender)
        client.rcpt(REPLY_TO)
        code, text = client.data(mail.as_bytes(policy=email.policy.SMTP))
    return code, text.decode()


def test_a_sealed_status_replied_by_mail_reaches_the_referrer(reply_world, council_smtp) -> None:
    world, port, ca = reply_world
    referral, mail = referral_by_mail(world, council_smtp)
    assert mail["Reply-To"] == REPLY_TO
    message_id, sealed = sealed_status(world, referral, "relief_duty")
    code, text = reply(port, ca, sealed)
    assert code == 250, text
    trust = world.sims["trust-a"]
    assert trust.wait_for(lambda s: s.messages("HousingStatus"))
    [status] = trust.messages("HousingStatus")
    assert (status["message_id"], status["in_reply_to"]) == (message_id, referral)
    assert status["payload"]["status"] == "relief_duty" and status["sender"]["org_id"] == "council-swindon"
    assert reply(port, ca, sealed)[0] == 250  # the same reply again (a mail server's retry) is stored once
    assert len(world.stored_messages("HousingStatus")) == 1


def test_a_forged_signature_a_stranger_or_no_envelope_is_bounced(reply_world, council_smtp) -> None:
    world, port, ca = reply_world
    referral, _ = referral_by_mail(world, council_smtp)
    stranger_key = world.own_keys["council-other"][0]  # a key the hub has, but not council-swindon's
    _, forged = sealed_status(world, referral, "not_eligible", signing_key=stranger_key)
    code, text = reply(port, ca, forged)  # From the council's address, but not signed with its key
    assert code == 550, text
    _, genuine = sealed_status(world, referral, "not_eligible")
    code, text = reply(port, ca, genuine, sender="someone@elsewhere.example")
    assert code == 550 and "not a council of this hub" in text
    code, text = reply(port, ca, None)
    assert code == 550 and "exactly one sealed envelope" in text
    assert world.stored_messages("HousingStatus") == []
    assert world.sims["trust-a"].messages("HousingStatus") == []


def test_a_refused_replys_message_id_reaches_the_audit_log_only_as_a_msg_id_or_a_digest(reply_world) -> None:
    """The Message-ID of a mail is whatever its (unauthenticated) sender wrote: free text is logged as a digest."""
    import hashlib
    import json

    world, port, ca = reply_world
    free_text = "Jane Doe 943 476 5919 lives at 1 High St"
    code, _ = reply(port, ca, None, sender="someone@elsewhere.example", message_id=free_text)
    assert code == 550
    code, _ = reply(port, ca, None, sender="someone@elsewhere.example", message_id="<a1.b2@mail.example>")
    assert code == 550
    listed = world.cli("dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "Jane" not in listed.stdout and "5919" not in listed.stdout
    references = [r["reference"] for r in json.loads(listed.stdout)["refused_transmissions"]]
    digest = "sha256:" + hashlib.sha256(free_text.encode()).hexdigest()[:32]
    assert sorted(references) == sorted([digest, "<a1.b2@mail.example>"])
