"""What ``hub adapter new NAME --kind KIND`` writes for each kind: the plugin module, its tests, and a README section.

Each kind is a ``Kind``: the hook it implements, the plugin module's text and the tests' text, with ``{name}``
(the registered name), ``{package}`` (the Python package) and ``{cls}`` (a class-name stem) filled in by
``str.format`` (so literal braces in the templates are doubled). The tests use the hub's pytest plugin
(``hub_world_factory``, ``partner_simulator``) and its conformance suite (``hub.testing.conformance``), and
need nothing but the hub itself: what they exchange is registered by a test-only plugin the package's tests carry
(``VOCABULARY``: the ``ExampleMessage`` type and the ``example`` partner kind, installed on the tests' path as a
distribution with an entry point, so in-process and ``hub serve`` hubs load it like any plugin), between the
partners ``example-sender`` and ``example-receiver``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One kind of plugin the scaffold writes."""

    name: str
    hook: str
    summary: str
    plugin: str
    tests: str
    configure: str
    """The README's "Configure it" section: what an operator writes in the config directory."""


SAMPLES = '''"""A canonical ExampleMessage for the tests (fictional data, a fresh message id each time), and the
test-only plugin that registers its type and the ``example`` partner kind.

Importing this module puts ``example_vocabulary/`` (a module and its dist-info, with a ``hub.adapters`` entry
point) on this process's path and on ``PYTHONPATH``, so the hubs the tests start, in process or as ``hub serve``,
load it like any installed plugin. Nothing of it is installed with the package.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

VOCABULARY = str(Path(__file__).resolve().parent / "example_vocabulary")
if VOCABULARY not in sys.path:
    sys.path.insert(0, VOCABULARY)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (VOCABULARY, os.environ.get("PYTHONPATH")) if p)

SENDER = "example-sender"
RECEIVER = "example-receiver"
KIND = "example"
TYPE = "ExampleMessage"


def example_message(to: str = RECEIVER, sender: str = SENDER) -> dict[str, Any]:
    """An ExampleMessage from ``sender`` to ``to`` (both partners of the test world)."""
    return {{
        "message_id": str(uuid.uuid4()),
        "type": TYPE,
        "schema_version": "1",
        "created_at": "2026-11-24T09:05:00Z",
        "correlation_id": str(uuid.uuid4()),
        "sender": {{"org_id": sender}},
        "recipient": {{"org_id": to}},
        "consent": {{"referral": True, "share_contact": True, "method": "written",
                    "recorded_at": "2026-11-23T15:30:00Z", "recorded_by": "Example Recorder"}},
        "payload": {{"service_id": to, "postcode": "AB1 2CD", "note": "An example note 2026-000123."}},
    }}
'''

VOCABULARY_MODULE = '''"""A test-only plugin: the ``ExampleMessage`` type and ``example`` partner kind of the tests."""

from __future__ import annotations

from typing import Any

from hub import MessageType, PartnerKind, hookimpl

SCHEMA = {{
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://hub.invalid/schemas/canonical/v1/example-message.schema.json",
    "title": "ExampleMessage",
    "$ref": "envelope.schema.json",
    "properties": {{
        "type": {{"const": "ExampleMessage"}},
        "payload": {{
            "type": "object",
            "properties": {{
                "service_id": {{"type": "string", "minLength": 1, "maxLength": 64}},
                "postcode": {{"type": "string", "maxLength": 10}},
                "note": {{"type": "string", "maxLength": 200}},
            }},
            "required": ["service_id"],
            "additionalProperties": False,
        }},
    }},
    "unevaluatedProperties": False,
}}


@hookimpl
def hub_register_message_types(register: Any) -> None:
    """The tests' message type."""
    register(MessageType("ExampleMessage", SCHEMA, "A message the plugin's tests exchange."))


@hookimpl
def hub_register_partner_kinds(register: Any) -> None:
    """The tests' partner kind."""
    register(PartnerKind("example", "A partner of the plugin's tests."))
'''

VOCABULARY_METADATA = "Metadata-Version: 2.1\nName: hub-example-vocabulary\nVersion: 0.1\n"
VOCABULARY_ENTRY_POINTS = "[hub.adapters]\nexample-vocabulary = hub_example_vocabulary\n"

