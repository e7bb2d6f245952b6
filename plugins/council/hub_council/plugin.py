"""Entry point of the council plugin (group ``hub.adapters``, name ``council``).

Registers the ``duty-to-refer`` transform (DischargeNotice -> HousingRequest,
with postcode routing), the ``council-xml`` adapter, the ``smtp`` transport and
the ``hub geo`` and ``hub council-stats`` commands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub import Adapter, GaugeSpec, Transform, Transport, hookimpl
from hub_council.council_xml import CouncilXmlAdapter
from hub_council.duty_to_refer import make_duty_to_refer
from hub_council.postcodes import PostcodeDirectory
from hub_council.smtp_transport import SmtpTransport
from hub_council.stats import prometheus_gauges


@hookimpl
def hub_register_transforms(register: Callable[[Transform], None]) -> None:
    """Register ``duty-to-refer`` (DischargeNotice -> HousingRequest)."""
    register(Transform("duty-to-refer", "DischargeNotice", "HousingRequest", make_duty_to_refer(PostcodeDirectory())))


@hookimpl
def hub_register_adapters(register: Callable[[Adapter], None]) -> None:
    """Register ``council-xml`` (DutyToRefer XML out, HousingAppointment XML in)."""
    register(CouncilXmlAdapter())


@hookimpl
def hub_register_transports(register: Callable[[Transport], None]) -> None:
    """Register ``smtp`` (sealed referral by e-mail over STARTTLS)."""
    register(SmtpTransport())


@hookimpl
def hub_register_gauges(register: Callable[[GaugeSpec], None]) -> None:
    """Register ``council-response-times``: time from referral to first appointment, per council."""
    register(GaugeSpec("council-response-times", prometheus_gauges, with_data=True))


@hookimpl
def hub_register_commands(register: Callable[[Any], None]) -> None:
    """Register ``hub geo`` (import, lookup) and ``hub council-stats``."""
    from hub_council.commands import council_stats_command, geo

    register(geo)
    register(council_stats_command)
