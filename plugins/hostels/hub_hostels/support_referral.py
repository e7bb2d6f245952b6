"""The support referral transform: a Referral to a hostel or charity built from a DischargeNotice.

The provider must assess within 48 hours of receiving the referral, so the
Referral carries ``assessment_due_at`` = received + 48 h. The referrer is the
discharge's lead clinician (``payload.contact``, optional in a DischargeNotice):
without one no referral is sent and the sender is told why; so too without the person's consent to the
referral and to sharing their contact details (as for the Duty to Refer).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hub import Refusal, TransformContext, derive_message
from hub_hostels.referrals import missing_consent

ASSESSMENT_WINDOW = timedelta(hours=48)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def support_referral(source: dict[str, Any], context: TransformContext) -> dict[str, Any]:
    """Build the Referral for ``source`` or raise ``Refusal`` with the reason."""
    missing = missing_consent(source)
    if missing:
        raise Refusal(f"no support referral was sent: the person has not consented "
                      f"{'to the referral' if missing == 'referral' else 'to sharing their contact details'} "
                      f"(consent.{missing} is not true); record both consents and resend")  # fmt: skip
    payload = source["payload"]
    support = payload.get("support") or {}
    provider = support.get("provider_id")
    if not provider:
        raise Refusal("no support referral was sent: no provider is named (payload.support.provider_id is empty)")
    contact = payload.get("contact")
    if not contact:
        raise Refusal("no support referral was sent: no lead clinician or discharge contact is named "
                      "(payload.contact) for the provider to contact")  # fmt: skip
    referral = {
        "referral_id": context.new_message_id(),
        "service_id": provider,
        "person": payload["person"],
        "referrer": contact,
        "source": "discharge",
        "reason": f"Discharge from {payload.get('ward', 'hospital')}: accommodation and support needed",
        "risk_summary": support.get("risk_summary") or "Not recorded by the discharging team",
        "support_needs": support.get("needs", []),
        "linked_discharge": source["message_id"],
        "received_at": _iso(context.now),
        "assessment_due_at": _iso(context.now + ASSESSMENT_WINDOW),
    }
    return derive_message(source, "Referral", referral, message_id=context.new_message_id(),
                          created_at=context.now, recipient={"org_id": provider})  # fmt: skip
