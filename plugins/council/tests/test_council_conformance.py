"""The council plugin's adapter passes the hub's conformance suite (hub.testing.conformance) as anyone's would."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from council_helpers import appointment_xml

from hub import Partner, Receive
from hub.testing.conformance import AdapterConformance, Delivered, DeliveryConformance, TransportConformance
from hub.testing.messages import housing_request


def _request(to: str = "council-bristol") -> dict[str, Any]:
    message = housing_request("trust-a", "E06000023")
    message["recipient"] = {"org_id": to}
    return message


class TestCouncilXmlAdapterConformance(AdapterConformance):
    adapter_name = "council-xml"
    round_trip_types = ()  # it renders DutyToRefer documents and parses HousingAppointment documents

    def render_samples(self) -> list[dict[str, Any]]:
        return [_request()]

    def parse_samples(self) -> list[tuple[bytes, str]]:
        return [(appointment_xml("6db26f15-9da0-4b86-bd80-2a8193f4faa5"), "application/xml"),
                (appointment_xml("6db26f15-9da0-4b86-bd80-2a8193f4faa5", status="cancelled"), "text/xml")]  # fmt: skip


class TestCouncilXmlDeliveryConformance(DeliveryConformance):
    adapter_name = "council-xml"
    partner_kind = "council"

    def message(self, to: str) -> dict[str, Any]:
        return _request(to)


class SmtpEnd:
    """A partner end for the smtp transport: a real aiosmtpd server with STARTTLS that can refuse the next mail.

    Its idempotency key is the ``X-Hub-Message-Id`` header; a mail server gives no receipt and no reply.
    """

    gives_receipts = False
    answers_with_replies = False

    def __init__(self, tmp_path: Path) -> None:
        import ssl

        import aiosmtpd.controller as controller_module

        from hub.testing.certs import TestCA
        from hub.testing.running_hub import free_port

        ca = TestCA(tmp_path / "smtp-ca", "SMTP Test CA")
        issued = ca.issue("smtp-server", "127.0.0.1", server=True)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(issued.cert, issued.key)
        self.ca_file, self.port = ca.path, free_port()
        self.mails: list[bytes] = []
        self.refusals: list[int] = []
        self.down = False
        self.controller = controller_module.Controller(self, hostname="127.0.0.1", port=self.port,
                                                       tls_context=context, require_starttls=True)  # fmt: skip
        self.controller.start()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refusals:
            status = self.refusals.pop(0)
            return f"{status} refused by the test server"
        self.mails.append(bytes(envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"

    def partner(self, transport: str = "smtp", **options: Any) -> Partner:
        settings = {"host": "127.0.0.1", "port": self.port, "from": "hub@hub.example", "to": "dtr@council.example",
                    "ca_file": str(self.ca_file), "allow_unsealed": True, **options}  # fmt: skip
        return Partner("council-x", "Council X", "council", receive=Receive("push", transport, None, settings))

    def fail_next(self, status: int) -> None:
        self.refusals.append(status)

    def go_down(self) -> None:
        self.stop()

    def received(self) -> list[Delivered]:
        out = []
        for raw in self.mails:
            mail = email.message_from_bytes(raw, policy=email.policy.default)
            attachment = next(part for part in mail.iter_attachments())
            out.append(Delivered(mail["X-Hub-Message-Id"], attachment.get_content(), attachment.get_content_type()))
        return out

    def receipt_of(self, item: Delivered) -> str | None:
        return None

    def stop(self) -> None:
        if not self.down:
            self.down = True
            self.controller.stop()


class TestSmtpTransportConformance(TransportConformance):
    transport_name = "smtp"
    retryable_statuses = (421, 450, 451)  # SMTP's passing refusals
    final_statuses = (550, 552, 554)  # and its final ones

    @pytest.fixture
    def end(self, tmp_path: Path) -> Iterator[SmtpEnd]:
        end = SmtpEnd(tmp_path)
        yield end
        end.stop()
