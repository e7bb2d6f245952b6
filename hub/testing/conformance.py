"""The conformance suite: what every adapter and every transport must do, as test classes a plugin inherits.

One line in a plugin's tests runs it (the class's tests are collected under the subclass's name)::

    from hub.testing.conformance import AdapterConformance, DeliveryConformance, TransportConformance

    class TestMyAdapter(AdapterConformance):
        adapter_name = "my-format"
        def render_samples(self): return [my_canonical_message()]
        def parse_samples(self): return [(MY_BODY, "application/x-my-format")]

- ``AdapterConformance`` (no hub process): what it renders it parses back (``round_trip_fields``); garbage
  (empty, truncated, bit-flipped, random, deeply nested bodies) is refused with the hub's error type
  (``HubError``: ``UnparseableInput`` or ``InvalidMessage``), never another exception; no submitted value is
  echoed in an error (every run of digits of a valid body is replaced by a marker, and every string of a
  rendered message, and the errors must not carry the marker).
- ``TransportConformance`` (no hub process): against a partner end (``HttpEnd`` by default, a
  ``PartnerSimulator``; a transport that speaks something else gives its own ``end`` fixture): a delivery is
  ok with the partner's receipt; the same message sent twice carries the same idempotency key; a partner's
  passing failures (5xx, 408, 429, down) are retryable and its refusals (other 4xx) final, and neither
  raises; no rendered content is echoed in the outcome's error.
- ``DeliveryConformance`` (a real hub, ``build_world``): a message routed to a partner speaking the adapter is
  delivered sealed to a sealing partner (and opens to what the adapter renders), with the message id as
  ``Idempotency-Key``; a 503 is retried and then delivered, a 400 is final (dead-lettered, never retried); the
  partner's receipt is recorded on the delivery, and a synchronous reply (a decision in the answer) is recorded
  as the delivery's state with its reference.

Each class reads only what the subclass sets or overrides; see each class's docstring.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from hub.plugin_api.partner import Partner, Receive
from hub.plugin_api.problems import HubError
from hub.plugin_api.records import Adapter, DeliveryOutcome, Parsed, Rendered, RenderError, Transport

MARKER = "ZQXMARKER"
"""What the suite plants in bodies and messages; an error that contains it echoed a submitted value."""


def _plugins() -> Any:
    from hub.plugins import load_plugins

    return load_plugins()


def _error_text(exc: BaseException) -> str:
    """Everything of an error a caller could see: its sentence, its problems, its extra fields."""
    parts = [str(exc)]
    if isinstance(exc, HubError):
        parts.append(exc.detail)
        parts.extend(f"{p.location} {p.message}" for p in exc.problems)
        parts.append(json.dumps(exc.extra, default=str))
    return "\n".join(parts)


def _around_marker(text: str) -> str:
    """The part of ``text`` around the first ``MARKER``, to show what echoed it."""
    at = text.find(MARKER)
    return text[max(0, at - 150) : at + 60]


def _get(message: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(message, dict) or part not in message:
            return None
        message = message[part]
    return message


def conformance_partner(adapter: str | None = None, partner_id: str = "conformance-partner", kind: str = "conformance",
                        **options: Any) -> Partner:  # fmt: skip
    """The read-only partner view the suite renders for: push over http, ``receive.options`` as given."""
    return Partner(id=partner_id, name=partner_id, kind=kind, adapter=adapter,
                   receive=Receive(mode="push", transport="http", url="http://127.0.0.1:9/inbound",
                                   options=dict(options)), tls_only=True)  # fmt: skip


def garbage_bodies(valid: Sequence[bytes]) -> list[tuple[str, bytes]]:
    """Bodies no adapter can take: the same for every adapter, plus damaged copies of its ``valid`` bodies."""
    rng = random.Random(14)
    found = [
        ("empty", b""),
        ("whitespace", b" \r\n\t "),
        ("nul bytes", b"\x00" * 64),
        ("not utf-8", b"\xff\xfe\xfd" * 20),
        ("random bytes", bytes(rng.randrange(256) for _ in range(512))),
        ("json nested 10000 deep", b"[" * 10_000 + b"]" * 10_000),
        ("xml nested 10000 deep", b"<a>" * 10_000 + b"</a>" * 10_000),
        ("xml entity", b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>'),
        ("json scalar", b"42"),
        ("json null", b"null"),
        ("json array of strings", b'["a", "b"]'),
        ("hl7 header only", b"MSH|^~\\&|"),
    ]
    for index, body in enumerate(valid):
        for fraction in (0.25, 0.5, 0.9):
            found.append((f"sample {index} cut at {fraction:.0%}", body[: int(len(body) * fraction)]))
        flipped = bytearray(body)
        for position in rng.sample(range(len(flipped)), k=min(8, len(flipped))):
            flipped[position] ^= 0x5A
        found.append((f"sample {index} with 8 bytes flipped", bytes(flipped)))
        found.append((f"sample {index} twice", body + body))
    return found


def marked_bodies(valid: Sequence[bytes]) -> list[tuple[str, bytes]]:
    """Each valid body with every run of 3 or more digits (dates, numbers, ids) replaced by ``MARKER``."""
    found = []
    for index, body in enumerate(valid):
        marked = re.sub(rb"[0-9]{3,}", MARKER.encode(), body)
        if marked != body:
            found.append((f"sample {index}, its numbers replaced by a marker", marked))
            found.append((f"sample {index} marked and cut", marked[: len(marked) * 2 // 3]))
    return found


def marked_message(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` with every string of its payload replaced by ``MARKER`` and a counter (ids kept)."""
    counter = iter(range(1_000_000))

    def mark(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        if isinstance(value, str):
            return f"{MARKER}{next(counter)}"
        return value

    marked = dict(message)
    marked["payload"] = mark(message.get("payload", {}))
    return marked


class AdapterConformance:
    """Tests every adapter must pass; subclass it as ``TestSomething`` and set what it needs.

    - ``adapter_name``: the registered name of the adapter under test (it is loaded as the hub loads it,
      through the installed entry points);
    - ``render_samples()``: canonical messages it renders (at least one);
    - ``parse_samples()``: bodies in its format with their media type, each one it parses (needed when
      ``content_types`` is not empty);
    - ``round_trip_types``: the message types it both renders and parses (None: every type of
      ``render_samples``; an empty tuple: it parses none of what it renders, and the round trip is skipped
      saying so); ``round_trip_fields``: the dotted paths that must come back equal;
    - ``partner_options``: the ``receive.options`` a partner speaking the adapter would have.
    """

    adapter_name: ClassVar[str] = ""
    round_trip_types: ClassVar[tuple[str, ...] | None] = None
    round_trip_fields: ClassVar[tuple[str, ...]] = ("type", "payload")
    partner_options: ClassVar[dict[str, Any]] = {}
    sender_id: ClassVar[str] = "conformance-sender"

    def render_samples(self) -> list[dict[str, Any]]:
        """Canonical messages the adapter renders."""
        raise NotImplementedError(f"{type(self).__name__}: return the canonical messages the adapter renders")

    def parse_samples(self) -> list[tuple[bytes, str]]:
        """``(body, content_type)`` pairs the adapter parses."""
        return []

    @pytest.fixture(scope="class")
    @classmethod
    def adapter(cls) -> Adapter:
        """The adapter as the hub loads it (through the installed entry points)."""
        adapters = _plugins().adapters
        if cls.adapter_name not in adapters:
            pytest.fail(f"no loaded plugin registers an adapter {cls.adapter_name!r} (loaded: "
                        f"{', '.join(sorted(adapters))}); is the plugin installed (pip install -e .)?")  # fmt: skip
        found: Adapter = adapters[cls.adapter_name]
        return found

    def _parse(self, adapter: Adapter, body: bytes, content_type: str) -> list[dict[str, Any]]:
        result = adapter.parse(body, content_type=content_type, sender_id=self.sender_id)
        assert isinstance(result, Sequence) and not isinstance(result, (str, bytes)), (
            f"parse returned a {type(result).__name__}, not a list of messages"
        )
        messages = []
        for item in result:
            message = item.message if isinstance(item, Parsed) else item
            assert isinstance(message, dict), f"parse gave a {type(item).__name__}, not a dict or Parsed"
            messages.append(message)
        return messages

    def test_it_renders_every_sample_as_bytes_with_a_media_type(self, adapter: Adapter) -> None:
        samples = self.render_samples()
        assert samples, "render_samples() must give at least one canonical message"
        for message in samples:
            rendered = adapter.render(message, partner=conformance_partner(self.adapter_name, **self.partner_options))
            assert isinstance(rendered, Rendered) and isinstance(rendered.body, bytes) and rendered.body
            assert re.fullmatch(r"[a-z]+/[A-Za-z0-9.+-]+", rendered.content_type.split(";")[0].strip())

    def test_it_parses_every_sample(self, adapter: Adapter) -> None:
        if not adapter.content_types:
            pytest.skip(f"{self.adapter_name} is render-only (no content_types)")
        samples = self.parse_samples()
        assert samples, "parse_samples() must give at least one body the adapter parses"
        for body, content_type in samples:
            assert content_type in adapter.content_types, f"{content_type} is not in the adapter's content_types"
            assert self._parse(adapter, body, content_type), "parse gave no message"

    def test_what_it_renders_it_parses_back(self, adapter: Adapter) -> None:
        if not adapter.content_types:
            pytest.skip(f"{self.adapter_name} is render-only (no content_types)")
        if self.round_trip_types == ():
            pytest.skip(f"{self.adapter_name} parses none of the types it renders (round_trip_types = ())")
        checked = 0
        for message in self.render_samples():
            if self.round_trip_types is not None and message.get("type") not in self.round_trip_types:
                continue
            rendered = adapter.render(message, partner=conformance_partner(self.adapter_name, **self.partner_options))
            media_type = rendered.content_type.split(";")[0].strip()
            assert media_type in adapter.content_types, f"it renders {media_type}, which it does not parse"
            (back,) = self._parse(adapter, rendered.body, media_type)
            for path in self.round_trip_fields:
                assert _get(back, path) == _get(message, path), f"{path} changed in the round trip"
            checked += 1
        assert checked, "no render sample is of a round-trip type"

    def test_garbage_is_refused_with_the_hubs_error_and_never_a_crash(self, adapter: Adapter) -> None:
        if not adapter.content_types:
            pytest.skip(f"{self.adapter_name} is render-only (no content_types)")
        valid = [body for body, _ in self.parse_samples()]
        crashes = []
        for content_type in adapter.content_types:
            for label, body in garbage_bodies(valid):
                try:
                    self._parse(adapter, body, content_type)
                except HubError as exc:
                    assert 400 <= exc.status < 500, f"{label}: a {type(exc).__name__} ({exc.status}) for bad input"
                except RecursionError:
                    crashes.append(f"{label} as {content_type}: RecursionError")
                except Exception as exc:
                    crashes.append(f"{label} as {content_type}: {type(exc).__name__}: {exc}"[:300])
        assert not crashes, "bad bodies must raise UnparseableInput or InvalidMessage:\n" + "\n".join(crashes)

    def test_fuzzed_bodies_get_only_the_hubs_refusals_in_bounded_time_and_memory(self, adapter: Adapter) -> None:
        """Generated bodies (arbitrary bytes, and the samples damaged by a few edits each) are parsed or refused
        with a 4xx ``HubError``, each within the bounds of ``hub.testing.fuzzing`` (needs hypothesis)."""
        if not adapter.content_types:
            pytest.skip(f"{self.adapter_name} is render-only (no content_types)")
        pytest.importorskip("hypothesis", reason="the fuzz test needs hypothesis (pip install hypothesis)")
        from hub.testing.fuzzing import fuzz

        seeds = [body for body, _ in self.parse_samples()]
        for content_type in adapter.content_types:

            def read(body: bytes, content_type: str = content_type) -> None:
                try:
                    self._parse(adapter, body, content_type)
                except HubError as exc:
                    assert 400 <= exc.status < 500, f"a {type(exc).__name__} ({exc.status}) for bad input"
                    raise

            fuzz(read, seeds)

    def test_no_submitted_value_is_echoed_in_an_error(self, adapter: Adapter) -> None:
        """Marked inputs (the samples with their numbers, or a message's payload strings, replaced by ``MARKER``)
        are refused without the marker in the error; at least one must be refused, or nothing was checked."""
        echoes = []
        refused = 0
        if adapter.content_types:
            samples = self.parse_samples()
            for label, body in marked_bodies([b for b, _ in samples]):
                content_type = samples[int(label.split()[1].rstrip(","))][1]
                try:
                    self._parse(adapter, body, content_type)
                except HubError as exc:
                    refused += 1
                    if MARKER in _error_text(exc):
                        echoes.append(f"{label}: ...{_around_marker(_error_text(exc))}...")
        for message in self.render_samples():
            marked = marked_message(message)
            try:
                rendered = adapter.render(marked, partner=conformance_partner(self.adapter_name,
                                                                              **self.partner_options))  # fmt: skip
            except (RenderError, HubError, ValueError) as exc:
                refused += 1
                if MARKER in _error_text(exc):
                    echoes.append(f"render of a marked {message.get('type')}: ...{_around_marker(_error_text(exc))}...")
                continue
            media_type = rendered.content_type.split(";")[0].strip()
            if media_type in adapter.content_types:
                try:
                    self._parse(adapter, rendered.body, media_type)
                except HubError as exc:
                    refused += 1
                    if MARKER in _error_text(exc):
                        echoes.append(
                            f"parse of a marked {message.get('type')}: ...{_around_marker(_error_text(exc))}..."
                        )
        nothing = ("no marked input was refused, so no error was checked: give parse samples with numbers (dates, "
                   "ids, codes) the adapter checks, or render samples it refuses when marked")  # fmt: skip
        if not refused and not adapter.content_types:  # render-only, and it renders whatever it is given
            pytest.skip("render-only adapter (no content_types) that refused no marked message: no error to check")
        assert refused, nothing
        assert not echoes, "errors must name places and rules, never values:\n" + "\n".join(echoes)


# -- transports -------------------------------------------------------------------------------------------------


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
        transports = _plugins().transports
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


# -- through a running hub ----------------------------------------------------------------------------------------


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
        plugins = _plugins()
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


__all__ = [
    "MARKER",
    "AdapterConformance",
    "Delivered",
    "DeliveryConformance",
    "HttpEnd",
    "TransportConformance",
    "conformance_partner",
    "garbage_bodies",
    "marked_bodies",
]
