"""The small typed records that plugins register and the core passes around.

Plugins build these and hand them to the ``register`` callback of a
``hub_register_*`` hook. Names are validated when registered.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from hub.plugin_api.partner import PartnerReply
from hub.plugin_api.problems import Problem

if TYPE_CHECKING:
    from hub.plugin_api.partner import Partner

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


def check_name(kind: str, name: object) -> str:
    """Return ``name`` if it is a valid registry name, else raise ValueError saying why."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(
            f"{kind} name {name!r} is invalid: use 1-64 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter"
        )
    return name


@dataclass(frozen=True)
class Rendered:
    """A message rendered for one partner: the bytes to send and their media type.

    ``notes`` say what the render had to change to fit the partner's format (a
    field shortened to its length, a type sent in another form): the names of
    fields and rules, never values. The delivery worker records each as a
    ``warning`` event on the delivery that carried it, where the sender and the
    operator see it.
    """

    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Parsed:
    """A canonical message an adapter read, with the warnings reading it raised.

    An adapter's ``parse`` may return ``Parsed`` items instead of bare dicts when
    the input lacked optional elements or carried values the adapter could not
    map (recorded as "not known" in the message). Each warning names where in the
    *input* it applies (a FHIR path, an HL7 segment-field) and what was assumed,
    never the value sent. The hub accepts the message and reports the warnings to
    the sender: in the 202's ``notes`` and to listeners through ``Accepted.warnings``
    (an HL7 ACK carries them with severity W where the version allows it).
    """

    message: dict[str, Any]
    warnings: tuple[Problem, ...] = ()


def as_parsed(item: dict[str, Any] | Parsed) -> Parsed:
    """Return ``item`` as a ``Parsed`` (a bare dict has no warnings)."""
    return item if isinstance(item, Parsed) else Parsed(item)


@runtime_checkable
class Adapter(Protocol):
    """Parses one partner format into canonical messages and renders them back.

    ``content_types`` lists the inbound media types the adapter parses (empty
    for a render-only adapter). ``parse`` raises ``UnparseableInput`` or
    ``InvalidMessage`` with every problem it finds; ``render`` returns the bytes
    for one partner.

    ``name`` and ``content_types`` are read, never assigned, by the hub: a class
    attribute (``content_types = ("application/json",)``) or a property serves.
    """

    @property
    def name(self) -> str:
        """The adapter's registry name (``adapter = "..."`` in ``partners.toml``)."""
        ...

    @property
    def content_types(self) -> tuple[str, ...]:
        """The inbound media types ``parse`` reads, the preferred one first (empty for a render-only adapter)."""
        ...

    def parse(self, body: bytes, *, content_type: str, sender_id: str) -> Sequence[dict[str, Any] | Parsed]:
        """Turn a body into one or more canonical messages (dicts, or ``Parsed`` with warnings), or raise."""
        ...

    def render(self, message: dict[str, Any], *, partner: Partner) -> Rendered:
        """Turn a canonical message into what ``partner`` receives."""
        ...


@dataclass
class DeliveryOutcome:
    """What a transport reports for one attempt.

    ``ok`` means the partner took responsibility for the message (for HTTP, a
    2xx). When not ok, ``retryable`` says whether another attempt can help
    (a 5xx, a timeout, a refused connection) or not (a 4xx other than 408/429).
    When ok, ``receipt`` is the partner's reference for the message, stored with
    the delivery and shown on the timeline; ``reply`` is the partner's decision
    when it answered with one (a ``PartnerReply``, or a dict of its fields); ``warnings`` say what in
    the partner's answer could not be used (ids and rules only, never the
    answer's content): each is recorded as a ``warning`` event and none fails
    the delivery.
    ``error`` is for operators only (it may name hosts and addresses); senders see
    a category (``hub.outcomes``): by default a retryable failure shows as
    ``partner_unavailable`` and a final one as ``refused_by_partner``. A transport
    may say otherwise in ``failure`` (``hub``, ``partner_unavailable`` or
    ``refused_by_partner``), for example ``hub`` for its own missing settings.
    """

    ok: bool
    retryable: bool = True
    error: str | None = None
    receipt: str | None = None
    reply: PartnerReply | dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    failure: str | None = None


