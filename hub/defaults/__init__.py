"""The hub's own default plugin: the canonical JSON adapter, the HTTP push transport, the file key ring.

Registered like any other plugin (through ``hookimpl``), before the entry-point
plugins, so a plugin that wants to replace one of these can be disabled in its
favour. Nothing here knows any partner.
"""

from __future__ import annotations

from collections.abc import Callable

from hub import hookimpl
from hub.crypto.keyring import open_file_key_ring
from hub.defaults.canonical_json import CanonicalJsonAdapter
from hub.defaults.http_push import HttpPushTransport
from hub.records import Adapter, KeyProviderSpec, Transport


@hookimpl
def hub_register_adapters(register: Callable[[Adapter], None]) -> None:
    """Register ``canonical-json``."""
    register(CanonicalJsonAdapter())


@hookimpl
def hub_register_key_providers(register: Callable[[KeyProviderSpec], None]) -> None:
    """Register ``file``: the passphrase-encrypted key ring in ``[keys] dir``."""
    register(KeyProviderSpec("file", open_file_key_ring))


@hookimpl
def hub_register_transports(register: Callable[[Transport], None]) -> None:
    """Register ``http`` (push over HTTP(S) with pooled keep-alive connections)."""
    register(HttpPushTransport())
