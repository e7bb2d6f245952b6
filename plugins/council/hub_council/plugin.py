"""Entry point of the council plugin (group ``hub.adapters``, name ``council``).

Registers the ``HousingRequest``, ``HousingAppointment`` and ``HousingStatus`` message types, the
``council`` partner kind and its ``gss_code``, the Duty to Refer rules (through
``hub_validate_message``), the ``duty-to-refer`` transform (DischargeNotice ->
HousingRequest, with postcode routing), the ``council-xml`` adapter, the ``smtp``
transport and ``smtp-replies`` listener, the ``hub geo`` and ``hub council-stats`` commands and the ``/plugins/council``
routes (a referral's Duty to Refer status).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub import (
    Adapter,
    CodeField,
    GaugeSpec,
    Listener,
    MessageType,
    PartnerKind,
    Problem,
    RouteSpec,
    Transform,
    Transport,
    hookimpl,
)
from hub_council.council_xml import CouncilXmlAdapter
from hub_council.duty_to_refer import make_duty_to_refer
from hub_council.email_replies import SmtpRepliesListener
from hub_council.postcodes import PostcodeDirectory
from hub_council.rules import housing_request_problems, housing_status_problems
from hub_council.smtp_transport import SmtpTransport
from hub_council.stats import prometheus_gauges
from hub_council.status_stats import status_gauges


@hookimpl
def hub_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register ``HousingRequest`` (Duty to Refer), ``HousingAppointment`` and ``HousingStatus`` (council answers).

    A HousingStatus answers a HousingRequest only, and its status code and time are kept in
    clear (``MessageType.status``) for ``hub council-stats``: the code is one of the schema's
    enumeration, never free text.
    """
    register(MessageType.from_package("HousingRequest", "hub_council", "schemas/housing-request.schema.json"))
    register(MessageType.from_package("HousingAppointment", "hub_council", "schemas/housing-appointment.schema.json"))
    register(
        MessageType.from_package(
            "HousingStatus", "hub_council", "schemas/housing-status.schema.json",
            answers=("HousingRequest",), status=("payload.status", "payload.status_at"),
        )
    )  # fmt: skip


@hookimpl
def hub_register_partner_kinds(register: Callable[[PartnerKind], None]) -> None:
    """Register ``council`` (a local housing authority)."""
    register(PartnerKind("council", "a local housing authority"))


@hookimpl
def hub_register_code_fields(register: Callable[[CodeField], None]) -> None:
    """Register ``gss_code`` (the ONS GSS code of a local authority, e.g. E06000032)."""
    register(CodeField("gss_code", "the ONS GSS code of a local authority"))


@hookimpl
def hub_validate_message(message: dict[str, Any], sender_id: str, schema_valid: bool) -> list[Problem]:
    """The Duty to Refer rules (both consents, an English housing authority) and a status's time (not ahead)."""
    return housing_request_problems(message) + housing_status_problems(message)


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
def hub_register_listeners(register: Callable[[Listener], None]) -> None:
    """Register ``smtp-replies`` (councils' sealed statuses by e-mail; started by ``[listeners.smtp-replies]``)."""
    register(SmtpRepliesListener())


@hookimpl
def hub_register_gauges(register: Callable[[GaugeSpec], None]) -> None:
    """Register ``council-response-times`` (referral to first appointment) and ``council-statuses``, per council."""
    register(GaugeSpec("council-response-times", prometheus_gauges, with_data=True))
    register(GaugeSpec("council-statuses", status_gauges, with_data=True))


@hookimpl
def hub_register_routes(register: Callable[[RouteSpec], None]) -> None:
    """Register ``council``: a referral's Duty to Refer status and the councils' statistics over HTTP."""
    from hub_council.api import router

    register(RouteSpec("council", router))


@hookimpl
def hub_register_commands(register: Callable[[Any], None]) -> None:
    """Register ``hub geo`` (import, lookup) and ``hub council-stats``."""
    from hub_council.commands import council_stats_command, geo

    register(geo)
    register(council_stats_command)
