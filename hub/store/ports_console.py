"""The store's ports for the operator dashboard: its users, and the reads and changes its screens need.

Like every port (``hub.store.ports``), each is implemented once for both backends (``users_backend``,
``console_backend``) over a backend's write transaction and reads, and every promise below is checked against
both by the contract suite. Every change writes its event to the audit chain in the same transaction.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from hub.plugin_api.events import HubEvent

ReplyRow = tuple[str, str, float, float | None, float | None]
"""(partner, type, delivered at, first acknowledgement at, first answer at): a row of ``ReadModel.reply_times``."""


@dataclass(frozen=True)
class MessageFilter:
    """What a message search keeps; every field given must hold (None: any).

    ``record_ids``: only these messages (the NHS-number search's hits, found through the blind index);
    ``partner``: sent by it or delivered to it; ``state``: a delivery of the message is in that state;
    ``received_from`` / ``received_to``: seconds since the epoch, from inclusive, to exclusive.
    """

    record_ids: Collection[str] | None = None
    correlation_id: str | None = None
    partner: str | None = None
    message_type: str | None = None
    state: str | None = None
    received_from: float | None = None
    received_to: float | None = None


class UserStore(abc.ABC):
    """The dashboard's users: a name, a role, an argon2 password hash, failed logins and a lock.

    Names are unique. A disabled user stays (its audit trail names it) and cannot log in again.
    """

    @abc.abstractmethod
    def add_user(self, name: str, role: str, password_hash: str, now: float, actor: str) -> bool:
        """Store a new user (audited ``user_added`` with its role); False, and nothing changed, if the name is taken."""

    @abc.abstractmethod
    def user(self, name: str) -> dict[str, Any] | None:
        """``name``, ``role``, ``password_hash``, ``created_at``, ``disabled_at``, ``failed_logins``,
        ``locked_until``, ``last_login_at``; None when there is no such user."""

    @abc.abstractmethod
    def users(self) -> list[dict[str, Any]]:
        """Every user by name, as ``user`` gives them but without ``password_hash``."""

    @abc.abstractmethod
    def disable_user(self, name: str, now: float, actor: str) -> bool:
        """Disable a user (audited ``user_disabled``); False when there is no such user or it is disabled already."""

    @abc.abstractmethod
    def disable_user_keeping_an_admin(self, name: str, now: float, actor: str) -> str:
        """Disable a user (audited ``user_disabled``) unless it is the last enabled admin, in one transaction:
        ``"disabled"``, ``"missing"`` (no such enabled user) or ``"last_admin"`` (nothing changed)."""

    @abc.abstractmethod
    def reset_user_password(self, name: str, password_hash: str, now: float, actor: str) -> bool:
        """Give an enabled user a new password hash and lift its lock (audited ``user_password_reset``); False
        when there is no such enabled user."""

    @abc.abstractmethod
    def login_succeeded(self, name: str, now: float, detail: dict[str, Any]) -> None:
        """Clear the user's failed logins and lock, set ``last_login_at``; audit ``login`` by ``name``."""

    @abc.abstractmethod
    def login_failed(self, name: str, now: float, lock_for: Callable[[int], float], detail: dict[str, Any]) -> int:
        """Count one more failed login of ``name`` and audit ``login_failed`` by ``name``, in one transaction.

        ``lock_for(failures)`` gives the seconds to lock the user for after that many failures in a row
        (0: no lock); ``locked_until`` becomes ``now`` plus that. Returns the failures in a row now (0 when
        there is no such user: the failure is audited all the same).
        """

    @abc.abstractmethod
    def record_view(self, events: list[HubEvent]) -> None:
        """Audit what a user viewed or did that changes nothing (``AuditLog.audit``, named for the dashboard)."""


class ConsoleReads(abc.ABC):
    """What the dashboard's screens read beyond the ``ReadModel``, and dropping a dead letter."""

    @abc.abstractmethod
    def search_messages(self, where: MessageFilter, limit: int,
                        before: tuple[float, str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """Messages newest first, ``limit`` at most, each as ``ReadModel.list_messages`` lists them plus
        ``correlation_id`` and ``received`` (seconds since the epoch).

        Keyset paging: ``before`` is the ``(received, id)`` of the last row of the page before; the next page
        holds only rows ordered after it, so a page costs the same however deep it is.
        """

    @abc.abstractmethod
    def partner_recent_replies(self, partner: str, limit: int) -> list[ReplyRow]:
        """The ``limit`` latest deliveries done to ``partner`` (delivered, or acknowledged by a pull partner), newest
        first, Acknowledgements left out: ``(partner, type, done at, first acknowledgement at, first answer at)`` as
        ``ReadModel.reply_times`` gives them. One index walk: its cost does not grow with the store."""

    @abc.abstractmethod
    def activity(self, since: float) -> list[tuple[str, str, str, int, int]]:
        """``(kind, partner, type, minute, count)`` since ``since``: ``kind`` is ``accepted`` (messages received,
        ``partner`` the sender) or ``delivered`` (``partner`` the recipient); ``minute`` counts whole minutes of the
        epoch from the one holding ``since`` (0 for that one). Read from per-minute counters the store keeps as it
        writes (``activity_minutes``), so its cost does not grow with the traffic."""

    @abc.abstractmethod
    def prune_activity(self, before: float, minutes: int = 60) -> int:
        """Drop the ``activity`` counters of the oldest ``minutes`` minutes that are wholly before ``before``, in one
        short transaction; return how many rows went (0: none is left before ``before``). Call it again until it
        returns 0: each call is bounded, so a store holding years of counters never holds its writer for long.
        The counters gain rows every minute something is accepted or delivered (on PostgreSQL per writing session
        too), and only the last hour is shown."""

    @abc.abstractmethod
    def queue_depths(self) -> list[tuple[str, str, int, int, float | None]]:
        """``(partner, state, count, failing, oldest_failing_created)`` for deliveries still to do or dead:
        ``failing`` counts those that have failed at least once; the time is that of the oldest of them. A
        scheduled delivery (due later and never tried: ``NewDelivery.not_before``) is not counted: no backlog."""

    @abc.abstractmethod
    def audit_events(self, *, kind: str | None = None, actor: str | None = None, record_id: str | None = None,
                     before: int | None = None, limit: int = 50) -> list[dict[str, Any]]:  # fmt: skip
        """Audit log entries newest first, ``limit`` at most: ``seq``, ``at`` (epoch seconds), ``kind``,
        ``record_id``, ``delivery_id``, ``partner``, ``actor``, ``detail`` (a dict). Each filter given must hold;
        ``before`` is a ``seq``: only older entries (keyset paging)."""

    @abc.abstractmethod
    def drop_dead(self, delivery_id: str, reason: str, now: float, actor: str) -> list[HubEvent]:
        """A dead delivery given up for good: ``cancelled``, with a ``dropped`` event (``reason``, a code).

        An empty list, and nothing changed, when ``delivery_id`` names no dead delivery.
        """
