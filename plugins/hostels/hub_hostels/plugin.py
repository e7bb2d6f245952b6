"""Entry point of the hostels plugin (group ``hub.adapters``, name ``hostels``)."""

from __future__ import annotations

from collections.abc import Callable

from hub import Transform, hookimpl
from hub_hostels.support_referral import support_referral


@hookimpl
def hub_register_transforms(register: Callable[[Transform], None]) -> None:
    """Register ``support-referral`` (DischargeNotice -> Referral)."""
    register(Transform("support-referral", "DischargeNotice", "Referral", support_referral))
