"""What a claim writes about deliveries besides leasing them reaches the observer plugins through the worker."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from hub import DeliveryOutcome, HubEvent, hookimpl
from hub.config import load_config
from hub.plugins import load_plugins
from hub.runtime import build_hub
from hub.store.records import OVERTAKING_WARNING
from hub.testing import write_config
from hub.testing.messages import housing_request

PARTNERS = [
    {"id": "trust-a", "kind": "nhs_trust", "ods_code": "RWK", "receive": {"mode": "pull"}},
    {"id": "council-luton", "kind": "council", "gss_code": "E06000032",
     "receive": {"mode": "push", "transport": "verdict"}},
]  # fmt: skip
ROUTE = {"name": "housing-request", "type": "HousingRequest", "order": "correlation",
         "to": {"code": "gss_code", "field": "payload.target_authority_gss"}}  # fmt: skip
FAST = {"delivery": {"poll_interval_seconds": 0.05}}


class Verdict:
    """A partner's system that refuses the first message it is sent for good and takes the others."""

    name = "verdict"

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def start(self, *, timeout_seconds: float, max_connections: int) -> None:
        pass

    async def close(self) -> None:
        pass

    async def deliver(self, rendered: Any, *, partner: str, message_id: str, delivery_id: str) -> DeliveryOutcome:
        self.seen.append(message_id)
        if len(self.seen) == 1:
            return DeliveryOutcome(False, retryable=False, error="HTTP 400: refused")
        return DeliveryOutcome(True)


class Plugin:
    def __init__(self) -> None:
        self.transport = Verdict()
        self.events: list[HubEvent] = []

    @hookimpl
    def hub_register_transports(self, register: Any) -> None:
        register(self.transport)

    @hookimpl
    def hub_message_event(self, event: HubEvent) -> None:
        self.events.append(event)


def test_a_delivery_overtaking_a_dead_one_of_its_person_is_told_to_observers_with_its_warning(tmp_path: Path) -> None:
    plugin = Plugin()
    config_dir = write_config(tmp_path / "config", partners=PARTNERS, routes=[ROUTE], settings=FAST)
    hub = build_hub(load_config(config_dir), plugins=load_plugins(env={}, extra_plugins=[plugin]))
    try:
        first = hub.intake.submit_now({**housing_request(), "correlation_id": "episode-anne"}, sender_id="trust-a")
        second = hub.intake.submit_now({**housing_request(), "correlation_id": "episode-anne"}, sender_id="trust-a")

        async def deliver_both() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(hub.make_worker().run(stop))
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any(e.kind == "delivered" for e in plugin.events):
                await asyncio.sleep(0.05)
            stop.set()
            await task

        asyncio.run(deliver_both())
        kinds = [(e.kind, e.record_id) for e in plugin.events if e.kind in ("dead_lettered", "warning", "delivered")]
        assert kinds == [("dead_lettered", first.id), ("warning", second.id), ("delivered", second.id)]
        [warning] = [e for e in plugin.events if e.kind == "warning"]
        dead = next(e for e in plugin.events if e.kind == "dead_lettered")
        assert warning.detail == {"warning": OVERTAKING_WARNING, "overtook": [dead.delivery_id]}
    finally:
        hub.close()
