"""The store's port for the care pathway: milestones, their timers, and what an external scheduler must be told.

Like every port (``hub.store.ports``), it is implemented once for both backends (``pathway_backend``, with the
boards' reads in ``pathway_board``) over a backend's write transaction and reads, and every promise below is
checked against both by the contract suite (``tests/contract/test_pathway_store.py``).
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Sequence
from typing import Any

from hub.plugin_api.events import HubEvent
from hub.store.pathway_records import FireResult, PathwayChanges, PathwayClosing


class PathwayStore(abc.ABC):
    """The care pathway's milestones and timers (``hub.store.pathway_records``; statements in ``pathway_ops``).

    Every change writes its event to the audit chain in the same transaction. A timer fires at most once,
    whatever number of processes call ``fire_timer`` (one conditional update decides). ``external``: an
    external scheduler must be told of each timer opened (``sync = schedule``) and of each one cancelled after
    it was told (``sync = cancel``); the embedded scheduler needs neither.
    """

    @abc.abstractmethod
    def pathway_events(self, limit: int) -> tuple[int, list[tuple[Any, ...]]]:
        """The pathway's cursor and up to ``limit`` events after it: ``(seq, kind, record_id, partner, at,
        type, sender, correlation_id, message_id, in_reply_to)`` of ``received`` and ``delivered``
        events, in order."""

    @abc.abstractmethod
    def apply_pathway(self, changes: PathwayChanges, now: float, external: bool) -> list[HubEvent] | None:
        """Open and close milestones and move the cursor from ``changes.after_seq`` to ``changes.to_seq``,
        in one transaction; None (and nothing written) when the cursor was no longer at ``after_seq``.

        Opening is idempotent by milestone id; a milestone of a closed pathway is not opened; a closing message
        makes an open or reminded milestone ``met`` and a breached one ``late`` and cancels its pending timers;
        closing a pathway makes its running milestones ``cancelled`` (once per correlation id).
        """

    @abc.abstractmethod
    def fire_timer(self, timer_id: str, now: float, fired_by: str) -> FireResult:
        """Fire a pending timer whose time has come (2 s of tolerance): ``remind`` makes its milestone
        ``reminded``, ``due`` makes it ``breached``. Anything else (``already_fired``, ``closed``,
        ``not_yet_due``, ``unknown``) changes nothing but writes a ``timer_fire`` event."""

    @abc.abstractmethod
    def close_pathway(self, closing: PathwayClosing, external: bool) -> list[HubEvent]:
        """Close one pathway as a whole (empty when it was closed already)."""

    @abc.abstractmethod
    def due_timers(self, now: float, limit: int) -> list[str]:
        """Pending timers due at or before ``now``, soonest first."""

    @abc.abstractmethod
    def next_timer_due(self) -> float | None:
        """When the soonest pending timer is due (None: none is pending)."""

    @abc.abstractmethod
    def unsent_notices(self, limit: int) -> list[str]:
        """Fired timers whose notice message is not recorded yet (a crash between the two), oldest first."""

    @abc.abstractmethod
    def record_notice(self, timer_id: str, record_id: str) -> None:
        """Remember the stored notice message of a fired timer."""

    @abc.abstractmethod
    def pending_syncs(self) -> list[tuple[str, str, float, int, float | None, str | None]]:
        """``(timer id, sync, due_at, attempts, next attempt at, last error)`` for each sync still to make."""

    @abc.abstractmethod
    def sync_result(self, timer_id: str, sync: str, now: float, next_at: float | None,
                    error: str | None) -> list[HubEvent]:  # fmt: skip
        """Record a sync made (``next_at`` None) or failed (to be tried again at ``next_at``, with ``error``);
        return the ``scheduler_sync`` event written (none when the sync was no longer asked for)."""

    @abc.abstractmethod
    def confirm_cancel_later(self, timer_id: str, now: float, at: float) -> list[HubEvent]:
        """The scheduler took the first cancel of a timer whose schedule call failed (sync ``cancel_uncertain``):
        ask for a second cancel at ``at`` (sync ``confirm_cancel``); the ``scheduler_sync`` event written."""

    @abc.abstractmethod
    def cancel_if_settled(self, timer_id: str, sync: str, now: float) -> list[HubEvent]:
        """Ask for ``sync`` (``cancel``, or ``cancel_uncertain`` when the call failed) of a cancelled timer that has
        no sync left: its schedule call was on its way when the close committed. The ``scheduler_sync`` event
        written (``result`` ``after_close``), none when nothing was asked."""

    @abc.abstractmethod
    def request_sync(self, timer_ids: list[str], sync: str) -> None:
        """Ask for ``sync`` (``schedule`` / ``cancel``) of these timers again (``hub pathway reconcile``)."""

    @abc.abstractmethod
    def pending_timers(self) -> dict[str, float]:
        """Every pending timer's id and due time."""

    @abc.abstractmethod
    def timer_state(self, timer_id: str) -> str | None:
        """``pending``, ``fired`` or ``cancelled``; None for an unknown id."""

    @abc.abstractmethod
    def milestones(self, *, correlation_id: str | None = None, nhs_index: str | Sequence[str] | None = None,
                   partner: str | None = None, due_before: float | None = None,
                   states: Collection[str] | None = None, milestone_id: str | None = None,
                   names: Collection[str] | None = None, limit: int = 1000) -> list[dict[str, Any]]:  # fmt: skip
        """Milestones matching every filter given (``due_before``: running and due by then; ``names``: of these
        milestones), soonest due first, ``limit`` at most, each with its ``timers``. ``nhs_index``: a blind-index
        value, or several looked up in one statement (under every live index key at once while the index is rebuilt,
        as ``find_by_index``)."""

    @abc.abstractmethod
    def open_milestones_for(self, partner: str, name: str, correlation_id: str | None,
                            in_reply_to: str | None) -> list[dict[str, Any]]:  # fmt: skip
        """Running or breached milestones ``name`` of ``partner`` that a message of this correlation, or
        answering (``in_reply_to``) the message that started them, may close."""

    @abc.abstractmethod
    def pathway_closure(self, correlation_id: str) -> dict[str, Any] | None:
        """Why and when the pathway of ``correlation_id`` was closed as a whole; None while it is open."""

    @abc.abstractmethod
    def milestone_counts(self) -> list[tuple[str, str, str, int]]:
        """``(partner, milestone name, state, count)`` for metrics."""

    @abc.abstractmethod
    def milestone_board_counts(self) -> list[tuple[str, str, str, int]]:
        """``(partner, milestone name, state, count)`` of the milestones the boards show (``open``, ``reminded``,
        ``breached``), by partner, name and state: read from an index of those alone (``hub.store.pathway_board``)."""

    @abc.abstractmethod
    def milestone_board_rows(self, states: Sequence[str], names: Sequence[str], partner: str | None = None,
                             limit: int = 200) -> list[dict[str, Any]]:  # fmt: skip
        """The milestones in ``states`` (of those the boards show) named one of ``names`` (and of ``partner``),
        soonest due first, ``limit`` at most, without their timers: one index walk per state and name, so the cost
        grows with ``limit`` and the names asked for, not with the milestones held."""
