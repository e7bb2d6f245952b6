"""The store's ports: what every backend (SQLite now, PostgreSQL later) provides, in small parts.

A service depends on the part it uses (the worker on ``DeliveryQueue``, the message views on
``ReadModel``, ``hub audit verify`` on ``AuditLog``, retention and key rotation on
``KeyMaintenance``, the blind index's rebuild on ``IndexRebuilding``); a backend implements
``Store``, the union of them all. Every promise written in these docstrings is checked against
every backend by the contract suite (``tests/contract/``).

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
  Deliveries that share an order key go out one at a time, in the order they
  were accepted (``DeliveryQueue.claim`` says exactly what holds them back).
- Bodies are written and read only through the store's ``CodecRegistry``.
- Every state change writes its events to the hash-chained audit log in the same transaction.
- A fault that passes (the database cannot be reached, a connection is lost, no connection comes
  free within ``StoreOptions.pool_timeout_seconds``) is raised as
  ``hub.plugin_api.problems.StoreUnavailable``, never as the driver's own error and never after an
  unbounded wait; the faces answer it 503 with ``Retry-After``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from hub.plugin_api.events import HubEvent
from hub.store.alert_port import AlertStore
from hub.store.audit_chain import ChainReport
from hub.store.index_rebuild import IndexRebuild
from hub.store.ports_console import ConsoleReads, UserStore
from hub.store.ports_pathway import PathwayStore
from hub.store.rebuild_lock import RebuildLock
from hub.store.records import AcceptResult, Claimed, DeliveryJob, Intake, Outcome, ReplyTarget


@dataclass(frozen=True)
class StoreOptions:
    """How a backend that keeps a pool of connections sizes it, and the disk it keeps free (``[store]``).

    ``pool_size``: read connections per process, at most; ``pool_timeout_seconds``: the longest a
    caller waits for one (then ``StoreUnavailable``). A backend without a pool ignores them.
    """

    pool_size: int = 10
    pool_timeout_seconds: float = 5.0
    reserve_bytes: int = 64 << 20
    """SQLite: free disk space kept for recording what happens to accepted messages; below it, intake is
    refused with 503 and the store is not ready (``hub.store.disk_space``). 0 turns the check off."""


class DeliveryQueue(abc.ABC):
    """Intake commits and the delivery state machine (``hub.store.records.DeliveryState``)."""

    @abc.abstractmethod
    async def accept(self, intake: Intake) -> AcceptResult:
        """Commit an intake durably (group-committed with others); return id and duplicate flag.

        A push delivery starts ``pending`` and due at once, a pull delivery ``available``. A repeat
        (same sender and ``message_id``, or same sender and idempotency key) stores nothing new,
        writes a ``duplicate`` event and returns the first record's id with ``duplicate=True``; a
        repeat with another fingerprint raises ``Conflict`` and writes nothing. ``acknowledges``
        moves the acknowledged delivery to its new state unless it is ``dead``.
        """

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
    async def claim(self, limit: int, now: float, lease_seconds: float, *, expired_by: float | None = None) -> Claimed:
        """Lease up to ``limit`` due push deliveries, oldest due first; each counts as an attempt. What the claim
        wrote besides, for observers, is in the result's ``told`` (``records.Claimed``).

        Due means ``pending`` with ``due_at <= now``, or ``in_flight`` whose lease ended by ``expired_by``
        (``now`` when not given: a worker whose own clock may run ahead of the wall clock passes the wall
        clock here, so that it never takes a lease another process still holds). New leases end at
        ``now + lease_seconds``. Every
        job carries the new lease id and the decoded body; a delivery whose body cannot be read
        is made ``dead`` with the reason instead of being handed out.

        Order (deliveries stored with an ``order_key``, ``NewDelivery.order_key``): the deliveries
        of one key are ordered by acceptance: of two intakes, the one whose commit came first
        (within one intake, the order of ``Intake.deliveries``); a backend numbers a key's
        deliveries in commit order, never by a counter taken before commit. A delivery of a key
        is handed out only when every delivery of that key accepted before it is neither
        ``pending`` nor ``in_flight`` (so a retry waiting out its back-off, or a delivery leased
        to a worker that may have died, holds back the later ones until it ends), and no longer:
        once the earlier ones have ended (delivered, dead, acknowledged or rejected), a claim at
        or after that moment may hand out the next. One claim never hands out two deliveries of
        one key, and neither do two claims while the first's lease lasts. A ``dead`` earlier
        delivery holds nothing back; a later one handed out for the first time (``attempts`` 1)
        while an earlier one of its key is dead writes a ``warning`` event on the later one's
        message and delivery, detail ``{"warning": records.OVERTAKING_WARNING, "overtook": [dead
        delivery ids, oldest first]}``. ``replay`` puts a dead delivery back in its old place: the
        later ones still waiting wait for it again. Finished deliveries and pull deliveries
        (``available``) hold nothing back. Deliveries without a key, and deliveries of different
        keys, are claimed independently, oldest due first. A claim may hand out fewer than
        ``limit`` while more are due (a backend may bound the work of one claim), but claim after
        claim, every due delivery that nothing holds back is handed out, however many held-back
        ones are due before it.
        """

    @abc.abstractmethod
    async def extend_leases(self, leases: list[tuple[str, str]], until: float) -> int:
        """The worker's heartbeat: lengthen each lease ``(delivery id, lease id)`` it still holds to ``until``.

        Returns how many are still held. A lease that ran out and was claimed again, or whose
        outcome is recorded, is not extended (its id no longer matches or the delivery is no
        longer in flight); a lease is never shortened.
        """

    @abc.abstractmethod
    async def record(self, outcomes: list[Outcome]) -> list[HubEvent]:
        """Commit delivery outcomes; return the events written.

        An outcome counts only under the lease it was claimed with (otherwise it is dropped and
        writes no event). ``delivered`` keeps an ``acknowledged`` or ``rejected`` state that an
        acknowledgement set meanwhile; ``pending`` makes it due again at ``due_at``; ``dead``
        keeps the error for the operator.
        """

    @abc.abstractmethod
    def replay(self, ids: list[str] | None, now: float) -> list[HubEvent]:
        """Make dead deliveries due again with no attempts counted; return the events.

        ``ids`` are delivery ids or message record ids (None: every dead delivery); deliveries
        that are not dead are left alone.
        """

    @abc.abstractmethod
    def cancel_scheduled(self, delivery_id: str, now: float, actor: str) -> list[HubEvent] | None:
        """Cancel a scheduled delivery (``NewDelivery.not_before``): one ``pending``, never attempted and not due
        before ``now``; it becomes ``cancelled`` (never claimed) with a ``cancelled`` event. None, and nothing
        changed, for any other delivery."""

    @abc.abstractmethod
    def inbox(self, partner: str, limit: int) -> list[DeliveryJob]:
        """Deliveries waiting (``available``) for this pull partner only, oldest first, with bodies."""

    @abc.abstractmethod
    def ack_inbox(self, partner: str, delivery_id: str, now: float) -> list[HubEvent] | None:
        """Mark a pulled delivery delivered and return the events; None if not this partner's or not waiting."""


