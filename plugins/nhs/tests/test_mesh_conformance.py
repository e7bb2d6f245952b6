"""The ``mesh`` transport passes the transport conformance suite (hub.testing.conformance), against real MESH.

The partner end is a mailbox of the real mesh-sandbox (started once for this module): what the transport sends
is read back from the recipient's inbox, the idempotency key is the ``Mex-LocalID`` MESH carries, and the
receipt is the MESH message id. The partner answers the suite asks for (a 503, a 400...) are given by a loopback
front to the sandbox (``MeshFront``), because MESH cannot be made to fail on demand. MESH answers a send with
its own message id only, never with a decision, so the suite's synchronous-reply check skips (``MeshEnd``
says ``answers_with_replies = False``). ``DeliveryConformance`` does not apply: it checks an adapter's
rendering through partners that are HTTP simulators, and the NHS adapters' runs are in test_nhs_conformance.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mesh_support import HUB_MAILBOX, TRUST_MAILBOX, MeshFront, MeshSandbox, mesh_sandbox, mesh_sandbox_server

from hub.plugin_api.partner import Partner, Receive
from hub.testing.conformance import Delivered, TransportConformance

__all__ = ["mesh_sandbox", "mesh_sandbox_server"]

WORKFLOW = "TOC_FHIR_MH_DISCH"


class MeshDelivered(Delivered):
    """A message in the partner's inbox, with the id MESH gave it."""

    def __init__(self, key: str | None, body: bytes, content_type: str, mesh_id: str) -> None:
        super().__init__(key, body, content_type)
        self.mesh_id = mesh_id


class MeshEnd:
    """A partner's MESH mailbox in the sandbox, reached through a ``MeshFront`` (the suite's end interface)."""

    gives_receipts = True
    answers_with_replies = False

    def __init__(self, sandbox: MeshSandbox) -> None:
        self.sandbox = sandbox
        self.front = MeshFront(sandbox.url)

    def partner(self, adapter: str | None = None, transport: str = "mesh", reply: Any = None,
                **options: Any) -> Partner:  # fmt: skip
        """A trust receiving by MESH in ``TRUST_MAILBOX``; the hub signs in as ``HUB_MAILBOX``."""
        options = {"mailbox": TRUST_MAILBOX, "workflow_id": WORKFLOW, "from_mailbox": HUB_MAILBOX, **options}
        receive = Receive(mode="push", transport=transport, url=self.front.url, options=options, reply=reply)
        return Partner(id="conformance-trust", name="Conformance trust", kind="nhs_trust", adapter=adapter,
                       receive=receive, tls_only=True)  # fmt: skip

    def fail_next(self, status: int) -> None:
        """MESH answers the next send with ``status``."""
        self.front.fail_next_send(status)

    def go_down(self) -> None:
        """The MESH endpoint refuses connections."""
        self.front.stop()

    def received(self) -> list[Delivered]:
        """The messages waiting in the partner's inbox, oldest first (left there, unacknowledged)."""
        found: list[Delivered] = []
        with self.sandbox.client(TRUST_MAILBOX) as client:
            for mesh_id in client.list_messages():
                with client.retrieve_message(mesh_id) as message:
                    body = message.read()
                    found.append(MeshDelivered(message.local_id, body, message.content_type, mesh_id))
                    message.close()
        return found

    def receipt_of(self, item: Delivered) -> str | None:
        """The receipt is the MESH message id."""
        return item.mesh_id if isinstance(item, MeshDelivered) else None

    def stop(self) -> None:
        """Stop the front."""
        self.front.stop()


class TestMeshTransportConformance(TransportConformance):
    transport_name = "mesh"
    retryable_statuses = (500, 502, 503, 504, 408, 429)
    final_statuses = (400, 403, 404, 417, 422)

    @pytest.fixture
    def end(self, mesh_sandbox: MeshSandbox) -> Iterator[MeshEnd]:
        end = MeshEnd(mesh_sandbox)
        yield end
        end.stop()
