"""Referrals to hostels, in the hub's canonical JSON, pass the delivery conformance suite (hub.testing.conformance).

The hostels plugin registers no adapter or transport of its own: its partners speak the hub's default adapter over
the default transport, and the suite checks that pairing for the Referral it registers.
"""

from __future__ import annotations

from typing import Any

from hub.testing.conformance import DeliveryConformance
from hub.testing.messages import example


class TestReferralDeliveryConformance(DeliveryConformance):
    adapter_name = None
    partner_kind = "hostel"

    def message(self, to: str) -> dict[str, Any]:
        message = example("referral", sender={"org_id": "trust-a", "ods_code": "RWK"}, recipient={"org_id": to})
        message["payload"]["service_id"] = to
        return message
