"""The outbound pipeline: what a partner receives, and the transports that carry it.

``render_outbound`` is the one way a stored message becomes what a partner receives, whether the delivery
worker pushes it or the partner pulls it from its inbox: minimise it to the partner's agreement, render it
with the partner's adapter, seal it when the partner has envelope keys. ``OutboundTransports`` starts each
transport on first use and closes the started ones at shutdown (the lifecycle owns one).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

import orjson

from hub.minimise import minimise
from hub.plugin_api.records import Adapter, Rendered, RenderError, Transport

if TYPE_CHECKING:
    from hub.plugin_api.partner import Partner
    from hub.sealing import EnvelopeGate
    from hub.store.records import DeliveryJob

log = logging.getLogger("hub.outbound")


def render_outbound(job: DeliveryJob, partner: Partner, adapter: Adapter, gate: EnvelopeGate | None) -> Rendered:
    """Minimise ``job``'s stored message to ``partner``'s agreement, render it with ``adapter``, seal it.

    ``gate`` seals for a partner with envelope keys (None: never sealed). Raises ``RenderError`` when the
    message cannot be put in the partner's format: the adapter's own, or one naming the adapter and the
    exception's type (never a value; the traceback goes to the hub's log). No retry can help either way.
    """
    try:
        rendered = adapter.render(minimise(orjson.loads(job.body), partner.agreement), partner=partner)
        if gate is not None and partner.seals:  # the envelope carries the bytes; what the render changed stays known
            rendered = replace(gate.seal_outbound(rendered, partner, job.message_id, job.type), notes=rendered.notes)
    except RenderError:
        raise
    except Exception as exc:  # a bug in an adapter must not leak the message's values into an error text
        log.exception("adapter %s could not render delivery %s", adapter.name, job.delivery_id)
        raise RenderError(f"the {adapter.name} adapter could not render it ({type(exc).__name__})") from None
    return rendered


class OutboundTransports:
    """Transports started on first use with the hub's delivery settings, and closed together at shutdown."""

    def __init__(self, timeout_seconds: float, max_connections: int) -> None:
        self.timeout_seconds = timeout_seconds
        self.max_connections = max_connections
        self._started: dict[str, Transport] = {}

    async def ready(self, transport: Transport) -> Transport:
        """Return ``transport``, started (once) for attempts of the configured timeout and concurrency."""
        if transport.name not in self._started:
            await transport.start(timeout_seconds=self.timeout_seconds, max_connections=self.max_connections)
            self._started[transport.name] = transport
        return transport

    async def close(self) -> None:
        """Close every started transport; one failing to close is logged and the others still close."""
        started, self._started = self._started, {}
        for name, transport in started.items():
            try:
                await transport.close()
            except Exception:
                log.exception("transport %s failed to close", name)


__all__ = ["OutboundTransports", "render_outbound"]