ADAPTER = Kind(
    name="adapter",
    hook="hub_register_adapters",
    summary="a format adapter: parses the partner's format into canonical messages and renders them back",
    plugin='''"""The ``{name}`` adapter: the partner's format, read into canonical messages and written from them.

Replace the format here with the partner's. This one wraps the canonical message in a small JSON document,
``{{"format": "{name}/1", "message": {{...}}}}``, sent as ``application/vnd.{name}+json``. The contract
(``hub.Adapter``): ``parse`` returns canonical messages or raises ``UnparseableInput`` (the body cannot be read)
or ``InvalidMessage`` (read, but wrong) listing every problem, naming places, never values; ``render`` returns
``Rendered`` bytes for one partner or raises ``RenderError``.
"""

from __future__ import annotations

import json
from typing import Any

from hub import InvalidMessage, Partner, Problem, Rendered, UnparseableInput, hookimpl

FORMAT = "{name}/1"
MEDIA_TYPE = "application/vnd.{name}+json"


class {cls}Adapter:
    """Reads and writes ``{name}/1`` documents (see the module docstring)."""

    name = "{name}"
    content_types = (MEDIA_TYPE,)

    def parse(self, body: bytes, *, content_type: str, sender_id: str) -> list[dict[str, Any]]:
        """The canonical message a ``{name}/1`` document carries; raise with every problem otherwise."""
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise UnparseableInput("The body is not a JSON document (UTF-8).") from None
        if not isinstance(document, dict):
            raise InvalidMessage("The document is not a JSON object.", [Problem("$", "must be an object")])
        problems = []
        if document.get("format") != FORMAT:
            problems.append(Problem("$.format", f"must be {{FORMAT!r}}"))
        message = document.get("message")
        if not isinstance(message, dict):
            problems.append(Problem("$.message", "required: the canonical message, an object"))
        if problems or not isinstance(message, dict):
            raise InvalidMessage("The document is not a {name}/1 document.", problems)
        return [message]

    def render(self, message: dict[str, Any], *, partner: Partner) -> Rendered:
        """The ``{name}/1`` document for ``message``."""
        document = {{"format": FORMAT, "message": message}}
        return Rendered(MEDIA_TYPE, json.dumps(document, ensure_ascii=False).encode())


@hookimpl
def hub_register_adapters(register: Any) -> None:
    """Register the ``{name}`` adapter (partners name it with ``adapter = "{name}"``)."""
    register({cls}Adapter())
''',
    tests='''"""The ``{name}`` adapter passes the hub's conformance suite, alone and through a running hub."""

from __future__ import annotations

import json
from typing import Any

from samples import KIND, SENDER, example_message

from hub.testing import Partner
from hub.testing.conformance import AdapterConformance, DeliveryConformance
from {package}.plugin import MEDIA_TYPE, {cls}Adapter
from hub import InvalidMessage


class TestAdapter(AdapterConformance):
    adapter_name = "{name}"

    def render_samples(self) -> list[dict[str, Any]]:
        return [example_message()]

    def parse_samples(self) -> list[tuple[bytes, str]]:
        return [(json.dumps({{"format": "{name}/1", "message": example_message()}}).encode(), MEDIA_TYPE)]


class TestDelivery(DeliveryConformance):
    adapter_name = "{name}"
    partner_kind = KIND

    def sender(self) -> Any:
        return Partner(SENDER, KIND)

    def message(self, to: str) -> dict[str, Any]:
        return example_message(to)


def test_a_document_of_another_format_is_refused_naming_the_place() -> None:
    try:
        {cls}Adapter().parse(b'{{"format": "other/2"}}', content_type=MEDIA_TYPE, sender_id=SENDER)
    except InvalidMessage as exc:
        assert [p.location for p in exc.problems] == ["$.format", "$.message"]
    else:
        raise AssertionError("a document of another format was accepted")
''',
    configure="""A partner that speaks it names it in `partners.toml`:

```toml
[[partner]]
id = "my-partner"
kind = "my-kind"                          # a partner kind a loaded plugin registers
adapter = "{name}"
receive = {{ mode = "push", url = "https://partner.example/inbound" }}
```""",
)

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

