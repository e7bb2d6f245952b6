"""Entry point of the council plugin (group ``hub.adapters``, name ``council``)."""

from __future__ import annotations

from collections.abc import Callable

from hub import Transform, hookimpl
from hub_council.duty_to_refer import duty_to_refer


@hookimpl
def hub_register_transforms(register: Callable[[Transform], None]) -> None:
    """Register ``duty-to-refer`` (DischargeNotice -> HousingRequest)."""
    register(Transform("duty-to-refer", "DischargeNotice", "HousingRequest", duty_to_refer))
