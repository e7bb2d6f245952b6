"""The IPS referral transform: an IPSReferral built from a DischargeNotice.

Individual Placement and Support fidelity expects the first contact with an
employer within about 30 days of referral, so the IPSReferral carries
``first_employer_contact_due`` = referral date + 30 days.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub import Refusal, TransformContext, derive_message

FIRST_EMPLOYER_CONTACT = timedelta(days=30)


def ips_referral(source: dict[str, Any], context: TransformContext) -> dict[str, Any]:
    """Build the IPSReferral for ``source`` or raise ``Refusal`` with the reason."""
    payload = source["payload"]
    employment = payload.get("employment") or {}
    if employment.get("consent") is not True:
        raise Refusal("no IPS referral was sent: the person has not consented to one (payload.employment.consent)")
    provider = employment.get("provider_id")
    if not provider:
        raise Refusal("no IPS referral was sent: no IPS service is named (payload.employment.provider_id)")
    coordinator = employment.get("care_coordinator") or payload.get("contact")
    if not coordinator:
        raise Refusal("no IPS referral was sent: no care coordinator or lead clinician is named "
                      "(payload.employment.care_coordinator or payload.contact)")  # fmt: skip
    today = context.now.date()
    referral = {
        "person": payload["person"],
        "referring_team_ods": payload["discharging_org"]["ods_code"],
        "care_coordinator": coordinator,
        "employment_goal": employment.get("goal") or "To be agreed with the employment specialist",
        "job_preferences": employment.get("job_preferences", []),
        "current_employment_status": employment.get("current_status", "not_known"),
        "benefits_advice_needed": bool(employment.get("benefits_advice_needed", False)),
        "referral_date": today.isoformat(),
        "first_employer_contact_due": (today + FIRST_EMPLOYER_CONTACT).isoformat(),
    }
    return derive_message(source, "IPSReferral", referral, message_id=context.new_message_id(),
                          created_at=context.now, recipient={"org_id": provider})  # fmt: skip
