"""The smtp transport's refusals, against the real STARTTLS server (no hub needed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hub_council.smtp_transport import SmtpTransport

from hub import Partner, Receive, Rendered

SEALED = Rendered("application/jose", b"eyJhbGciOi.sealed.envelope")


def partner(options: dict) -> Partner:
    return Partner("council-x", "Council X", "council", receive=Receive("push", "smtp", None, options))


def deliver(rendered: Rendered, options: dict):
    return asyncio.run(SmtpTransport().deliver(rendered, partner=partner(options), message_id="m", delivery_id="d"))


def test_an_unsealed_body_is_not_emailed_unless_allowed(council_smtp) -> None:
    options = {"host": "127.0.0.1", "port": council_smtp.port, "from": "hub@t.example", "to": "dtr@c.example",
               "ca_file": str(council_smtp.ca_file)}  # fmt: skip
    outcome = deliver(Rendered("application/xml", b"<DutyToRefer/>"), options)
    assert not outcome.ok and not outcome.retryable and "no envelope keys" in (outcome.error or "")
    assert council_smtp.mails == []
    assert deliver(Rendered("application/xml", b"<DutyToRefer/>"), {**options, "allow_unsealed": True}).ok
    assert council_smtp.mails[0].tls


def test_a_server_certificate_from_an_unknown_ca_is_refused(council_smtp, tmp_path: Path) -> None:
    from hub.testing.certs import TestCA

    other = TestCA(tmp_path / "other", "Other CA")
    options = {"host": "127.0.0.1", "port": council_smtp.port, "from": "hub@t.example", "to": "dtr@c.example",
               "ca_file": str(other.path)}  # fmt: skip
    outcome = deliver(SEALED, options)
    assert not outcome.ok and outcome.retryable and "not trusted" in (outcome.error or "")
    assert council_smtp.mails == []


def test_starttls_cannot_be_switched_off(council_smtp) -> None:
    options = {"host": "127.0.0.1", "port": council_smtp.port, "from": "hub@t.example", "to": "dtr@c.example",
               "starttls": False}  # fmt: skip
    outcome = deliver(SEALED, options)
    assert not outcome.ok and "starttls must be true" in (outcome.error or "")
