"""The conformance suite fails the adapters and transports it should: each of its checks can fail."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from hub import DeliveryOutcome, InvalidMessage, Problem, Rendered, UnparseableInput
from hub.testing.conformance import MARKER, AdapterConformance, HttpEnd, TransportConformance, garbage_bodies
from hub.testing.messages import example


class GoodAdapter:
    name = "good"
    content_types = ("application/json",)

    def parse(self, body: bytes, *, content_type: str, sender_id: str) -> list[dict[str, Any]]:
        try:
            message = json.loads(body)
        except (ValueError, RecursionError):
            raise UnparseableInput("not JSON") from None
        if not isinstance(message, dict) or not isinstance(message.get("payload"), dict):
            raise InvalidMessage("not a message", [Problem("$.payload", "required")])
        if any(isinstance(v, str) and MARKER in v for v in message["payload"].values()):
            raise InvalidMessage("bad values", [Problem("$.payload", "a value is not allowed here")])
        return [message]

    def render(self, message: dict[str, Any], *, partner: Any) -> Rendered:
        return Rendered("application/json", json.dumps(message).encode())


class Crashes(GoodAdapter):
    def parse(self, body: bytes, *, content_type: str, sender_id: str) -> list[dict[str, Any]]:
        return [json.loads(body)["payload"]]  # KeyError, TypeError, JSONDecodeError on garbage


class Echoes(GoodAdapter):
    def parse(self, body: bytes, *, content_type: str, sender_id: str) -> list[dict[str, Any]]:
        try:
            return super().parse(body, content_type=content_type, sender_id=sender_id)
        except InvalidMessage:
            raise InvalidMessage(f"cannot read {body[:200]!r}") from None


class Lossy(GoodAdapter):
    def parse(self, body: bytes, *, content_type: str, sender_id: str) -> list[dict[str, Any]]:
        (message,) = super().parse(body, content_type=content_type, sender_id=sender_id)
        message["payload"].pop("reason", None)
        return [message]


class TakesAnything(GoodAdapter):
    """Parses any bytes into a message and never refuses one: nothing it says could echo a value."""

    def parse(self, body: bytes, *, content_type: str, sender_id: str) -> list[dict[str, Any]]:
        return [{"payload": {"text": body.decode("utf-8", "replace")}}]


def suite(adapter: Any) -> AdapterConformance:
    class Suite(AdapterConformance):
        adapter_name = "good"

        def render_samples(self) -> list[dict[str, Any]]:
            return [example("referral")]

        def parse_samples(self) -> list[tuple[bytes, str]]:
            return [(json.dumps(example("referral")).encode(), "application/json")]

    return Suite()


def test_a_good_adapter_passes_every_check() -> None:
    checks = suite(GoodAdapter())
    adapter = GoodAdapter()
    checks.test_it_renders_every_sample_as_bytes_with_a_media_type(adapter)
    checks.test_it_parses_every_sample(adapter)
    checks.test_what_it_renders_it_parses_back(adapter)
    checks.test_garbage_is_refused_with_the_hubs_error_and_never_a_crash(adapter)
    checks.test_no_submitted_value_is_echoed_in_an_error(adapter)


def test_an_adapter_that_crashes_on_garbage_fails() -> None:
    with pytest.raises(AssertionError, match="must raise UnparseableInput or InvalidMessage"):
        suite(Crashes()).test_garbage_is_refused_with_the_hubs_error_and_never_a_crash(Crashes())


def test_an_adapter_that_echoes_what_it_was_sent_fails() -> None:
    with pytest.raises(AssertionError, match="never values"):
        suite(Echoes()).test_no_submitted_value_is_echoed_in_an_error(Echoes())


def test_the_echo_check_fails_when_no_marked_input_is_refused_at_all() -> None:
    with pytest.raises(AssertionError, match="no marked input was refused"):
        suite(TakesAnything()).test_no_submitted_value_is_echoed_in_an_error(TakesAnything())


def test_an_adapter_that_loses_a_field_fails_the_round_trip() -> None:
    with pytest.raises(AssertionError, match="payload changed in the round trip"):
        suite(Lossy()).test_what_it_renders_it_parses_back(Lossy())


def test_the_garbage_includes_damaged_copies_of_the_samples() -> None:
    labels = [label for label, _ in garbage_bodies([b'{"a": 1}'])]
    assert "sample 0 cut at 50%" in labels and "json nested 10000 deep" in labels and "empty" in labels


class CarelessTransport:
    """Takes 4xx as retryable, sends a fresh idempotency key each time and puts the body in its errors."""

    name = "careless"

    async def start(self, *, timeout_seconds: float, max_connections: int) -> None:
        self.session = aiohttp.ClientSession()

    async def close(self) -> None:
        await self.session.close()

    async def deliver(self, rendered: Rendered, *, partner: Any, message_id: str, delivery_id: str) -> DeliveryOutcome:
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        async with self.session.post(partner.receive.url, data=rendered.body, headers=headers) as response:
            if response.status < 300:
                return DeliveryOutcome(True, receipt=response.headers.get("X-Receipt-Id"))
            return DeliveryOutcome(False, True, f"failed sending {rendered.body!r}")


class CarelessSuite(TransportConformance):
    transport_name = "careless"


@pytest.fixture
def careless() -> Iterator[tuple[CarelessSuite, CarelessTransport, HttpEnd]]:
    checks, transport, end = CarelessSuite(), CarelessTransport(), HttpEnd()
    checks._loop = asyncio.new_event_loop()
    checks._loop.run_until_complete(transport.start(timeout_seconds=2, max_connections=2))
    yield checks, transport, end
    checks._loop.run_until_complete(transport.close())
    checks._loop.close()
    end.stop()


def test_a_transport_with_a_new_idempotency_key_each_time_fails(careless: Any) -> None:
    checks, transport, end = careless
    with pytest.raises(AssertionError):
        checks.test_the_same_message_twice_carries_the_same_idempotency_key(transport, end)


def test_a_transport_retrying_refusals_and_echoing_the_body_fails(careless: Any) -> None:
    checks, transport, end = careless
    with pytest.raises(AssertionError, match="answer 400 should be final"):
        checks.test_passing_failures_are_retryable_and_refusals_final(transport, end, "final")


def test_a_transport_that_raises_when_the_partner_is_down_fails(careless: Any) -> None:
    checks, transport, end = careless
    with pytest.raises(aiohttp.ClientError):
        checks.test_an_unreachable_partner_is_retryable_and_never_raises(transport, end)
