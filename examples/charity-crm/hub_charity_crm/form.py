"""The charity CRM's referral form: its fields, and the canonical Referral paths they carry.

A field holds one value, except the list fields (``address_line``, ``support_need``), which repeat. Yes/no
fields (``consent_referral``, ``consent_share_contact``, ``no_fixed_abode``) hold ``yes`` or ``no``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """One form field: its name, the canonical path it carries, and how its value is written."""

    name: str
    path: str
    shape: str = "text"
    """``text``, ``yes-no`` or ``list`` (the field repeats)."""
    required: bool = True


FIELDS: tuple[Field, ...] = (
    Field("message_id", "message_id"),
    Field("created_at", "created_at"),
    Field("correlation_id", "correlation_id", required=False),
    Field("recipient", "recipient.org_id", required=False),
    Field("lawful_basis", "lawful_basis"),
    Field("consent_referral", "consent.referral", "yes-no"),
    Field("consent_share_contact", "consent.share_contact", "yes-no"),
    Field("consent_method", "consent.method"),
    Field("consent_recorded_at", "consent.recorded_at"),
    Field("consent_recorded_by", "consent.recorded_by"),
    Field("referral_id", "payload.referral_id"),
    Field("service_id", "payload.service_id"),
    Field("nhs_number", "payload.person.nhs_number", required=False),
    Field("family_name", "payload.person.family_name"),
    Field("given_name", "payload.person.given_name"),
    Field("birth_date", "payload.person.birth_date"),
    Field("phone", "payload.person.phone", required=False),
    Field("email", "payload.person.email", required=False),
    Field("no_fixed_abode", "payload.person.no_fixed_abode", "yes-no"),
    Field("address_line", "payload.person.address.lines", "list", required=False),
    Field("postcode", "payload.person.address.postcode", required=False),
    Field("referrer_name", "payload.referrer.name"),
    Field("referrer_role", "payload.referrer.role", required=False),
    Field("referrer_organisation", "payload.referrer.organisation", required=False),
    Field("referrer_phone", "payload.referrer.phone", required=False),
    Field("referrer_email", "payload.referrer.email", required=False),
    Field("reason", "payload.reason"),
    Field("risk_summary", "payload.risk_summary"),
    Field("support_need", "payload.support_needs", "list"),
    Field("received_at", "payload.received_at"),
    Field("assessment_due_at", "payload.assessment_due_at"),
)
"""Every field of the form, in the order they are written."""

BY_NAME = {f.name: f for f in FIELDS}
