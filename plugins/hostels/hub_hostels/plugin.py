"""Entry point of the hostels plugin (group ``hub.adapters``, name ``hostels``).

Registers the ``Referral`` message type and its consent rules, the ``hostel``, ``charity`` and ``referrer``
partner kinds, the ``support-referral`` transform, the ``referral-taker`` destination, the ``referral-form``
adapter and ``form-post`` transport, the ``hub directory`` commands, the capacity API under
``/plugins/hostels``, the ``directory-refresh`` listener and the ``hostels-directory`` config check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub import DestinationResolver, MessageType, PartnerKind, Problem, Transform, hookimpl
from hub_hostels.referrals import check_taker, describe_taker, referral_problems, resolve_taker
from hub_hostels.support_referral import support_referral


@hookimpl
def hub_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register ``Referral`` (to a support provider such as a hostel)."""
    register(MessageType.from_package("Referral", "hub_hostels", "schemas/referral.schema.json"))


@hookimpl
def hub_register_partner_kinds(register: Callable[[PartnerKind], None]) -> None:
    """Register ``hostel``, ``charity``, ``referrer`` and ``navigator``."""
    register(PartnerKind("hostel", "a hostel or supported housing provider"))
    register(PartnerKind("charity", "a charity"))
    register(PartnerKind("referrer", "a care coordinator, social worker or other professional who refers people"))
    register(PartnerKind("navigator", "a recovery navigator who triages referrals and allocates them by hand"))


@hookimpl
def hub_register_transforms(register: Callable[[Transform], None]) -> None:
    """Register ``support-referral`` (DischargeNotice -> Referral)."""
    register(Transform("support-referral", "DischargeNotice", "Referral", support_referral))


@hookimpl
def hub_register_commands(register: Callable[[Any], None]) -> None:
    """Register ``hub directory`` (import, list, show, match) and ``hub offers`` (queue, allocate, show)."""
    from hub_hostels.directory.commands import directory
    from hub_hostels.offers.commands import offers

    register(directory)
    register(offers)


@hookimpl
def hub_register_routes(register: Callable[[Any], None]) -> None:
    """Serve the providers' capacity API and the offer chain under ``/plugins/hostels``, with the offer-window sweep."""
    from hub import RouteSpec
    from hub_hostels.directory.capacity_api import build_router
    from hub_hostels.offers.api import build_offer_routes, sweep

    router = build_router()
    build_offer_routes(router)
    register(RouteSpec("hostels", router, background=sweep))


@hookimpl
def hub_register_listeners(register: Callable[[Any], None]) -> None:
    """Register ``directory-refresh``: feeds imported on a schedule (``[listeners.directory-refresh]``)."""
    from hub_hostels.directory.refresh import DirectoryRefresh

    register(DirectoryRefresh())


@hookimpl
def hub_register_adapters(register: Callable[[Any], None]) -> None:
    """Register ``referral-form`` (a Referral as HTML form fields)."""
    from hub_hostels.channels.form_post import ReferralFormAdapter

    register(ReferralFormAdapter())


@hookimpl
def hub_register_transports(register: Callable[[Any], None]) -> None:
    """Register ``form-post`` (an HTML form POST whose answer is read as the provider's decision)."""
    from hub_hostels.channels.form_post import FormPostTransport

    register(FormPostTransport())


@hookimpl
def hub_validate_message(message: dict[str, Any], sender_id: str, schema_valid: bool) -> list[Problem]:
    """The consent rules of every Referral (``hub_hostels.referrals``)."""
    return referral_problems(message)


@hookimpl
def hub_register_destinations(register: Callable[[Any], None]) -> None:
    """Register ``referral-taker``: the provider a Referral names; a self-referral only from a taker."""
    register(DestinationResolver("referral-taker", resolve_taker, check_taker, describe_taker))


@hookimpl
def hub_register_config_checks(register: Callable[[Any], None]) -> None:
    """Register ``hostels-directory``: the service links and directory settings (``hub_hostels.config_checks``)."""
    from hub_hostels.config_checks import directory_check

    register(directory_check())
