"""Entry point of the NHS plugin (group ``hub.adapters``, name ``nhs``).

Registers the ``DischargeNotice``, ``IPSReferral`` and ``FollowUp`` message types,
the ``nhs_trust`` and ``ips_provider`` partner kinds, the ``ods_code`` and
``mesh_mailbox`` codes, and the ``ips-referral`` transform.
"""

from __future__ import annotations

from collections.abc import Callable

from hub import CodeField, MessageType, PartnerKind, Transform, hookimpl
from hub_nhs.ips_referral import ips_referral


@hookimpl
def hub_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register ``DischargeNotice``, ``IPSReferral`` and ``FollowUp``."""
    register(MessageType.from_package("DischargeNotice", "hub_nhs", "schemas/discharge-notice.schema.json"))
    register(MessageType.from_package("IPSReferral", "hub_nhs", "schemas/ips-referral.schema.json"))
    register(MessageType.from_package("FollowUp", "hub_nhs", "schemas/follow-up.schema.json"))


@hookimpl
def hub_register_partner_kinds(register: Callable[[PartnerKind], None]) -> None:
    """Register ``nhs_trust`` and ``ips_provider`` (an Individual Placement and Support service)."""
    register(PartnerKind("nhs_trust", "an NHS trust"))
    register(PartnerKind("ips_provider", "an Individual Placement and Support (employment) service"))


@hookimpl
def hub_register_code_fields(register: Callable[[CodeField], None]) -> None:
    """Register ``ods_code`` (an NHS organisation's ODS code) and ``mesh_mailbox`` (its MESH mailbox id)."""
    register(CodeField("ods_code", "an NHS organisation's ODS code"))
    register(CodeField("mesh_mailbox", "a MESH mailbox id"))


@hookimpl
def hub_register_transforms(register: Callable[[Transform], None]) -> None:
    """Register ``ips-referral`` (DischargeNotice -> IPSReferral)."""
    register(Transform("ips-referral", "DischargeNotice", "IPSReferral", ips_referral))