TRANSFORM = Kind(
    name="transform",
    hook="hub_register_transforms",
    summary="a transform: derives a new canonical message from an accepted one",
    plugin='''"""The ``{name}`` transform: a message passed on to a second service, named in the route's options.

Replace the derivation here with yours. The contract (``hub.Transform``): ``func(message, context)`` returns the
whole derived message (validated like any inbound one), raises ``Refusal(reason)`` when it must not be made (the
source is still accepted; the reason goes to its sender), or ``InvalidMessage`` when the source lacks what the
derived message needs. ``context.options`` is the route's ``options`` table; what the transform assumed goes in
``context.warnings`` (field names, never values).
"""

from __future__ import annotations

import copy
from typing import Any

from hub import Refusal, Transform, TransformContext, hookimpl

SOURCE_TYPE = "ExampleMessage"  # the types your transform reads and writes (registered by a loaded plugin)
TARGET_TYPE = "ExampleMessage"


def derive(message: dict[str, Any], context: TransformContext) -> dict[str, Any]:
    """The message for the service ``context.options["service_id"]``; refused without consent to refer."""
    if message.get("consent", {{}}).get("referral") is not True:
        raise Refusal("the person has not consented to a referral, so none is passed on")
    service = context.options.get("service_id")
    if not isinstance(service, str):
        raise Refusal("the route gives no options.service_id to pass the referral on to")
    derived = copy.deepcopy(message)
    derived["message_id"] = context.new_message_id()
    derived["created_at"] = context.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    derived["recipient"] = {{"org_id": service}}
    derived["payload"]["service_id"] = service
    return derived


@hookimpl
def hub_register_transforms(register: Any) -> None:
    """Register the ``{name}`` transform (routes name it with ``transform = "{name}"``)."""
    register(Transform("{name}", SOURCE_TYPE, TARGET_TYPE, derive))
''',
    tests='''"""The ``{name}`` transform: unit tests, and a running hub passing a message on with it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from samples import KIND, RECEIVER, SENDER, TYPE, example_message

from hub import Refusal, TransformContext
from hub.testing import HubWorld, Partner, wait_until
from {package}.plugin import derive


def context(**options: str) -> TransformContext:
    return TransformContext(route="test", now=datetime.now(UTC), new_message_id=lambda: "m-derived", options=options)


def test_it_readdresses_the_message() -> None:
    derived = derive(example_message(), context(service_id="second-service"))
    assert derived["message_id"] == "m-derived"
    assert derived["recipient"] == {{"org_id": "second-service"}}
    assert derived["payload"]["service_id"] == "second-service"


def test_no_consent_is_a_refusal() -> None:
    message = example_message()
    message["consent"]["referral"] = False
    with pytest.raises(Refusal, match="consented"):
        derive(message, context(service_id="second-service"))


def test_a_running_hub_passes_the_message_on(hub_world_factory: Callable[..., HubWorld]) -> None:
    route = {{"name": "pass-on", "type": TYPE, "transform": "{name}",
              "options": {{"service_id": "second-service"}}, "to": {{"field": "payload.service_id"}}}}
    world = hub_world_factory([Partner(SENDER, KIND), Partner(RECEIVER, KIND), Partner("second-service", KIND)],
                              routes=[route])
    assert world.send(SENDER, example_message(RECEIVER)).status_code == 202
    assert wait_until(lambda: world.sims["second-service"].messages(TYPE), timeout=20)
''',
    configure="""A route names it in `routes.toml`:

```toml
[[route]]
name = "pass-on"
type = "ExampleMessage"                  # a message type a loaded plugin registers
transform = "{name}"
options = {{ service_id = "second-service" }}
to = {{ field = "payload.service_id" }}
```""",
)

