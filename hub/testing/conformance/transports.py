"""``TransportConformance``: what every transport must do against a partner end, without a hub process (receipts,
one idempotency key per message, passing failures retryable and refusals final, never raising, synchronous replies);
``HttpEnd``, the default end, and ``Delivered``, what an end received."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from hub.plugin_api.partner import Partner, Receive
from hub.plugin_api.records import DeliveryOutcome, Rendered, Transport
from hub.testing.conformance.inputs import MARKER, loaded_plugins


@dataclass
class Delivered:
    """One delivery a partner end received: its idempotency key (the transport's own), body and media type."""

    key: str | None
    body: bytes
    content_type: str


class HttpEnd:
    """A partner end over HTTP: a ``PartnerSimulator`` (real loopback server) the transport delivers to.

    A transport that delivers some other way gives ``TransportConformance`` an end of its own with the same
    methods (``partner``, ``fail_next``, ``go_down``, ``received``, ``answer_with``, ``stop``).
    """

    gives_receipts = True
    answers_with_replies = True

    def __init__(self) -> None:
        from hub.testing.simulator import PartnerSimulator

        self.sim = PartnerSimulator("conformance-partner").start()
        self._stopped = False

    def partner(self, adapter: str | None = None, transport: str = "http", reply: Any = None,
                **options: Any) -> Partner:  # fmt: skip
        """The partner view a transport delivers to this end with."""
        receive = Receive(mode="push", transport=transport, url=f"{self.sim.url}/inbound", options=options,
                          reply=reply)  # fmt: skip
        return Partner(id="conformance-partner", name="Conformance partner", kind="conformance", adapter=adapter,
                       receive=receive, tls_only=True)  # fmt: skip

    def fail_next(self, status: int) -> None:
        """Answer the next delivery with ``status``."""
        self.sim.fail_next(1, status)

    def go_down(self) -> None:
        """Stop answering at all (the connection is refused)."""
        self.stop()

    def answer_with(self, body: dict[str, Any]) -> None:
        """Answer each delivery with this JSON body (a synchronous reply)."""
        self.sim.answer_with(body)

    def received(self) -> list[Delivered]:
        """What arrived, in order (failed attempts are not recorded)."""
        return [Delivered(r.headers.get("Idempotency-Key"), r.body, r.content_type) for r in self.sim.received]

    def receipt_of(self, item: Delivered) -> str | None:
        """The receipt this end gave for ``item``."""
        return item.key

    def stop(self) -> None:
        """Stop the end (once)."""
        if not self._stopped:
            self._stopped = True
            self.sim.stop()


class TransportConformance:
    """Tests every transport must pass; subclass it as ``TestSomething`` and set ``transport_name``.

    ``end`` (a fixture) is the partner end; the default is an ``HttpEnd``. ``partner_options`` are the
    ``receive.options`` the partner has. ``final_statuses`` and ``retryable_statuses`` are the partner
    answers (in the end's terms, HTTP statuses for ``HttpEnd``) that must be final and retryable.
    """

    transport_name: ClassVar[str] = ""
    _loop: asyncio.AbstractEventLoop
    partner_options: ClassVar[dict[str, Any]] = {}
    retryable_statuses: ClassVar[tuple[int, ...]] = (500, 502, 503, 408, 429)
    final_statuses: ClassVar[tuple[int, ...]] = (400, 403, 404, 422)

    @pytest.fixture
    def end(self) -> Iterator[Any]:
        """The partner end deliveries go to (override for a transport that is not HTTP)."""
        end = HttpEnd()
        yield end
        end.stop()

    @pytest.fixture
    def transport(self) -> Iterator[Transport]:
        """The transport as the hub loads it, started with a 2-second attempt timeout."""
        transports = loaded_plugins().transports
        if self.transport_name not in transports:
            pytest.fail(f"no loaded plugin registers a transport {self.transport_name!r} (loaded: "
                        f"{', '.join(sorted(transports))})")  # fmt: skip
        found: Transport = transports[self.transport_name]
        self._loop = asyncio.new_event_loop()  # one loop for the transport's whole life, as in the hub
        self._loop.run_until_complete(found.start(timeout_seconds=2.0, max_connections=4))
        yield found
        self._loop.run_until_complete(found.close())
        self._loop.close()

    def _deliver(self, transport: Transport, partner: Partner, message_id: str, body: bytes = b"") -> DeliveryOutcome:
        rendered = Rendered("application/json", body or json.dumps({"message_id": message_id, "note": MARKER}).encode())
        return self._loop.run_until_complete(transport.deliver(rendered, partner=partner, message_id=message_id,
                                                               delivery_id=f"d-{message_id}"))  # fmt: skip

    def _partner(self, end: Any, **extra: Any) -> Partner:
        partner: Partner = end.partner(transport=self.transport_name, **{**self.partner_options, **extra})
        return partner

    def test_a_delivery_is_ok_with_the_partners_receipt(self, transport: Transport, end: Any) -> None:
        outcome = self._deliver(transport, self._partner(end), "m-ok-1")
        assert outcome.ok, outcome.error
        (item,) = end.received()
        if end.gives_receipts:
            assert outcome.receipt == end.receipt_of(item)

    def test_the_same_message_twice_carries_the_same_idempotency_key(self, transport: Transport, end: Any) -> None:
        partner = self._partner(end)
        assert self._deliver(transport, partner, "m-twice").ok
        assert self._deliver(transport, partner, "m-twice").ok
        assert self._deliver(transport, partner, "m-other").ok
        first, second, other = end.received()
        assert first.key and first.key == second.key and other.key != first.key

    @pytest.mark.parametrize("kind", ["retryable", "final"])
    def test_passing_failures_are_retryable_and_refusals_final(self, transport: Transport, end: Any,
                                                              kind: str) -> None:  # fmt: skip
        statuses = self.retryable_statuses if kind == "retryable" else self.final_statuses
        partner = self._partner(end)
        for status in statuses:
            end.fail_next(status)
            outcome = self._deliver(transport, partner, f"m-{status}")
            assert not outcome.ok, f"answer {status} was taken as delivered"
            assert outcome.retryable is (kind == "retryable"), f"answer {status} should be {kind}"
            assert MARKER not in (outcome.error or ""), "the outcome's error carries what was sent"

    def test_an_unreachable_partner_is_retryable_and_never_raises(self, transport: Transport, end: Any) -> None:
        partner = self._partner(end)
        end.go_down()
        outcome = self._deliver(transport, partner, "m-down")
        assert not outcome.ok and outcome.retryable

    def test_a_synchronous_reply_is_returned(self, transport: Transport, end: Any) -> None:
        if not end.answers_with_replies:
            pytest.skip("this end gives no synchronous replies")
        from hub.replies import ReplyMapping
        from hub.sections import Section

        table = {"reference": "/ref", "decision": "/outcome", "accepted": ["yes"], "rejected": ["no"], "reason": "/why"}
        mapping = ReplyMapping.from_section(Section("partners.toml", "partner.receive.reply", table))
        end.answer_with({"ref": "R-1", "outcome": "no", "why": "full"})
        outcome = self._deliver(transport, self._partner(end, reply=mapping), "m-reply")
        assert outcome.ok and outcome.receipt == "R-1"
        reply = outcome.reply if isinstance(outcome.reply, dict) else vars(outcome.reply or object())
        assert reply.get("status") == "rejected" and reply.get("reason") == "full", outcome.reply
