"""The store interface: what every backend (SQLite now, PostgreSQL later) provides.

Promises every implementation keeps:

- ``accept`` commits the inbound message, anything derived from it, its
  deliveries and its events in one durable transaction, and only then returns;
  the caller answers the sender (202, ACK) after that.
- ``accept_all`` commits the intakes of several messages that came in one
  body (a MESH message or HL7 batch holding N messages) in ONE transaction:
  all are stored, or, when any is refused (a conflict), none is.
- The same sender + ``message_id``, or the same sender + Idempotency-Key, is
  stored once; a repeat returns the first record's id with ``duplicate=True``.
  A repeat whose body differs from the first raises ``Conflict``: the key was
  reused for another message, which would otherwise be silently lost.
- ``claim`` leases due deliveries to one worker; a lease that expires (the
  worker died) makes the delivery due again, so a crash loses nothing. Each
  lease has an id, and an outcome is recorded only under the lease it was
  claimed with, so a slow worker cannot overwrite the work of the next.
- Bodies are written and read only through the store's ``CodecRegistry``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.events import HubEvent

DELIVERY_STATES = ("pending", "in_flight", "available", "delivered", "acknowledged", "rejected", "dead")
FINAL_DELIVERY_STATES = ("delivered", "acknowledged", "rejected")


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
    nhs_index: str | None = None


@dataclass
class NewDelivery:
    """One destination of one stored message."""

    id: str
    message_record_id: str
    partner: str
    route: str
    mode: str  # push or pull


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


class Store(abc.ABC):
    """Durable home of messages, deliveries, idempotency keys and timelines."""

    @abc.abstractmethod
    async def accept(self, intake: Intake) -> AcceptResult:
        """Commit an intake durably (group-committed with others); return id and duplicate flag."""

    @abc.abstractmethod
    def accept_now(self, intake: Intake) -> AcceptResult:
        """Blocking form of ``accept`` for command-line tools."""

    @abc.abstractmethod
    async def accept_all(self, intakes: list[Intake]) -> list[AcceptResult]:
        """Commit several intakes in one durable transaction; one result per intake, in order.

        Each intake is judged as ``accept`` judges one (stored, or a duplicate of what is
        stored); if any raises (``Conflict``), nothing of any of them is written.
        """

    @abc.abstractmethod
    async def claim(self, limit: int, now: float, lease_seconds: float) -> list[DeliveryJob]:
        """Lease up to ``limit`` due push deliveries; each counts as an attempt."""

    @abc.abstractmethod
    async def record(self, outcomes: list[Outcome]) -> list[HubEvent]:
        """Commit delivery outcomes; return the events written."""

    @abc.abstractmethod
    def find_reply_targets(self, in_reply_to: str, replier: str) -> list[ReplyTarget]:
        """Every message with ``message_id == in_reply_to`` delivered to ``replier`` (ids are unique per sender)."""

    @abc.abstractmethod
    def message_view(self, record_id: str) -> dict[str, Any] | None:
        """State, deliveries, derived messages and timeline of one message (no body)."""

    @abc.abstractmethod
    def may_read(self, partner_id: str, record_id: str) -> bool:
        """True when the partner sent the message or is one of its recipients."""

    @abc.abstractmethod
    def list_messages(
        self, *, limit: int = 50, message_type: str | None = None, partner: str | None = None
    ) -> list[dict[str, Any]]:
        """Newest first: id, type, sender, received_at, status."""

    @abc.abstractmethod
    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """Dead-lettered deliveries with their last error."""

    @abc.abstractmethod
    def refused_transmissions(self, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first: inbound transmissions a listener refused whole and let go of, with the reason."""

    @abc.abstractmethod
    def replay(self, ids: list[str] | None, now: float) -> list[HubEvent]:
        """Make dead deliveries due again (``ids``: delivery or message ids; None: all); return the events."""

    @abc.abstractmethod
    def inbox(self, partner: str, limit: int) -> list[DeliveryJob]:
        """Deliveries waiting for a pull partner, oldest first."""

    @abc.abstractmethod
    def ack_inbox(self, partner: str, delivery_id: str, now: float) -> list[HubEvent] | None:
        """Mark a pulled delivery delivered and return the events; None if not this partner's or not waiting."""

    @abc.abstractmethod
    def read_body(self, record_id: str) -> bytes | None:
        """The decoded canonical body of one record."""

    @abc.abstractmethod
    def counts(self) -> dict[str, int]:
        """Deliveries by state and messages in total, for metrics and readiness."""

    @abc.abstractmethod
    def audit(self, events: list[HubEvent]) -> None:
        """Append events that change no state (reads, searches, refused requests) to the audit log."""

    @abc.abstractmethod
    async def audit_async(self, events: list[HubEvent]) -> None:
        """``audit`` from the event loop."""

    @abc.abstractmethod
    def verify_audit(self) -> Any:
        """Walk the hash-chained audit log; return a report with the first broken link, if any."""

    @abc.abstractmethod
    def find_by_index(self, nhs_index: str, partner: str | None = None) -> list[dict[str, Any]]:
        """Messages with this blind-index value: all of them, or those ``partner`` has a search entry for.

        A partner's search must do the same work whatever other partners' messages hold.
        """

    @abc.abstractmethod
    def complete_upgrades(
        self, fingerprint: Callable[[dict[str, Any]], str], index_for: Callable[[str, dict[str, Any]], str | None]
    ) -> int:
        """Finish what a schema migration could not do without keys; return how many records it touched.

        Re-keys fingerprints written before they were keyed, and writes the search entries of
        recipients of messages stored before entries existed (``index_for(partner, message)``).
        """

    @abc.abstractmethod
    def reply_times(self) -> list[tuple[str, str, float, float | None, float | None]]:
        """Per delivered message: partner, type, delivered at, first acknowledgement at, first answer at."""

    @abc.abstractmethod
    def key_usage(self) -> dict[str, int]:
        """Stored data keys per KEK id."""

    @abc.abstractmethod
    def rewrap(self, keys: Any, batch_size: int = 500) -> int:
        """Re-wrap one batch of data keys under the primary KEK; return how many were re-wrapped."""

    @abc.abstractmethod
    def shred_expired(self, retention_days: dict[str, float], now: float, actor: str = "retention") -> int:
        """Crypto-shred finished messages older than their type's retention; return how many."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise if the store cannot be reached."""

    @abc.abstractmethod
    def close(self) -> None:
        """Finish pending commits and release connections."""
