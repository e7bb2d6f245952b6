"""The hub's own default plugin: what the core itself needs, registered through the hooks like any plugin's.

The ``canonical-json`` adapter (the default adapter), the ``http`` push transport,
the ``file`` key ring, the ``Acknowledgement`` and ``PathwayNotice`` message types with the shared
``envelope`` and ``common`` schemas every canonical type builds on, and the route
destinations ``partner``, ``field``, ``code``, ``reply`` and ``recipient``, and the
``embedded`` milestone scheduler (the store holds due timers, the worker fires them).

Every implementation is ``trylast``, and a plugin registering the same name replaces
what is registered here; ``HUB_DISABLE_PLUGINS=hub.defaults`` leaves all of it out
(then some plugin must bring what the configuration uses). Nothing here knows any
partner, partner kind or partner format.
"""

from __future__ import annotations

from collections.abc import Callable

from hub.crypto.keyring import open_file_key_ring
from hub.defaults.canonical_json import CanonicalJsonAdapter
from hub.defaults.destinations import DESTINATIONS
from hub.defaults.embedded_scheduler import open_embedded_scheduler
from hub.defaults.http_push import HttpPushTransport
from hub.plugin_api.hookspecs import hookimpl
from hub.plugin_api.records import (
    Adapter,
    DestinationResolver,
    KeyProviderSpec,
    MessageType,
    SchedulerSpec,
    SchemaSpec,
    Transport,
    load_json_resource,
)

SUPPORT_SCHEMAS = ("envelope.schema.json", "common.schema.json")


@hookimpl(trylast=True)
def hub_register_adapters(register: Callable[[Adapter], None]) -> None:
    """Register ``canonical-json`` (the default adapter)."""
    register(CanonicalJsonAdapter())


@hookimpl(trylast=True)
def hub_register_key_providers(register: Callable[[KeyProviderSpec], None]) -> None:
    """Register ``file``: the passphrase-encrypted key ring in ``[keys] dir``."""
    register(KeyProviderSpec("file", open_file_key_ring))


@hookimpl(trylast=True)
def hub_register_transports(register: Callable[[Transport], None]) -> None:
    """Register ``http`` (push over HTTP(S) with pooled keep-alive connections)."""
    register(HttpPushTransport())


@hookimpl(trylast=True)
def hub_register_schemas(register: Callable[[SchemaSpec], None]) -> None:
    """Register the shared canonical schemas (the envelope every type extends, and common definitions)."""
    for filename in SUPPORT_SCHEMAS:
        schema = load_json_resource(__name__, f"schemas/{filename}")
        register(SchemaSpec(schema["$id"], schema))


@hookimpl(trylast=True)
def hub_register_message_types(register: Callable[[MessageType], None]) -> None:
    """Register ``Acknowledgement`` (the hub records partners' answers, and their synchronous replies, as one) and
    ``PathwayNotice`` (what the hub sends when a care-pathway milestone is near or past due)."""
    register(MessageType.from_package("Acknowledgement", __name__, "schemas/acknowledgement.schema.json"))
    register(MessageType.from_package("PathwayNotice", __name__, "schemas/pathway-notice.schema.json"))


@hookimpl(trylast=True)
def hub_register_destinations(register: Callable[[DestinationResolver], None]) -> None:
    """Register the route destinations ``partner``, ``field``, ``code``, ``reply`` and ``recipient``."""
    for resolver in DESTINATIONS:
        register(resolver)


@hookimpl(trylast=True)
def hub_register_schedulers(register: Callable[[SchedulerSpec], None]) -> None:
    """Register ``embedded``: the default milestone scheduler, the hub's own store and worker."""
    register(SchedulerSpec("embedded", open_embedded_scheduler))
