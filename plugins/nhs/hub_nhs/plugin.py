"""Entry point of the NHS plugin (group ``hub.adapters``, name ``nhs``)."""

from __future__ import annotations

from collections.abc import Callable

from hub import Transform, hookimpl
from hub_nhs.ips_referral import ips_referral


@hookimpl
def hub_register_transforms(register: Callable[[Transform], None]) -> None:
    """Register ``ips-referral`` (DischargeNotice -> IPSReferral)."""
    register(Transform("ips-referral", "DischargeNotice", "IPSReferral", ips_referral))