LISTENER = Kind(
    name="listener",
    hook="hub_register_listeners",
    summary="an inbound listener: brings messages in by a way other than the HTTP API",
    plugin='''"""The ``{name}`` listener: takes each file dropped in a folder as a message from one partner.

Replace the folder with the partner's channel. The contract (``hub.Listener``): ``start(context)`` returns once
listening; ``context.submit(body, content_type=..., sender_id=..., idempotency_key=...)`` parses, validates and
durably stores one body, raising a ``HubError`` with every problem when it is refused; a listener lets go of
what it received (here: moves the file) only after ``submit`` returned, and records a refusal it cannot answer
with ``context.record_refusal``. ``stop`` ends it without losing what was not yet stored.

Options (``[listeners.{name}]`` in ``hub.toml``): ``directory`` (read), ``sender`` (the partner id the files
come from), ``content_type`` (default ``application/json``), ``interval_seconds`` (default 0.5).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from hub import HubError, ListenerContext, hookimpl

log = logging.getLogger(__name__)


class {cls}Listener:
    """Polls ``options.directory`` (see the module docstring)."""

    name = "{name}"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    async def start(self, context: ListenerContext) -> None:
        """Check the options and start polling."""
        options = context.options
        for key in ("directory", "sender"):
            if not isinstance(options.get(key), str):
                raise ValueError(f"hub.toml: listeners.{name}.{{key}}: required (a string)")
        folder = Path(options["directory"])
        for sub in ("done", "refused"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        self._task = asyncio.create_task(self._poll(context, folder))

    async def stop(self) -> None:
        """Stop polling (a file being stored is finished first)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _poll(self, context: ListenerContext, folder: Path) -> None:
        options = context.options
        while True:
            for path in sorted(p for p in folder.iterdir() if p.is_file()):
                body = path.read_bytes()
                content_type = options.get("content_type", "application/json")
                try:
                    await asyncio.shield(context.submit(body, content_type=content_type, sender_id=options["sender"],
                                                        idempotency_key=f"{name}:{{path.name}}"))
                except HubError as exc:
                    if context.record_refusal is not None:
                        await context.record_refusal(listener="{name}", reference=path.name,
                                                     source=options["sender"], error=exc)
                    path.rename(folder / "refused" / path.name)
                    log.warning("{name}: %s refused (%s)", path.name, exc.title)
                    continue
                path.rename(folder / "done" / path.name)
            await asyncio.sleep(float(options.get("interval_seconds", 0.5)))


@hookimpl
def hub_register_listeners(register: Any) -> None:
    """Register the ``{name}`` listener (``hub serve`` starts it for a ``[listeners.{name}]`` table)."""
    register({cls}Listener())
''',
    tests='''"""The ``{name}`` listener in a running hub: a dropped file is delivered, a bad one set aside."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from samples import KIND, RECEIVER, SENDER, TYPE, example_message

from hub.testing import HubWorld, Partner, wait_until


def test_a_dropped_file_is_taken_in_and_delivered(hub_world_factory: Callable[..., HubWorld], tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    settings = {{"listeners": {{"{name}": {{"directory": str(folder), "sender": SENDER, "interval_seconds": 0.1}}}}}}
    partners = [Partner(SENDER, KIND), Partner(RECEIVER, KIND)]
    world = hub_world_factory(partners, routes=[{{"name": "example", "type": TYPE, "to": "recipient"}}],
                              settings=settings)
    (folder / "one.json").write_text(json.dumps(example_message()))
    (folder / "two.json").write_text("not json")
    assert wait_until(lambda: world.sims[RECEIVER].messages(TYPE), timeout=20)
    assert wait_until(lambda: (folder / "refused" / "two.json").exists(), timeout=20)
    assert (folder / "done" / "one.json").exists()
''',
    configure="""`hub serve` starts it when `hub.toml` has its table:

```toml
[listeners.{name}]
directory = "/srv/hub/drop"
sender = "my-partner"                    # the partner the files come from
```""",
)

