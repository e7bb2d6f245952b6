"""The ``mesh`` transport: sends a rendered message to a partner's MESH mailbox.

A partner receives by MESH with, in partners.toml::

    receive = { mode = "push", transport = "mesh", url = "https://msg.intspineservices.nhs.uk",
                options = { mailbox = "X26ABC2", workflow_id = "TOC_FHIR_MH_DISCH" } }

``options.mailbox`` defaults to the partner's ``mesh_mailbox`` code. The hub signs
in as its own mailbox: ``options.from_mailbox`` or ``HUB_MESH_MAILBOX``, with the
password and shared key from ``HUB_MESH_PASSWORD`` / ``HUB_MESH_SHARED_KEY`` (or
the variables ``password_env`` / ``shared_key_env`` name); ``url`` falls back to
``HUB_MESH_URL``.

Contract: ``deliver`` sends one message (chunked above ``max_chunk_bytes``) with
the workflow ID, ``Mex-LocalID`` = the hub's message id (so the trust can
de-duplicate a resend) and the rendered content type, and returns ``ok`` with
the MESH message id as receipt. A refusal by MESH (4xx: unknown mailbox,
workflow not allowed) is not retryable; a 5xx, a 408, 425 or 429, a timeout or a
refused connection is (whether mesh_client reports it as an HTTP error, a
``MeshError`` or by giving up its own retry), and ``deliver`` never raises for
what MESH answers. It handshakes with each mailbox before its first send and then daily.
``track`` asks MESH what became of a sent message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Any

import requests
from mesh_client import MeshError
from urllib3.exceptions import ResponseError

from hub import DeliveryOutcome, Partner, Rendered
from hub_nhs.mesh.connection import MeshConfigError, MeshConnection

log = logging.getLogger("hub_nhs.mesh")

HANDSHAKE_INTERVAL_SECONDS = 24 * 3600
PASSING_STATUSES = frozenset({408, 425, 429})


def passing(status: int) -> bool:
    """Whether MESH answering ``status`` is a passing failure (retry later) rather than a refusal."""
    return status >= 500 or status in PASSING_STATUSES


class MeshTransport:
    """Delivers to MESH mailboxes (one instance for all partners)."""

    name = "mesh"

    def __init__(self) -> None:
        self._handshakes: dict[tuple[str, str], float] = {}
        self._slots: asyncio.Semaphore | None = None
        self.timeout_seconds = 60.0

    async def start(self, *, timeout_seconds: float, max_connections: int) -> None:
        """Remember the per-attempt timeout; bound the sends in flight."""
        self.timeout_seconds = max(timeout_seconds, 5.0)
        self._slots = asyncio.Semaphore(max(1, min(max_connections, 16)))

    async def close(self) -> None:
        """Nothing is kept open between sends."""

    async def deliver(
        self, rendered: Rendered, *, partner: Partner, message_id: str, delivery_id: str
    ) -> DeliveryOutcome:
        """Send ``rendered`` to ``partner``'s mailbox; report what MESH said."""
        try:
            connection, recipient, workflow = self._route(partner)
        except MeshConfigError as error:
            return DeliveryOutcome(False, False, str(error), failure="hub")  # the hub's settings, not the partner
        slots = self._slots or asyncio.Semaphore(1)
        answered: list[int] = []  # the HTTP status of each answer MESH gave this attempt
        async with slots:
            try:
                mesh_id = await asyncio.to_thread(self._send, connection, recipient, workflow, rendered, message_id,
                                                  answered)  # fmt: skip
            except requests.HTTPError as error:
                status = error.response.status_code if error.response is not None else 0
                return DeliveryOutcome(False, status == 0 or passing(status), f"MESH answered HTTP {status}")
            except ResponseError as error:  # mesh_client does not retry a first chunk; it gives up on a 425/429/5xx
                return DeliveryOutcome(False, True, f"MESH could not take the message now ({error})")
            except MeshError as error:
                if answered and passing(answered[-1]):
                    return DeliveryOutcome(False, True, f"MESH answered HTTP {answered[-1]}")
                return DeliveryOutcome(False, False, f"MESH refused the message: {str(error)[:200]}")
            except (requests.RequestException, OSError) as error:
                if answered and not passing(answered[-1]) and not 200 <= answered[-1] < 300:
                    # an answer that is not MESH's own (a gateway's page, say), but a refusal all the same
                    return DeliveryOutcome(False, False, f"MESH answered HTTP {answered[-1]}")
                return DeliveryOutcome(False, True, f"MESH could not be reached: {type(error).__name__}")
        log.info("delivery %s sent by MESH as %s (workflow %s)", delivery_id, mesh_id, workflow)
        return DeliveryOutcome(True, receipt=mesh_id)

    def _route(self, partner: Partner) -> tuple[MeshConnection, str, str]:
        options = partner.receive.options
        where = f"partners.toml partner {partner.id!r} receive.options"
        connection = MeshConnection.from_options(options, where=where, url=partner.receive.url,
                                                 mailbox_key="from_mailbox")  # fmt: skip
        # never wait longer than the hub's per-attempt timeout: past the lease, a send would be made twice
        connection = replace(connection, timeout_seconds=min(connection.timeout_seconds, self.timeout_seconds))
        recipient = options.get("mailbox") or partner.codes.get("mesh_mailbox")
        workflow = options.get("workflow_id")
        if not recipient or not workflow:
            raise MeshConfigError(f"{where}: MESH needs mailbox (or the partner's mesh_mailbox) and workflow_id")
        return connection, str(recipient).upper(), str(workflow)

    def _send(self, connection: MeshConnection, recipient: str, workflow: str, rendered: Rendered,
              message_id: str, answered: list[int]) -> str:  # fmt: skip
        with connection.open(answered) as client:
            key = (connection.url, connection.mailbox)
            if time.monotonic() - self._handshakes.get(key, -HANDSHAKE_INTERVAL_SECONDS) >= HANDSHAKE_INTERVAL_SECONDS:
                client.handshake()
                self._handshakes[key] = time.monotonic()
            return str(client.send_message(recipient, rendered.body, workflow_id=workflow, local_id=message_id,
                                           content_type=rendered.content_type, subject=workflow))  # fmt: skip

    async def track(self, partner: Partner, mesh_message_id: str) -> dict[str, Any]:
        """MESH's tracking record of a message sent to ``partner`` (status, timestamps)."""
        connection, _, _ = self._route(partner)

        def lookup() -> dict[str, Any]:
            with connection.open() as client:
                return dict(client.track_message(mesh_message_id))

        return await asyncio.to_thread(lookup)
