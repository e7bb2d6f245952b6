"""Entry point of the NHS mesh plugin (group ``hub.adapters``, name ``nhs-mesh``).

Registers the ``mesh`` transport (send to a trust's MESH mailbox) and the ``mesh``
listener (poll the hub's own mailbox; started by ``[listeners.mesh]`` in hub.toml).
"""

from __future__ import annotations

from collections.abc import Callable

from hub import Listener, Transport, hookimpl
from hub_nhs.mesh.listener import MeshListener
from hub_nhs.mesh.transport import MeshTransport


@hookimpl
def hub_register_transports(register: Callable[[Transport], None]) -> None:
    """Register the ``mesh`` transport."""
    register(MeshTransport())


@hookimpl
def hub_register_listeners(register: Callable[[Listener], None]) -> None:
    """Register the ``mesh`` listener."""
    register(MeshListener())
