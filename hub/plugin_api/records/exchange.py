"""What adapters and transports exchange with the core: rendered and parsed bodies, outcomes, refusals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from hub.plugin_api.partner import PartnerReply
from hub.plugin_api.problems import Problem

if TYPE_CHECKING:
    from hub.plugin_api.partner import Partner


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
