"""The ``transport`` kind: a delivery transport's plugin module, tests and README section."""

from __future__ import annotations

from hub.cli.scaffold_kinds.kind import Kind

TRANSPORT = Kind(
    name="transport",
    hook="hub_register_transports",
    summary="a delivery transport: moves rendered messages to partners",
    plugin='''"""The ``{name}`` transport: delivers each rendered message to a partner by HTTP POST.

Replace the sending here with the partner's way. The contract (``hub.Transport``): ``start`` once (open pools),
``close`` once; ``deliver`` never raises for the partner's failure but returns a ``DeliveryOutcome``: ``ok``
when the partner took the message (with its ``receipt``, and a ``reply`` when its answer carries a decision),
else ``retryable`` for what may pass (5xx, 408, 429, no answer) and not for a refusal (other 4xx). The same
message sent again (a retry) carries the same ``Idempotency-Key`` (the message id), so the partner can tell.
``error`` is for operators: hosts and statuses, never the message.

Options (``receive.options``): ``api_key_env``, the environment variable holding a key sent as ``X-Api-Key``.
"""

from __future__ import annotations

import os
from typing import Any

import aiohttp

from hub import DeliveryOutcome, Partner, Rendered, hookimpl

RETRYABLE = (408, 425, 429)


class {cls}Transport:
    """POSTs to the partner's ``receive.url`` (see the module docstring)."""

    name = "{name}"

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._timeout = 10.0

    async def start(self, *, timeout_seconds: float, max_connections: int) -> None:
        """Open one connection pool for every delivery."""
        self._timeout = timeout_seconds
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_seconds),
                                              connector=aiohttp.TCPConnector(limit=max_connections))

    async def close(self) -> None:
        """Close the pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver(self, rendered: Rendered, *, partner: Partner, message_id: str,
                      delivery_id: str) -> DeliveryOutcome:
        """POST ``rendered`` to the partner; say what happened."""
        if self._session is None:
            return DeliveryOutcome(False, True, "the {name} transport was not started", failure="hub")
        headers = {{**rendered.headers, "Content-Type": rendered.content_type, "Idempotency-Key": message_id}}
        key_env = partner.receive.options.get("api_key_env")
        if key_env:
            if not os.environ.get(key_env):
                return DeliveryOutcome(False, True, f"environment variable {{key_env}} is unset", failure="hub")
            headers["X-Api-Key"] = os.environ[key_env]
        try:
            async with self._session.post(partner.receive.url or "", data=rendered.body, headers=headers) as answer:
                body = await answer.read()
                status = answer.status
                receipt = answer.headers.get("X-Receipt-Id")
        except TimeoutError:
            return DeliveryOutcome(False, True, f"no answer from {{partner.id}} within {{self._timeout:g}} s")
        except aiohttp.ClientError as exc:
            return DeliveryOutcome(False, True, f"could not reach {{partner.id}}: {{type(exc).__name__}}")
        if 200 <= status < 300:
            if partner.receive.reply is None:
                return DeliveryOutcome(True, receipt=receipt)
            reading = partner.receive.reply.read(body)
            return DeliveryOutcome(True, receipt=reading.receipt or receipt, reply=reading.reply,
                                   warnings=list(reading.warnings))
        return DeliveryOutcome(False, status >= 500 or status in RETRYABLE, f"{{partner.id}} answered {{status}}")


@hookimpl
def hub_register_transports(register: Any) -> None:
    """Register the ``{name}`` transport (partners name it with ``receive.transport = "{name}"``)."""
    register({cls}Transport())
''',
    tests='''"""The ``{name}`` transport passes the hub's conformance suite, and a running hub delivers with it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from samples import KIND, RECEIVER, SENDER, TYPE, example_message

from hub.testing import HubWorld, Partner, PartnerSimulator, wait_until
from hub.testing.conformance import TransportConformance


class TestTransport(TransportConformance):
    transport_name = "{name}"


def test_a_running_hub_delivers_with_it(hub_world_factory: Callable[..., HubWorld],
                                        partner_simulator: Callable[..., PartnerSimulator]) -> None:
    sim = partner_simulator(RECEIVER)
    receive: dict[str, Any] = {{"mode": "push", "transport": "{name}", "url": f"{{sim.url}}/inbound"}}
    world = hub_world_factory([Partner(SENDER, KIND), Partner(RECEIVER, KIND, receive=receive)],
                              routes=[{{"name": "example", "type": TYPE, "to": "recipient"}}])
    message = example_message()
    assert world.send(SENDER, message).status_code == 202
    assert wait_until(lambda: sim.messages(TYPE), timeout=20)
    assert sim.received[0].headers["Idempotency-Key"] == message["message_id"]
''',
    configure="""A partner reached by it names it in `partners.toml`:

```toml
[[partner]]
id = "my-partner"
kind = "my-kind"                          # a partner kind a loaded plugin registers
receive = {{ mode = "push", transport = "{name}", url = "https://partner.example/inbound" }}
```""",
)