@runtime_checkable
class Transport(Protocol):
    """Moves rendered messages to partners. One instance serves every delivery.

    ``start`` is awaited once before the first delivery with the hub's
    per-attempt timeout and the most deliveries it will have in flight (open
    pools there); ``close`` once at shutdown. ``deliver`` must not raise for a partner's
    failure: it returns a ``DeliveryOutcome`` describing it.
    """

    name: str

    async def start(self, *, timeout_seconds: float, max_connections: int) -> None:
        """Prepare shared resources (connection pools) for attempts of at most ``timeout_seconds``."""
        ...

    async def close(self) -> None:
        """Release shared resources."""
        ...

    async def deliver(
        self, rendered: Rendered, *, partner: Partner, message_id: str, delivery_id: str
    ) -> DeliveryOutcome:
        """Send one rendered message to ``partner``; report what happened."""
        ...


class RenderError(Exception):
    """Raised by an adapter's ``render`` when a message cannot be put in the partner's format.

    No retry can fix it, so the delivery is dead-lettered at once with this
    message as its last error (which must name elements and rules, never values).
    """


class Refusal(Exception):
    """Raised by a transform when the derived message must not be created.

    The reason is recorded on the source message's timeline and reported to its
    sender (for example: no consent for a Duty to Refer).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TransformContext:
    """What a transform may know besides the source message.

    ``sender`` is the partner that sent the source message (None when the hub
    does not know it, as in a unit test). A transform that derives its message
    with something the source did not give (a default, a partner's configured
    contact) appends a sentence saying so to ``warnings`` (names of fields and
    settings, never values): each is reported in the 202's notes and recorded as
    a ``warning`` event on the source message, whose derived message is sent.
    """

    route: str
    now: datetime
    new_message_id: Callable[[], str]
    options: dict[str, Any] = field(default_factory=dict)
    state_dir: Path | None = None
    config_dir: Path | None = None
    sender: Partner | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Transform:
    """Derives a ``target_type`` message from a ``source_type`` message.

    ``func(message, context)`` returns the complete derived canonical message
    (envelope and payload), or raises ``Refusal`` with a reason a person can read
    (the source message is still accepted; the reason is reported in the 202's
    notes), or raises ``InvalidMessage`` when the source message lacks what the
    derived one needs (the source is then refused with 422 and those problems).
    """

    name: str
    source_type: str
    target_type: str
    func: Callable[[dict[str, Any], TransformContext], dict[str, Any]]

    def __post_init__(self) -> None:
        check_name("transform", self.name)


@dataclass
class ListenerContext:
    """What a running listener may use.

    ``submit(body, content_type=..., sender_id=..., idempotency_key=None)`` is a
    coroutine that parses, validates and commits one inbound body as partner
    ``sender_id`` and returns the ``Accepted`` answer (id, duplicate, notes); it
    raises a ``HubError`` (``InvalidMessage``, ``UnparseableInput``, ...) with
    every problem when the body is refused, and nothing is stored then. A body
    of several messages is committed whole or refused whole; it returns one
    answer per message.

    ``record_refusal(listener=..., reference=..., source=..., error=..., **codes)``
    is a coroutine that commits a refused transmission to the hub's audit log
    (reason and problem locations, never content), where ``hub dlq list`` shows
    it. A listener that has nobody to answer (MESH) calls it, and lets go of the
    transmission only once it returned.
    """

    submit: Callable[..., Coroutine[Any, Any, Any]]
    partners: Any
    settings: Any
    options: dict[str, Any]
    state_dir: Path
    record_refusal: Callable[..., Coroutine[Any, Any, Any]] | None = None


@runtime_checkable
class Listener(Protocol):
    """Brings messages in (MLLP, MESH, ...). ``start`` returns once it is listening; ``stop`` ends it."""

    name: str

    async def start(self, context: ListenerContext) -> None:
        """Begin accepting or polling; return once ready."""
        ...

    async def stop(self) -> None:
        """Stop accepting; finish or abandon in-flight work safely (nothing acknowledged is lost)."""
        ...


@dataclass(frozen=True)
class GaugeSpec:
    """Gauges a plugin adds to ``/metrics``: ``collect(settings)`` returns ``{"name{labels}": value}``.

    With ``with_data=True``, ``collect`` receives the running hub's read-only data
    view (``hub.services.hub_data.HubData``) instead of the settings: a gauge reads
    the hub's store through it, never by opening the store itself.
    """

    name: str
    collect: Callable[[Any], dict[str, float]]
    with_data: bool = False

    def __post_init__(self) -> None:
        check_name("gauge", self.name)


@dataclass(frozen=True)
class KeyProviderSpec:
    """A named way to obtain key-encryption keys: ``open(settings)`` returns the provider."""

    name: str
    open: Callable[[Any], Any]

    def __post_init__(self) -> None:
        check_name("key provider", self.name)


class MilestoneScheduler(Protocol):
    """What decides *when* the hub is told to fire a pathway timer (``hub_register_schedulers``).

    The hub's store is the source of truth for timers; a scheduler only calls the hub back. A timer's id is
    ``f"{milestone_id}.{action}"`` with ``action`` ``remind`` or ``due``: at most 207 characters of
    ``[A-Za-z0-9_.-]``, deterministic, so scheduling it again is recognisably the same timer.
    """

    in_store: bool
    """True for the embedded scheduler (the hub's worker fires due timers from the store itself; ``schedule`` and
    ``cancel`` are never needed); False for an external one: the hub calls ``schedule`` / ``cancel`` after the commit
    that opened / closed a timer, retrying with backoff while ``SchedulerUnavailable`` is raised, and shows the
    syncs still pending (``hub pathway list --pending-syncs``)."""

    def schedule(self, timer_id: str, due_at: datetime, conf: Mapping[str, str]) -> None:
        """Make the scheduler call the hub back at or after ``due_at`` (aware) for ``timer_id``.

        Idempotent: scheduling an id already scheduled is a success. ``conf`` carries only non-personal routing
        data (``timer_id``, ``hub_url``). Raises ``SchedulerUnavailable`` for a fault that may pass.
        """
        ...

    def cancel(self, timer_id: str) -> None:
        """Make sure the scheduler never fires ``timer_id``. Idempotent: an unknown id is a success.

        Raises ``SchedulerUnavailable`` for a fault that may pass.
        """
        ...

    def queued(self) -> dict[str, datetime] | None:
        """``timer_id -> due_at`` of everything the scheduler still holds un-fired (for ``hub pathway reconcile``).

        None when the store is the scheduler (embedded). Raises ``SchedulerUnavailable`` when it cannot be asked.
        """
        ...

    def close(self) -> None:
        """Release connections; the scheduler is not used afterwards."""
        ...


@dataclass(frozen=True)
class SchedulerSpec:
    """A named milestone scheduler, chosen by ``hub.toml`` ``[pathway] scheduler = NAME``.

    ``open(settings)`` returns a ``MilestoneScheduler``; ``settings`` is the ``[pathway.NAME]`` table of
    ``hub.toml`` (a dict, empty when the table is absent), for the scheduler to check: it raises ``ConfigError``
    naming the key for a bad one.
    """

    name: str
    open: Callable[[Mapping[str, Any]], MilestoneScheduler]

    def __post_init__(self) -> None:
        check_name("scheduler", self.name)


@dataclass(frozen=True)
class SchemaSpec:
    """An extra JSON Schema a plugin contributes, by its ``$id`` URI."""

    uri: str
    schema: dict[str, Any]


PLUGIN_ROUTES_PREFIX = "/plugins"


@dataclass(frozen=True)
class RouteSpec:
    """HTTP routes a plugin adds to ``hub serve``: ``router`` (a ``fastapi.APIRouter``) under ``/plugins/NAME``.

    The hub mounts every route of ``router`` under ``prefix`` whatever path it declares, so a plugin cannot
    shadow the hub's own routes or another plugin's. Unless ``public`` is true, every route requires an
    authenticated caller (401 otherwise, before the parameters are looked at); narrow it with the
    dependencies in ``hub.plugin_api.callers`` (``PartnerCaller``, ``OperatorCaller``). With ``public`` the routes need
    no token and the OpenAPI document says so.

    ``background``, when given, is ``async def background(hub, stop)``: a task ``hub serve`` runs while the app
    runs, with the same ``hub`` the routes reach as ``request.app.state.hub``, until the ``asyncio.Event`` ``stop``
    is set (then it must return soon). It must not raise: it logs what fails and carries on. Every ``hub serve``
    process runs it, so what it changes must be safe to do from several processes at once.
    """

    name: str
    router: Any
    public: bool = False
    background: Callable[[Any, Any], Awaitable[None]] | None = None

    def __post_init__(self) -> None:
        check_name("routes", self.name)
        from fastapi import APIRouter  # only a plugin that adds routes pays for importing the web framework

        if not isinstance(self.router, APIRouter):
            raise TypeError(f"routes {self.name!r}: router is a {type(self.router).__name__}, not a fastapi.APIRouter")

    @property
    def prefix(self) -> str:
        """Where the routes are served: ``/plugins/NAME``."""
        return f"{PLUGIN_ROUTES_PREFIX}/{self.name}"


MESSAGE_TYPE_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")
FIELD_PATH_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,63}(\.[a-z_][a-z0-9_]{0,63}){0,7}$")


@dataclass(frozen=True)
class MessageType:
    """A canonical message type and the JSON Schema (draft 2020-12) its messages must meet.

    ``name`` is what a message's ``type`` holds (``DischargeNotice``): an upper-case
    letter, then letters and digits. ``schema`` is the whole schema; its ``$id`` is the
    base its relative ``$ref`` s resolve against (shared definitions are registered with
    ``hub_register_schemas``). ``from_package`` reads a schema shipped inside a package.

    ``answers`` (optional) names the types a message of this type may answer: its
    ``in_reply_to`` must then name a message of one of them delivered to the sender
    (422 at ``$.in_reply_to`` otherwise). Empty: any message delivered to the sender.

    ``status`` (optional) declares that the type reports a business status, as
    ``(status field, time field)``: dotted paths such as ``("payload.status",
    "payload.status_at")``. The hub keeps the status code and its time in clear beside
    the message (``StatusReply`` in ``hub.plugin_api.data``), so plugins can count and
    time statuses without decrypting anything. Declare only a field whose schema is an
    enumeration of codes (never free text: it is stored in clear); the hub keeps a value
    only if it is 1-40 lower-case letters, digits or ``_``, and a time only if it is an
    RFC 3339 date-time with an offset.
    """

    name: str
    schema: dict[str, Any]
    description: str = ""
    answers: tuple[str, ...] = ()
    status: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not MESSAGE_TYPE_PATTERN.match(self.name):
            raise ValueError(
                f"message type name {self.name!r} is invalid: an upper-case letter, then up to 63 letters or digits"
            )
        if not isinstance(self.schema, dict):
            raise ValueError(f"message type {self.name}: the schema must be a JSON object")
        for answered in self.answers:
            if not isinstance(answered, str) or not MESSAGE_TYPE_PATTERN.match(answered):
                raise ValueError(f"message type {self.name}: answers names {answered!r}, not a message type name")
        if self.status is not None and (
            len(self.status) != 2 or not all(isinstance(p, str) and FIELD_PATH_PATTERN.match(p) for p in self.status)
        ):
            raise ValueError(
                f"message type {self.name}: status must be two dotted field paths (status, time), "
                "such as ('payload.status', 'payload.status_at')"
            )

    @property
    def uri(self) -> str:
        """The schema's ``$id``, or a URN naming the type when it has none."""
        value = self.schema.get("$id")
        return value if isinstance(value, str) and value else f"urn:hub:message-type:{self.name}"

    @classmethod
    def from_package(
        cls, name: str, package: str, resource: str, description: str = "", *, answers: tuple[str, ...] = (),
        status: tuple[str, str] | None = None,
    ) -> MessageType:  # fmt: skip
        """The type ``name`` with the schema in file ``resource`` of ``package`` (read with importlib.resources)."""
        return cls(name, load_json_resource(package, resource), description, answers, status)


