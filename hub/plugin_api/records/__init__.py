"""The small typed records that plugins register and the core passes around.

Plugins build these and hand them to the ``register`` callback of a ``hub_register_*`` hook. Names are validated
when registered. The records live in small modules by what they are for; this package is where everyone imports
them from (``from hub.plugin_api.records import Rendered``):

- ``naming``: the rule every registered name follows;
- ``exchange``: what adapters and transports exchange with the core;
- ``pipeline``: transforms and listeners;
- ``specs``: gauges, key providers, schedulers, schemas and plugin HTTP routes;
- ``message_types``: message types and their schemas;
- ``routing``: partner kinds, code fields, destination resolvers and vocabularies.
"""

from hub.plugin_api.records.exchange import (
    Adapter,
    DeliveryOutcome,
    Parsed,
    Refusal,
    Rendered,
    RenderError,
    Transport,
    as_parsed,
)
from hub.plugin_api.records.message_types import (
    FIELD_PATH_PATTERN,
    MESSAGE_TYPE_PATTERN,
    MessageType,
    load_json_resource,
)
from hub.plugin_api.records.naming import NAME_PATTERN, check_name
from hub.plugin_api.records.pipeline import Listener, ListenerContext, Transform, TransformContext
from hub.plugin_api.records.routing import (
    CodeField,
    DestinationResolver,
    PartnerKind,
    ResolveContext,
    RouteSetup,
    Unresolved,
    Vocabulary,
)
from hub.plugin_api.records.specs import (
    PLUGIN_ROUTES_PREFIX,
    GaugeSpec,
    KeyProviderSpec,
    MilestoneScheduler,
    RouteSpec,
    SchedulerSpec,
    SchemaSpec,
)

__all__ = [
    "FIELD_PATH_PATTERN",
    "MESSAGE_TYPE_PATTERN",
    "NAME_PATTERN",
    "PLUGIN_ROUTES_PREFIX",
    "Adapter",
    "CodeField",
    "DeliveryOutcome",
    "DestinationResolver",
    "GaugeSpec",
    "KeyProviderSpec",
    "Listener",
    "ListenerContext",
    "MessageType",
    "MilestoneScheduler",
    "Parsed",
    "PartnerKind",
    "Refusal",
    "RenderError",
    "Rendered",
    "ResolveContext",
    "RouteSetup",
    "RouteSpec",
    "SchedulerSpec",
    "SchemaSpec",
    "Transform",
    "TransformContext",
    "Transport",
    "Unresolved",
    "Vocabulary",
    "as_parsed",
    "check_name",
    "load_json_resource",
]
