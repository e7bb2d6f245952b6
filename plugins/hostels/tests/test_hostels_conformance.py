"""The hostels plugin's channels pass the conformance suite (hub.testing.conformance), as a third party's would.

Hostels speaking the hub's canonical JSON over the default transport are checked for the Referral the plugin
registers; charities taking referrals on a web form are checked for the ``referral-form`` adapter (render only),
the ``form-post`` transport against a loopback form server that answers form-encoded, and the two together
through a running hub.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from hub.testing.conformance import (
    AdapterConformance,
    DeliveryConformance,
    HttpEnd,
    TransportConformance,
)
from hub.testing.messages import example


class TestReferralDeliveryConformance(DeliveryConformance):
    adapter_name = None
    partner_kind = "hostel"

    def message(self, to: str) -> dict[str, Any]:
        message = example("referral", sender={"org_id": "trust-a", "ods_code": "RWK"}, recipient={"org_id": to})
        message["payload"]["service_id"] = to
        return message


FORM = "application/x-www-form-urlencoded"


def _referral(to: str = "charity-crm") -> dict[str, Any]:
    message = example("referral", sender={"org_id": "trust-a", "ods_code": "RWK"}, recipient={"org_id": to})
    message["payload"]["service_id"] = to
    return message


class TestReferralFormAdapterConformance(AdapterConformance):
    """``referral-form`` renders only (no ``content_types``): the suite's parse checks skip, saying so."""

    adapter_name = "referral-form"

    def render_samples(self) -> list[dict[str, Any]]:
        return [_referral()]


class FormEnd(HttpEnd):
    """A loopback charity form server: takes the POST and answers, as web forms do, form-encoded."""

    def answer_with(self, body: dict[str, Any]) -> None:
        """Answer each delivery with ``body``'s members as form fields (``ref=R-1&outcome=no``)."""
        self.sim.answer_with(urllib.parse.urlencode(body).encode(), FORM)


class TestFormPostTransportConformance(TransportConformance):
    transport_name = "form-post"

    @pytest.fixture
    def end(self) -> Iterator[FormEnd]:
        end = FormEnd()
        yield end
        end.stop()


class TestReferralFormOverFormPostDeliveryConformance(DeliveryConformance):
    """A charity whose CRM takes referrals on a web form, through a running hub."""

    adapter_name = "referral-form"
    partner_kind = "charity"
    partner_transport = "form-post"

    def message(self, to: str) -> dict[str, Any]:
        return _referral(to)