def load_json_resource(package: str, resource: str) -> dict[str, Any]:
    """A JSON object shipped as a file inside ``package`` (``"schemas/x.schema.json"``)."""
    import json
    from importlib.resources import files

    value = json.loads(files(package).joinpath(resource).read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"{package}/{resource} does not hold a JSON object")
    return value


@dataclass(frozen=True)
class PartnerKind:
    """A kind of partner (``kind = "..."`` in ``partners.toml``), e.g. a council or an NHS trust."""

    name: str
    description: str = ""

    def __post_init__(self) -> None:
        check_name("partner kind", self.name)


@dataclass(frozen=True)
class CodeField:
    """A code a partner may be known by (a key of ``[[partner]]`` and of a message's ``sender``/``recipient``).

    For example an organisation code, a local authority code or a mailbox id. A code
    is held by at most one partner; routes find partners by it
    (``to = { code = "NAME", field = "..." }``), and a message's sender may only
    claim the codes registered for it.
    """

    name: str
    description: str = ""

    def __post_init__(self) -> None:
        check_name("code field", self.name)
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", self.name):
            raise ValueError(f"code field name {self.name!r} is invalid: lower-case letters, digits and '_'")


class Unresolved(Exception):
    """Raised by a destination resolver when a message names no partner to send to.

    ``reason`` says why in words a sender can read (field names and rules, never values);
    the route is then not sent for that message and the reason goes in the 202's notes.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RouteSetup:
    """What a destination resolver's ``check`` may consult when ``routes.toml`` is loaded.

    ``partners`` is the partner directory (``get(id)``, ``by_code(field, code)``);
    ``code_fields`` the names of the registered code fields.
    """

    partners: Any
    code_fields: frozenset[str]


@dataclass(frozen=True)
class ResolveContext:
    """What a destination resolver may use for one message.

    ``partners`` is the partner directory; ``reply_sender`` the partner whose message
    this one answers (``in_reply_to``), when it answers one.
    """

    partners: Any
    reply_sender: str | None = None


@dataclass(frozen=True)
class DestinationResolver:
    """A kind of route destination (``to = { kind = "NAME", ... }`` in ``routes.toml``).

    ``resolve(message, options, context)`` returns the id of the partner that receives
    ``message`` (the message being delivered, after any transform) or raises
    ``Unresolved``. ``options`` are the destination table's other keys. ``check(options,
    setup)``, when given, runs once when ``routes.toml`` is loaded and raises
    ``ValueError(sentence)``, or ``ValueError(option, sentence)`` to point at the bad
    option. ``describe(options)`` gives the short text used in notes. A bare string
    destination that is a resolver's name (``"reply"``) selects it with no options.
    """

    name: str
    resolve: Callable[[dict[str, Any], dict[str, Any], ResolveContext], str]
    check: Callable[[dict[str, Any], RouteSetup], None] | None = None
    describe: Callable[[dict[str, Any]], str] | None = None

    def __post_init__(self) -> None:
        check_name("destination resolver", self.name)


@dataclass(frozen=True)
class Vocabulary:
    """The names plugins registered that configuration and messages may use.

    Message types (with their schemas), partner kinds, code fields and destination
    resolvers, each by name. Loading ``partners.toml`` and ``routes.toml`` checks
    names against it; ``HubPlugins.vocabulary`` gives the loaded one.
    """

    message_types: dict[str, MessageType] = field(default_factory=dict)
    partner_kinds: dict[str, PartnerKind] = field(default_factory=dict)
    code_fields: dict[str, CodeField] = field(default_factory=dict)
    destinations: dict[str, DestinationResolver] = field(default_factory=dict)

    def known(self, what: dict[str, Any]) -> str:
        """The names in one of the tables above, sorted and joined for an error message ("none" when empty)."""
        return ", ".join(sorted(what)) or "none"
