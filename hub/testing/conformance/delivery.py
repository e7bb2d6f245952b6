"""``DeliveryConformance``: what a partner speaking an adapter must get through a running hub (sealed for a sealing
partner, the message id as idempotency key, receipts and synchronous replies recorded, 5xx retried, 4xx final)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from hub.plugin_api.records import Rendered
from hub.testing.conformance.inputs import conformance_partner, loaded_plugins


@dataclass
class ConformanceWorld:
    """The running hub of ``DeliveryConformance``: the world, the sender, and the partners under test."""

    world: Any
    sender: str
    partners: dict[str, str] = field(default_factory=dict)
    """``plain``, ``sealed`` and ``replying``: the ids of the partners speaking the adapter."""


REPLY_TABLE = {"reference": "/case/ref", "decision": "/case/outcome", "accepted": ["taken"],
               "rejected": ["declined"], "reason": "/case/note"}  # fmt: skip


class DeliveryConformance:
    """Tests a partner speaking an adapter must pass through a running hub (one hub per class).

    - ``adapter_name``: the adapter the partners speak (None: the hub's default);
    - ``partner_kind``: their kind (one a loaded plugin registers); ``partner_settings``: other
      ``partners.toml`` keys they need;
    - ``partner_transport``: the transport the hub pushes to them with (``http`` by default; a plugin's transport
      that speaks HTTP to the partner's simulator, such as a form POST);
    - ``sender``: the partner that sends (a ``hub.testing.Partner``; the standard first trust by default);
    - ``message(to)``: a canonical message from ``sender`` that the route ``to = "recipient"`` sends to
      partner ``to`` (its ``recipient.org_id`` is ``to``).
    """

    adapter_name: ClassVar[str | None] = None
    partner_kind: ClassVar[str] = ""
    partner_settings: ClassVar[dict[str, Any]] = {}
    partner_options: ClassVar[dict[str, Any]] = {}
    partner_transport: ClassVar[str] = "http"

    def sender(self) -> Any:
        """The sending partner."""
        from hub.testing.world import STANDARD_PARTNERS

        return STANDARD_PARTNERS[0]

    def message(self, to: str) -> dict[str, Any]:
        """A canonical message for partner ``to``."""
        raise NotImplementedError(f"{type(self).__name__}: return a canonical message addressed to {{to}}")

    @pytest.fixture(scope="class")
    @classmethod
    def conformance_world(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConformanceWorld]:
        """A hub with the sender and three partners speaking the adapter: plain, sealed, and one that replies."""
        from hub.testing.world import Partner as WorldPartner
        from hub.testing.world import build_world

        self = cls()
        sender = self.sender()
        message_type = self.message("x")["type"]

        def partner(pid: str, **kwargs: Any) -> WorldPartner:
            return WorldPartner(pid, self.partner_kind, adapter=self.adapter_name, options=self.partner_options,
                                settings=self.partner_settings, transport=self.partner_transport,
                                **kwargs)  # fmt: skip

        partners = [
            sender,
            partner("conf-plain"),
            partner("conf-sealed", sealed=True),
            partner("conf-replying", reply=REPLY_TABLE),
        ]
        world = build_world(tmp_path_factory.mktemp("conformance"), partners,
                            routes=[{"name": "conformance", "type": message_type, "to": "recipient"}])  # fmt: skip
        try:
            yield ConformanceWorld(world, sender.id, {"plain": "conf-plain", "sealed": "conf-sealed",
                                                      "replying": "conf-replying"})  # fmt: skip
        finally:
            world.stop()

    def _send(self, cw: ConformanceWorld, to: str) -> tuple[dict[str, Any], str]:
        message = self.message(to)
        response = cw.world.send(cw.sender, message)
        assert response.status_code == 202, response.text
        return message, str(response.json()["id"])

    def _settled(self, cw: ConformanceWorld, record: str, states: tuple[str, ...]) -> dict[str, Any]:
        from hub.testing.running_hub import wait_until

        def done() -> bool:
            deliveries = cw.world.view(record)["deliveries"]
            return bool(deliveries) and deliveries[0]["state"] in states

        assert wait_until(done, timeout=20), cw.world.view(record)
        view: dict[str, Any] = cw.world.view(record)
        return view

    def _rendered(self, message: dict[str, Any], to: str) -> Rendered:
        plugins = loaded_plugins()
        partner = conformance_partner(self.adapter_name, to, self.partner_kind, **self.partner_options)
        rendered: Rendered = plugins.adapter_for(self.adapter_name).render(message, partner=partner)
        return rendered

    def test_a_sealing_partner_gets_a_sealed_envelope_holding_what_the_adapter_renders(
        self, conformance_world: ConformanceWorld
    ) -> None:
        cw, to = conformance_world, conformance_world.partners["sealed"]
        message, record = self._send(cw, to)
        self._settled(cw, record, ("delivered", "acknowledged"))
        sim = cw.world.sims[to]
        item = next(r for r in sim.received if r.headers.get("Idempotency-Key") == message["message_id"])
        assert item.sealed and item.envelope and item.body, "the partner seals, so the delivery must be sealed"
        assert item.body not in item.envelope, "the envelope carries the rendered body in clear"
        expected = self._rendered(message, to)
        if expected.body == self._rendered(message, to).body:  # a render that is the same each time
            assert item.body == expected.body, "the envelope does not hold what the adapter renders"

    def test_the_message_id_is_the_idempotency_key_and_the_receipt_is_recorded(
        self, conformance_world: ConformanceWorld
    ) -> None:
        cw, to = conformance_world, conformance_world.partners["plain"]
        message, record = self._send(cw, to)
        view = self._settled(cw, record, ("delivered",))
        item = next(r for r in cw.world.sims[to].received if r.headers.get("Idempotency-Key") == message["message_id"])
        expected = self._rendered(message, to)
        assert item.content_type == expected.content_type.split(";")[0].strip()
        if expected.body == self._rendered(message, to).body:  # a render that is the same each time
            assert item.body == expected.body, "the partner did not receive what the adapter renders"
        assert view["deliveries"][0]["receipt"] == message["message_id"]  # the simulator's X-Receipt-Id

    def test_a_passing_failure_is_retried_and_then_delivered(self, conformance_world: ConformanceWorld) -> None:
        cw, to = conformance_world, conformance_world.partners["plain"]
        cw.world.sims[to].fail_next(1, 503)
        _, record = self._send(cw, to)
        view = self._settled(cw, record, ("delivered",))
        assert view["deliveries"][0]["attempts"] == 2
        assert [e["event"] for e in view["timeline"]].count("retry_scheduled") == 1

    def test_a_refusal_is_final_and_never_retried(self, conformance_world: ConformanceWorld) -> None:
        cw, to = conformance_world, conformance_world.partners["plain"]
        cw.world.sims[to].fail_next(1, 400)
        _, record = self._send(cw, to)
        view = self._settled(cw, record, ("dead",))
        assert view["deliveries"][0]["attempts"] == 1
        assert "retry_scheduled" not in [e["event"] for e in view["timeline"]]

    def test_a_synchronous_reply_is_recorded_with_its_reference(self, conformance_world: ConformanceWorld) -> None:
        cw, to = conformance_world, conformance_world.partners["replying"]
        cw.world.sims[to].answer_with({"case": {"ref": "CONF-7", "outcome": "declined", "note": "full"}})
        _, record = self._send(cw, to)
        view = self._settled(cw, record, ("rejected",))
        assert view["deliveries"][0]["receipt"] == "CONF-7"
