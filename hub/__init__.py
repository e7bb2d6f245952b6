"""The partner hub: routes discharge, housing, referral and employment messages between agencies.

This module is the public face for plugin authors. Import from here only::

    from hub import hookimpl, Rendered, DeliveryOutcome, Transform, Refusal
"""

from __future__ import annotations

import pluggy

from hub.canonical import derive_message
from hub.events import HubEvent
from hub.partners import Partner
from hub.problems import InvalidMessage, PayloadTooLarge, Problem, UnparseableInput, read_each
from hub.records import (
    Adapter,
    CodeField,
    DeliveryOutcome,
    DestinationResolver,
    GaugeSpec,
    KeyProviderSpec,
    Listener,
    ListenerContext,
    MessageType,
    Parsed,
    PartnerKind,
    PartnerReply,
    Refusal,
    Rendered,
    RenderError,
    ResolveContext,
    RouteSetup,
    RouteSpec,
    SchemaSpec,
    Transform,
    TransformContext,
    Transport,
    Unresolved,
)
from hub.strict_json import parse_json_strict

hookimpl = pluggy.HookimplMarker("hub")
"""Marker for hook implementations: ``@hookimpl def hub_register_adapters(register): ...``."""

__all__ = [
    "Adapter",
    "CodeField",
    "DeliveryOutcome",
    "DestinationResolver",
    "GaugeSpec",
    "HubEvent",
    "InvalidMessage",
    "KeyProviderSpec",
    "Listener",
    "ListenerContext",
    "MessageType",
    "Parsed",
    "Partner",
    "PartnerKind",
    "PartnerReply",
    "PayloadTooLarge",
    "Problem",
    "Refusal",
    "RenderError",
    "Rendered",
    "ResolveContext",
    "RouteSetup",
    "RouteSpec",
    "SchemaSpec",
    "Transform",
    "TransformContext",
    "Transport",
    "UnparseableInput",
    "Unresolved",
    "derive_message",
    "hookimpl",
    "parse_json_strict",
    "read_each",
]
