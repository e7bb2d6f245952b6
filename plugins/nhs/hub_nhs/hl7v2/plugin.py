"""Entry point of the NHS hl7v2 plugin (group ``hub.adapters``, name ``nhs-hl7v2``).

Registers the ``hl7v2`` adapter (``application/hl7-v2``: ADT^A03 in, DischargeNotice
as ADT^A03 out) and the ``mllp`` listener.
"""

from __future__ import annotations

from collections.abc import Callable

from hub import Adapter, Listener, hookimpl
from hub_nhs.hl7v2.adapter import Hl7v2Adapter
from hub_nhs.hl7v2.mllp import MllpListener


@hookimpl
def hub_register_adapters(register: Callable[[Adapter], None]) -> None:
    """Register the ``hl7v2`` adapter."""
    register(Hl7v2Adapter())


@hookimpl
def hub_register_listeners(register: Callable[[Listener], None]) -> None:
    """Register the ``mllp`` listener (started when hub.toml has ``[listeners.mllp]``)."""
    register(MllpListener())