DESTINATION = Kind(
    name="destination",
    hook="hub_register_destinations",
    summary="a route destination resolver: finds the partner a message goes to",
    plugin='''"""The ``{name}`` destination: the partner for a message, by the start of a postcode in it.

Replace the lookup here with yours. The contract (``hub.DestinationResolver``): ``resolve(message, options,
context)`` returns a partner id or raises ``Unresolved(reason)`` (field names, never values); ``check(options,
setup)`` refuses bad options when ``routes.toml`` is loaded, raising ``ValueError(option, sentence)``.
"""

from __future__ import annotations

from typing import Any

from hub import DestinationResolver, ResolveContext, RouteSetup, Unresolved, hookimpl


def _value(message: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        message = message.get(part) if isinstance(message, dict) else None
    return message


def check(options: dict[str, Any], setup: RouteSetup) -> None:
    """``field`` (a dotted path) and ``prefixes`` (postcode start -> partner id, each a partner of this hub)."""
    if not isinstance(options.get("field"), str):
        raise ValueError("field", "required: the dotted path of the postcode, e.g. payload.postcode")
    prefixes = options.get("prefixes")
    if not isinstance(prefixes, dict) or not prefixes:
        raise ValueError("prefixes", "required: a table of postcode starts and partner ids")
    for start, partner in prefixes.items():
        if setup.partners.get(partner) is None:
            raise ValueError("prefixes", f"{{start}}: {{partner!r}} is not a partner of this hub")


def resolve(message: dict[str, Any], options: dict[str, Any], context: ResolveContext) -> str:
    """The partner whose prefix starts the postcode (the longest prefix wins)."""
    value = _value(message, options["field"])
    if not isinstance(value, str):
        raise Unresolved(f"{{options['field']}} is empty")
    postcode = value.replace(" ", "").upper()
    found = [p for p in options["prefixes"] if postcode.startswith(p.upper())]
    if not found:
        raise Unresolved(f"no prefix of the route matches {{options['field']}}")
    return str(options["prefixes"][max(found, key=len)])


@hookimpl
def hub_register_destinations(register: Any) -> None:
    """Register the ``{name}`` destination (routes use it with ``to = {{ kind = "{name}", ... }}``)."""
    register(DestinationResolver("{name}", resolve, check, lambda options: "{name} by postcode"))
''',
    tests='''"""The ``{name}`` destination: unit tests, and a running hub routing by it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from samples import KIND, RECEIVER, SENDER, TYPE, example_message

from hub import ResolveContext, Unresolved
from hub.testing import HubWorld, Partner, wait_until
from {package}.plugin import resolve

OPTIONS = {{"field": "payload.postcode", "prefixes": {{"AB": RECEIVER, "AB7": "other-receiver"}}}}


def test_the_longest_prefix_wins() -> None:
    message = example_message()
    assert resolve(message, OPTIONS, ResolveContext(partners=None)) == RECEIVER
    message["payload"]["postcode"] = "AB7 1AA"
    assert resolve(message, OPTIONS, ResolveContext(partners=None)) == "other-receiver"


def test_no_match_is_unresolved_without_the_value() -> None:
    message = example_message()
    message["payload"]["postcode"] = "ZZ9 9ZZ"
    with pytest.raises(Unresolved) as raised:
        resolve(message, OPTIONS, ResolveContext(partners=None))
    assert "ZZ9" not in raised.value.reason


def test_a_running_hub_routes_by_it(hub_world_factory: Callable[..., HubWorld]) -> None:
    route = {{"name": "by-postcode", "type": TYPE, "to": {{"kind": "{name}", **OPTIONS}}}}
    world = hub_world_factory([Partner(SENDER, KIND), Partner(RECEIVER, KIND), Partner("other-receiver", KIND)],
                              routes=[route])
    assert world.send(SENDER, example_message("other-receiver")).status_code == 202
    assert wait_until(lambda: world.sims[RECEIVER].messages(TYPE), timeout=20)
    assert not world.sims["other-receiver"].messages(TYPE)
''',
    configure="""A route uses it in `routes.toml`:

```toml
[[route]]
name = "by-postcode"
type = "ExampleMessage"                  # a message type a loaded plugin registers
to = {{ kind = "{name}", field = "payload.postcode", prefixes = {{ AB = "my-partner" }} }}
```""",
)

KINDS: dict[str, Kind] = {k.name: k for k in (ADAPTER, TRANSPORT, TRANSFORM, LISTENER, DESTINATION)}
"""Every kind ``hub adapter new`` writes, by ``--kind``."""
