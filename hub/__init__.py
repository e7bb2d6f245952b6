"""The partner hub: routes discharge, housing, referral and employment messages between agencies.

This module is the public face for plugin authors. Import from here only::

    from hub import hookimpl, Rendered, DeliveryOutcome, Transform, Refusal

Most names come from the plugin API (``hub.plugin_api``); a few helpers every
adapter needs come from the core: ``derive_message``, ``parse_json_strict``,
the identifier checks and the hardened XML parser. The HTTP dependencies of
``hub.plugin_api.callers`` (``Authenticated``, ``PartnerCaller``,
``OperatorCaller``) and the XML helpers are loaded on first use, so importing
``hub`` does not import the web framework or lxml. ``make lint`` checks that
the built-in plugins import nothing of the hub but this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.canonical import derive_message
from hub.identifiers import housing_authority_problem, nhs_number_problem, normalise_nhs_number
from hub.plugin_api.config_checks import ConfigCheck, ConfigCheckContext, ConfigProblem, did_you_mean
from hub.plugin_api.data import CommandContext, HubData, MilestoneState, ReplyTime, StatusReply
from hub.plugin_api.demo import DemoPartner, DemoScene, DemoStage
from hub.plugin_api.events import HubEvent
from hub.plugin_api.hookspecs import hookimpl
from hub.plugin_api.partner import Agreement, Partner, PartnerReply, Receive, ReplyReading
from hub.plugin_api.problems import (
    ConfigError,
    Conflict,
    HubError,
    InvalidMessage,
    NotFound,
    PayloadTooLarge,
    Problem,
    SchedulerUnavailable,
    UnparseableInput,
    read_each,
)
from hub.plugin_api.records import (
    Adapter,
    CodeField,
    DeliveryOutcome,
    DestinationResolver,
    GaugeSpec,
    KeyProviderSpec,
    Listener,
    ListenerContext,
    MessageType,
    MilestoneScheduler,
    Parsed,
    PartnerKind,
    Refusal,
    Rendered,
    RenderError,
    ResolveContext,
    RouteSetup,
    RouteSpec,
    SchedulerSpec,
    SchemaSpec,
    Transform,
    TransformContext,
    Transport,
    Unresolved,
)
from hub.plugin_api.sqlite_wal import use_wal
from hub.plugin_api.ui_screens import UiScreen
from hub.strict_json import parse_json_strict

_LAZY = {
    # the HTTP dependencies for plugins' routes (hub_register_routes): importing them imports FastAPI
    "Authenticated": "hub.plugin_api.callers",
    "Caller": "hub.plugin_api.callers",
    "OperatorCaller": "hub.plugin_api.callers",
    "PartnerCaller": "hub.plugin_api.callers",
    "SchedulerCaller": "hub.plugin_api.callers",
    # the hardened XML parser every XML adapter uses: importing it imports lxml
    "declared_dtd_marker": "hub.safe_xml",
    "hardened_parser": "hub.safe_xml",
    # the dashboard's helpers for plugins' screens (hub_register_ui_screens): importing them imports FastAPI, Jinja2
    "UiVisit": "hub.ui.plugin_screens",
    "ui_audit": "hub.ui.plugin_screens",
    "ui_page": "hub.ui.plugin_screens",
    "ui_posted": "hub.ui.plugin_screens",
    "ui_redirect": "hub.ui.plugin_screens",
    "ui_signed_in": "hub.ui.plugin_screens",
    # what a key provider raises for a key it cannot give (hub_register_key_providers): imports cryptography
    "KeyRingError": "hub.crypto.keyring",
}

if TYPE_CHECKING:
    from hub.crypto.keyring import KeyRingError
    from hub.plugin_api.callers import Authenticated, Caller, OperatorCaller, PartnerCaller, SchedulerCaller
    from hub.safe_xml import declared_dtd_marker, hardened_parser
    from hub.ui.plugin_screens import UiVisit, ui_audit, ui_page, ui_posted, ui_redirect, ui_signed_in


def __getattr__(name: str) -> Any:
    """Load the names of ``_LAZY`` on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hub' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "Adapter",
    "Agreement",
    "Authenticated",
    "Caller",
    "CodeField",
    "CommandContext",
    "ConfigCheck",
    "ConfigCheckContext",
    "ConfigError",
    "ConfigProblem",
    "Conflict",
    "DeliveryOutcome",
    "DemoPartner",
    "DemoScene",
    "DemoStage",
    "DestinationResolver",
    "GaugeSpec",
    "HubData",
    "HubError",
    "HubEvent",
    "InvalidMessage",
    "KeyProviderSpec",
    "KeyRingError",
    "Listener",
    "ListenerContext",
    "MessageType",
    "MilestoneScheduler",
    "MilestoneState",
    "NotFound",
    "OperatorCaller",
    "Parsed",
    "Partner",
    "PartnerCaller",
    "PartnerKind",
    "PartnerReply",
    "PayloadTooLarge",
    "Problem",
    "Receive",
    "Refusal",
    "RenderError",
    "Rendered",
    "ReplyReading",
    "ReplyTime",
    "ResolveContext",
    "RouteSetup",
    "RouteSpec",
    "SchedulerCaller",
    "SchedulerSpec",
    "SchedulerUnavailable",
    "SchemaSpec",
    "StatusReply",
    "Transform",
    "TransformContext",
    "Transport",
    "UiScreen",
    "UiVisit",
    "UnparseableInput",
    "Unresolved",
    "declared_dtd_marker",
    "derive_message",
    "did_you_mean",
    "hardened_parser",
    "hookimpl",
    "housing_authority_problem",
    "nhs_number_problem",
    "normalise_nhs_number",
    "parse_json_strict",
    "read_each",
    "ui_audit",
    "ui_page",
    "ui_posted",
    "ui_redirect",
    "ui_signed_in",
    "use_wal",
]