class ReadModel(abc.ABC):
    """What operators, partners and the router read; nothing here changes state."""

    @abc.abstractmethod
    def find_reply_targets(self, in_reply_to: str, replier: str) -> list[ReplyTarget]:
        """Every message with ``message_id == in_reply_to`` delivered to ``replier`` (ids are unique per sender)."""

    @abc.abstractmethod
    def record_of(self, sender: str, message_id: str) -> str | None:
        """The record id of the message ``sender`` sent with ``message_id`` (unique per sender), or None when the
        store holds none: committed messages only, shredded ones included (their row stays)."""

    @abc.abstractmethod
    def message_view(self, record_id: str) -> dict[str, Any] | None:
        """State, deliveries, derived messages and timeline of one message (no body); None if unknown.

        Shaped by ``hub.store.views.message_view`` so that every backend shows the same thing.
        """

    @abc.abstractmethod
    def may_read(self, partner_id: str, record_id: str) -> bool:
        """True when the partner sent the message or is one of its recipients."""

    @abc.abstractmethod
    def list_messages(
        self, *, limit: int = 50, message_type: str | None = None, partner: str | None = None
    ) -> list[dict[str, Any]]:
        """Newest first: id, type, sender, received_at, status (``partner``: sent by or to it)."""

    @abc.abstractmethod
    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """Dead-lettered deliveries with their last error."""

    @abc.abstractmethod
    def refused_transmissions(self, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first: inbound transmissions a listener refused whole and let go of, with the reason."""

    @abc.abstractmethod
    def read_body(self, record_id: str) -> bytes | None:
        """The decoded canonical body of one record; None if unknown; ``BodyUnreadable`` once shredded."""

    @abc.abstractmethod
    def find_by_index(self, nhs_index: str | Sequence[str], partner: str | None = None) -> list[dict[str, Any]]:
        """Messages with this blind-index value (or any of these): all of them, or those ``partner`` has a search
        entry for, oldest first.

        Several values are looked up in one statement, so on one snapshot of the store: while the index is
        rebuilt a message moves from its old-key value to its new-key value in one transaction, and a search
        under both finds it exactly once at any moment (two lookups one after the other could miss a message
        moved between them). A partner's search must do the same work whatever other partners' messages hold.
        """

    @abc.abstractmethod
    def counts(self) -> dict[str, int]:
        """Deliveries by state (``deliveries_<state>``) and ``messages`` in total, for metrics and readiness."""

    @abc.abstractmethod
    def reply_times(
        self, answer_types: Collection[str] | None = None
    ) -> list[tuple[str, str, float, float | None, float | None]]:
        """Per delivered message: partner, type, delivered at, first acknowledgement at, first answer at.

        A message counts once per partner it was delivered to, Acknowledgements left out. Delivered
        at is when its delivery was recorded delivered, else when that partner acknowledged it (a
        pull partner may acknowledge by message before taking it from its inbox); a delivery that
        is neither (waiting, dead) is left out. The first acknowledgement and the first answer are
        the earliest replies of that partner naming the message (``in_reply_to``): an Acknowledgement,
        and any other type (with ``answer_types``: one of those types only). None until one comes.
        """

    @abc.abstractmethod
    def status_replies(
        self, answer_types: Collection[str]
    ) -> list[tuple[str, str, str, str, float, str, str, str, float | None, float]]:
        """Every status reply of ``answer_types`` to a delivered message, oldest status first.

        A row per reply that carries a clear business status (``NewMessage.status``, from a type's
        ``MessageType.status``) and answers a message delivered to its sender: the very record intake
        resolved from its ``in_reply_to`` (``NewMessage.answers_record``; a message_id is unique per sender
        only, so another sender's message with that id is not answered by it):
        (partner, that message's sender, its message_id, its type, delivered at, the reply's message_id,
        the reply's type, status, status at, the reply's received at). Delivered at is as in
        ``reply_times`` (the recorded delivery, else the partner's acknowledgement), and a message that
        is neither is left out, so both count the same messages. Rows are ordered by partner, sender,
        message id, then status at (None first), received at and the reply's message_id: for one
        message, the last row is its current status.
        """


class AuditLog(abc.ABC):
    """The hash-chained log of every event (``hub.store.audit_chain``)."""

    @abc.abstractmethod
    def audit(self, events: list[HubEvent]) -> None:
        """Append events that change no state (reads, searches, refused requests) to the audit log."""

    @abc.abstractmethod
    async def audit_async(self, events: list[HubEvent]) -> None:
        """``audit`` from the event loop."""

    @abc.abstractmethod
    def verify_audit(self) -> ChainReport:
        """Walk the hash-chained audit log; report the first changed or missing row, if any, and the head."""


class KeyMaintenance(abc.ABC):
    """Work on the stored keys and bodies: rotation, retention, upgrades that need the keys."""

    @abc.abstractmethod
    def key_usage(self) -> dict[str, int]:
        """Stored data keys per KEK id."""

    @abc.abstractmethod
    def rewrap(self, keys: Any, batch_size: int = 500) -> int:
        """Re-wrap one batch of data keys under the primary KEK; return how many were re-wrapped (0: done)."""

    @abc.abstractmethod
    def shred_expired(self, retention_days: dict[str, float], now: float, actor: str = "retention") -> int:
        """Crypto-shred finished messages older than their type's retention; return how many.

        A message with a delivery still waiting is kept. Shredding clears the body, its data
        key, its keyed fingerprint, its blind-index value and its search entries; routing
        metadata and the audit trail stay.
        """

    @abc.abstractmethod
    def complete_upgrades(
        self, fingerprint: Callable[[dict[str, Any]], str], index_for: Callable[[str, dict[str, Any]], str | None]
    ) -> int:
        """Finish what a schema migration could not do without keys; return how many records it touched.

        Re-keys fingerprints written before they were keyed, and writes the search entries of
        recipients of messages stored before entries existed (``index_for(partner, message)``).
        """


class IndexRebuilding(abc.ABC):
    """Moving stored values to a new key, batch by batch (``hub.store.index_rebuild``): the blind index under a new
    index key, the keyed fingerprints under a new fingerprint key. Each rebuild is known by its new key's id;
    the rebuild of one purpose has a lock of its own. Written once for both backends in
    ``hub.store.rebuild_backend``."""

    @abc.abstractmethod
    def begin_index_rebuild(
        self, old_key_id: str, new_key_id: str, now: float, actor: str, purpose: str = "index"
    ) -> IndexRebuild:
        """Start the rebuild from ``old_key_id`` to ``new_key_id`` (key ring ids), on the audit chain in the
        same transaction; return its state. Beginning one already begun returns it unchanged. ``purpose``:
        which keys (``hub.store.index_rebuild.Rekeying``): ``index`` or ``fingerprint``; another is refused
        with ``ValueError``."""

    @abc.abstractmethod
    def index_rebuild(self, purpose: str = "index") -> IndexRebuild | None:
        """The latest rebuild of ``purpose``'s keys (finished or not), or None if they never rotated. Reads only."""

    @abc.abstractmethod
    def rebuild_index_batch(
        self,
        new_key_id: str,
        reindex: Callable[[dict[str, Any]], str | None],
        batch_size: int,
        now: float,
        settle_seconds: float,
    ) -> tuple[IndexRebuild, int]:
        """Re-index one batch (``reindex(message)`` is the value under the new key); return the state and the
        rows seen. The batch's values, search entries and the cursor commit together; the batch that finishes
        the rebuild puts that on the audit chain. A finished rebuild changes nothing. ``settle_seconds``: see
        ``hub.store.index_rebuild`` (the ``recent`` phase)."""

    @abc.abstractmethod
    def lock_index_rebuild(self, new_key_id: str, runner: str, purpose: str = "index") -> RebuildLock | None:
        """Take, without waiting, the lock that lets one process at a time run the rebuild to ``new_key_id``
        (``hub.store.rebuild_lock``: freed at once if the holder dies), and record ``runner`` (who holds it)
        in the rebuild's row; None, changing nothing, while another process holds it."""


class Lifecycle(abc.ABC):
    """Opening is ``hub.store.open_store``; the rest of a store's life is here."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise if the store cannot be reached."""

    @abc.abstractmethod
    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from any thread; it must be cheap and thread-safe) when a commit, in this
        process or another, may have made deliveries due.

        A backend that cannot hear other processes does nothing: a worker's polling is the
        fallback either way, so a missed call delays a delivery by at most one poll interval.
        """

    @abc.abstractmethod
    def compact(self) -> bool:
        """Give back space left by shredding or deletion where the backend can; True when done completely.

        Never changes what the store holds; a backend with nothing to do returns True.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Finish pending commits and release connections."""


class Store(
    DeliveryQueue,
    ReadModel,
    AuditLog,
    KeyMaintenance,
    IndexRebuilding,
    Lifecycle,
    PathwayStore,
    AlertStore,
    UserStore,
    ConsoleReads,
):
    """Durable home of messages, deliveries, idempotency keys and timelines: every port in one backend."""
