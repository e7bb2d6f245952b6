"""The Duty to Refer transform: a HousingRequest built from a DischargeNotice.

Homelessness Reduction Act 2017, s.213B: a trust must refer a person who is
homeless or threatened with homelessness within 56 days to the English housing
authority they choose, and only with their consent to the referral and to
sharing their contact details. Without both consents the transform refuses and
the trust is told why.
"""

from __future__ import annotations

from typing import Any

from hub import Refusal, TransformContext, derive_message

REASONS = {"no_fixed_abode": "homeless", "threatened_within_56_days": "threatened_within_56_days"}


def duty_to_refer(source: dict[str, Any], context: TransformContext) -> dict[str, Any]:
    """Build the HousingRequest for ``source`` or raise ``Refusal`` with the reason."""
    payload = source["payload"]
    housing = payload.get("housing") or {}
    consent = source.get("consent") or {}
    missing = [name for name in ("referral", "share_contact") if consent.get(name) is not True]
    if missing:
        what = " and ".join({"referral": "to the referral", "share_contact": "to sharing contact details"}[m]
                            for m in missing)  # fmt: skip
        raise Refusal(
            f"no Duty to Refer was sent: the person has not consented {what} (consent."
            f"{missing[0]} is not true). The law requires both consents; record them and resend."
        )
    reason = REASONS.get(housing.get("situation", ""))
    if reason is None:
        raise Refusal("no Duty to Refer was sent: the person is neither homeless nor threatened within 56 days")
    authority = housing.get("chosen_authority_gss")
    if not authority:
        raise Refusal(
            "no Duty to Refer was sent: the person has not chosen a housing authority "
            "(payload.housing.chosen_authority_gss is empty)"
        )
    contact = payload.get("contact") or {}
    discharging = payload.get("discharging_org") or {}
    referrer = {
        "name": contact.get("name"),
        "organisation": contact.get("organisation") or discharging.get("name") or discharging.get("ods_code"),
        "authority_type": "NHS trust (mental health)",
        "phone": contact.get("phone"),
        "email": contact.get("email"),
    }
    request = {
        "referral_id": context.new_message_id(),
        "referrer": {k: v for k, v in referrer.items() if v is not None},
        "person": payload["person"],
        "reason": reason,
        "target_authority_gss": authority,
        "discharge_date": payload["discharge"]["date_time"][:10],
        "housing_situation": housing.get("details") or housing["situation"].replace("_", " "),
        "support_needs": housing.get("support_needs") or (payload.get("support") or {}).get("needs") or [],
        "urgent": bool(housing.get("urgent", False)),
    }
    return derive_message(source, "HousingRequest", request, message_id=context.new_message_id(),
                          created_at=context.now)  # fmt: skip
