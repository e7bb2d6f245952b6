"""What the store keeps and hands back: the records every backend reads and writes.

Plain data, no behaviour; the ports (``hub.store.ports``) say what a backend does with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from hub.plugin_api.events import HubEvent


class DeliveryState(StrEnum):
    """Where one delivery is; the values are what the store keeps, so they never change.

    ``pending`` (due at ``due_at``) -> ``in_flight`` (leased to a worker) -> ``delivered``,
    back to ``pending`` (retry) or ``dead``; a pull delivery waits as ``available`` until the
    partner takes it. An acknowledgement turns a delivery ``acknowledged`` or ``rejected``.
    ``replay`` makes a ``dead`` one ``pending`` again. A delivery stored with ``not_before`` is ``pending``
    but scheduled (due later, never attempted) until then, and may be ``cancelled`` while it is.
    """

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    AVAILABLE = "available"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    REJECTED = "rejected"
    DEAD = "dead"
    CANCELLED = "cancelled"


DELIVERY_STATES = tuple(state.value for state in DeliveryState)
#: the partner has it: nothing more to do
FINAL_DELIVERY_STATES = (DeliveryState.DELIVERED, DeliveryState.ACKNOWLEDGED, DeliveryState.REJECTED)
#: still to be delivered or taken: a message with such a delivery is not finished (and is never shredded)
WAITING_DELIVERY_STATES = (DeliveryState.PENDING, DeliveryState.IN_FLIGHT, DeliveryState.AVAILABLE)
#: what the timeline says of an ordered delivery sent before a dead-lettered elder of its key (every backend)
OVERTAKING_WARNING = (
    "sent before an earlier message about the same correlation to this partner, which is dead-lettered "
    "(replayed, it reaches the partner after this one)"
)


@dataclass
class NewMessage:
    """A message about to be stored: clear routing metadata plus its canonical body."""

    id: str
    message_id: str
    sender: str
    type: str
    body: bytes
    received_at: float
    correlation_id: str | None = None
    in_reply_to: str | None = None
    parent_id: str | None = None
    idempotency_key: str | None = None
    fingerprint: str | None = None
    fingerprints_also: tuple[str, ...] = ()  # under the other live fingerprint keys, while they are rotated
    nhs_index: str | None = None
    status: str | None = None  # a business status code its type declares (MessageType.status); clear metadata
    status_at: float | None = None  # when the sender says that status was reached (epoch seconds)
    answers_record: str | None = None  # the record id of the message this one answers, resolved at intake


def reuses_id_for_other_content(stored_fingerprint: str | None, message: NewMessage) -> bool:
    """True when ``message`` repeats the id (or Idempotency-Key) of a stored message whose fingerprint says it
    had other content: it matches neither the message's fingerprint under the current key nor under any other
    live one (during a rotation the stored value is under the old key or the new). Without a fingerprint on
    either side (shredded, or none computed) a repeat is taken as the same message."""
    if not stored_fingerprint or not message.fingerprint:
        return False
    return stored_fingerprint != message.fingerprint and stored_fingerprint not in message.fingerprints_also


@dataclass
class NewDelivery:
    """One destination of one stored message.

    ``order_key`` (None: unordered) groups deliveries that must reach their partner in the order
    they were accepted: the router gives one partner's deliveries about one correlation the same
    key when the route asks for order (``hub.router.order_key``: a digest, never a value in
    clear). What the store promises for a key is in ``hub.store.ports.DeliveryQueue.claim``.

    ``not_before`` (POSIX seconds; None: at once) schedules a push delivery for later: it is stored ``pending``,
    due then, shown as scheduled in message views until then, and may be cancelled until then
    (``DeliveryQueue.cancel_scheduled``).
    """

    id: str
    message_record_id: str
    partner: str
    route: str
    mode: str  # push or pull
    order_key: str | None = None
    not_before: float | None = None


@dataclass
class Intake:
    """Everything one accepted inbound message writes, committed together.

    ``index_entries`` are the NHS-number search entries, ``(partner, blind index, record id)``:
    who may find which stored message by which person's NHS number.
    """

    messages: list[NewMessage]
    deliveries: list[NewDelivery] = field(default_factory=list)
    events: list[HubEvent] = field(default_factory=list)
    acknowledges: tuple[str, str, str] | None = None  # (delivery id, new state, ack record id)
    index_entries: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class AcceptResult:
    """What ``accept`` tells the sender."""

    id: str
    duplicate: bool
    events: list[HubEvent] = field(default_factory=list)


@dataclass
class ReplyTarget:
    """The message a reply answers, found from ``in_reply_to`` and who replied."""

    record_id: str
    sender: str
    delivery_id: str
    type: str


@dataclass
class DeliveryJob:
    """A leased delivery with what the worker needs to render and send it."""

    delivery_id: str
    record_id: str
    message_id: str
    partner: str
    attempts: int
    type: str
    body: bytes
    received_at: float
    lease_id: str = ""
    events: tuple[HubEvent, ...] = ()
    """What the claim that leased it committed besides (a pathway timer it fired: ``hub.store.notice_claims``),
    for the worker to tell observer plugins."""


class Claimed(list[DeliveryJob]):
    """What a claim leased (a list of ``DeliveryJob``) and ``told``: the events it committed about deliveries it did
    not hand out (a notice cancelled because its timer is no longer pending, a body that cannot be read
    dead-lettered) and its warnings (a delivery overtaking a dead one of its key), for the worker to tell observer
    plugins as it tells each job's ``events``. It compares, prints and slices as the list of jobs alone."""

    def __init__(self, jobs: list[DeliveryJob] | tuple[DeliveryJob, ...] = (), told: list[HubEvent] | None = None):
        super().__init__(jobs)
        self.told: list[HubEvent] = list(told or [])


@dataclass
class Outcome:
    """The result of one delivery attempt, to be recorded.

    ``state`` is ``delivered``, ``pending`` (retry at ``due_at``) or ``dead``.
    A delivered attempt may carry the partner's ``receipt`` (its reference,
    stored with the delivery and put on the ``delivered`` event) and
    ``warnings`` about its answer, each recorded as a ``warning`` event. ``failure`` says
    whose side a failed attempt failed on (``hub.outcomes``): what senders are shown instead of ``error``.
    """

    delivery_id: str
    record_id: str
    partner: str
    state: str
    attempts: int
    at: float
    error: str | None = None
    due_at: float | None = None
    lease_id: str = ""
    receipt: str | None = None
    warnings: tuple[str, ...] = ()
    failure: str | None = None
