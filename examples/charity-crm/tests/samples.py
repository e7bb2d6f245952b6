"""A canonical Referral for the tests: fictional data, a fresh message id each time."""

from __future__ import annotations

import uuid
from typing import Any


def referral(to: str = "steps-luton", sender: str = "trust-a") -> dict[str, Any]:
    """A Referral from ``sender`` to service ``to``."""
    return {
        "message_id": str(uuid.uuid4()),
        "type": "Referral",
        "schema_version": "1",
        "created_at": "2026-11-24T09:05:00Z",
        "correlation_id": str(uuid.uuid4()),
        "sender": {"org_id": sender},
        "recipient": {"org_id": to},
        "consent": {
            "referral": True,
            "share_contact": True,
            "method": "written",
            "recorded_at": "2026-11-23T15:30:00Z",
            "recorded_by": "Ward Manager",
        },
        "lawful_basis": "UK GDPR Art 6(1)(e) and Art 9(2)(h)",
        "payload": {
            "referral_id": "REF-HOPE-000042",
            "service_id": to,
            "person": {
                "nhs_number": "9434765919",
                "family_name": "Example",
                "given_name": "Alex",
                "birth_date": "1990-05-17",
                "no_fixed_abode": True,
                "address": {"lines": ["c/o Willow Ward", "12 Example Road"], "postcode": "LU1 2AA"},
            },
            "referrer": {
                "name": "Jordan Demo",
                "role": "Support worker",
                "organisation": "Hope Charity",
                "phone": "01582 700200",
            },
            "reason": "Needs supported accommodation; sofa-surfing since March.",
            "risk_summary": "Low risk to others.",
            "support_needs": ["Support to manage a tenancy", "Help registering with a GP"],
            "received_at": "2026-11-24T09:05:00Z",
            "assessment_due_at": "2026-11-26T09:05:00Z",
        },
    }
