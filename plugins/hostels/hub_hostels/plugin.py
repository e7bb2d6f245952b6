"""Entry point of the hostels plugin (group ``hub.adapters``, name ``hostels``).

Registers the ``Referral`` and ``ReferralUpdate`` message types and the Referral's consent rules, the
``hostel``, ``charity``, ``referrer`` and ``navigator`` partner kinds, the ``support-referral`` transform, the
``referral-taker`` destination, the ``referral-form`` adapter and ``form-post`` transport, the ``hub directory``
and ``hub offers`` commands, the capacity API and the offer chain under ``/plugins/hostels`` (with the chain's
background rounds), the ``directory-refresh`` listener and the ``hostels-directory`` config check. It observes
stored Referrals and Acknowledgements for the offer chain (``hub_message_event``) and routes each
``ReferralUpdate`` the hub writes to the referrer it names (``hub_route``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub import DestinationResolver, HubEvent, MessageType, PartnerKind, Problem, Transform, hookimpl
from hub_hostels.referrals import check_taker, describe_taker, referral_problems, resolve_taker
from hub_hostels.support_referral import support_referral


@hookimpl
def hub_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register ``Referral`` (to a support provider such as a hostel) and ``ReferralUpdate`` (to its referrer)."""
    register(MessageType.from_package("Referral", "hub_hostels", "schemas/referral.schema.json"))
    register(MessageType.from_package("ReferralUpdate", "hub_hostels", "schemas/referral-update.schema.json"))


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
    from hub_hostels.offers.api import build_offer_routes
    from hub_hostels.offers.chain import sweep

    router = build_router()
    build_offer_routes(router)
    register(RouteSpec("hostels", router, background=sweep))


@hookimpl
def hub_register_ui_screens(register: Callable[[Any], None]) -> None:
    """Register the navigators' queue on the dashboard (``/ui/plugins/hostels``): allocate or close by hand."""
    from hub_hostels.offers.screen import build_screen

    register(build_screen())


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
    """The consent rules of every Referral (``hub_hostels.referrals``); only the hub writes a ReferralUpdate."""
    from hub_hostels.offers.chain import from_hub

    if message.get("type") == "ReferralUpdate" and not from_hub(sender_id):
        return [Problem("$.type", "ReferralUpdate is written by the hub itself, never sent by a partner")]
    return referral_problems(message)


@hookimpl
def hub_route(message: dict[str, Any], sender_id: str) -> list[str] | None:
    """A ``ReferralUpdate`` the hub writes goes to the referrer it names (``recipient.org_id``)."""
    from hub_hostels.offers.chain import from_hub

    recipient = message.get("recipient")
    if message.get("type") == "ReferralUpdate" and from_hub(sender_id) and isinstance(recipient, dict):
        return [str(recipient.get("org_id"))]
    return None


@hookimpl
def hub_message_event(event: HubEvent) -> None:
    """Queue each stored Referral and Acknowledgement for the offer chain's next round."""
    from hub_hostels.offers.chain import observe

    observe(event)


@hookimpl
def hub_register_destinations(register: Callable[[Any], None]) -> None:
    """Register ``referral-taker``: the provider a Referral names; a self-referral only from a taker."""
    register(DestinationResolver("referral-taker", resolve_taker, check_taker, describe_taker))


@hookimpl
def hub_register_config_checks(register: Callable[[Any], None]) -> None:
    """Register ``hostels-directory``: the service links and directory settings (``hub_hostels.config_checks``)."""
    from hub_hostels.config_checks import directory_check

    register(directory_check())


@hookimpl
def hub_register_demo_scenes(register: Callable[[Any], None]) -> None:
    """Register ``hostels-allocation``: ``hub demo`` shows an allocation chain (one full, one declining, one
    accepting hostel)."""
    from hub_hostels.demo_scene import demo_scene

    register(demo_scene())
