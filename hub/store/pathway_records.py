"""What the care pathway's store port (``hub.store.ports_pathway.PathwayStore``) takes and gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.plugin_api.events import HubEvent
from hub.store.records import Intake

MILESTONE_STATES = ("open", "reminded", "met", "late", "breached", "cancelled")
#: still running: a closing message meets it (or, after its breach, makes it late)
OPEN_STATES = ("open", "reminded")
TIMER_STATES = ("pending", "fired", "cancelled")
FIRE_OUTCOMES = ("fired", "already_fired", "closed", "not_yet_due", "unknown")
CANCEL_UNCERTAIN = "cancel_uncertain"
"""The ``sync`` of a timer closed after a schedule call that failed: the call may have reached the scheduler and
made the run after all, even after the hub's cancel. Once cancelled, it is cancelled again later (``CONFIRM_CANCEL``,
``[pathway] cancel_confirm_seconds`` after)."""
CONFIRM_CANCEL = "confirm_cancel"
"""The ``sync`` of the second, confirming cancel of a ``CANCEL_UNCERTAIN`` timer."""


@dataclass(frozen=True)
class ScheduledNotice:
    """A timer's notice stored when its milestone opens (the embedded scheduler): ``intake`` stores the
    ``PathwayNotice`` and its deliveries, each scheduled until the timer's time (``NewDelivery.not_before``);
    the store links them to the timer ``f"{milestone id}.{action}"`` (``hub.store.notice_ops``)."""

    action: str  # remind or due
    intake: Intake


@dataclass(frozen=True)
class NewMilestone:
    """A milestone to open, with its timers (``remind_at`` None: none), all times POSIX seconds.

    ``notices`` (the embedded scheduler): the timers' notices, stored with the milestone in its transaction and
    sent when a worker claims them at their time, which fires the timer (``hub.store.notice_claims``). None
    (an external scheduler): a timer's notice is made when the scheduler fires it.
    """

    id: str
    name: str
    partner: str
    start_record: str
    correlation_id: str | None
    opened_at: float
    due_at: float
    remind_at: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    notices: tuple[ScheduledNotice, ...] = ()


@dataclass(frozen=True)
class MilestoneClosing:
    """A closing message met (before due) or came late (after the breach) for one milestone."""

    milestone_id: str
    record_id: str  # the closing message
    at: float


@dataclass(frozen=True)
class PathwayClosing:
    """A pathway closed as a whole: every running milestone of the correlation is cancelled."""

    correlation_id: str
    reason: str
    at: float
    actor: str | None = None
    record_id: str | None = None  # the message that closed it, when one did


@dataclass
class PathwayChanges:
    """What the events from ``after_seq`` to ``to_seq`` mean for the pathway, applied in one transaction."""

    after_seq: int
    to_seq: int
    opened: list[NewMilestone] = field(default_factory=list)
    closed: list[MilestoneClosing] = field(default_factory=list)
    pathways_closed: list[PathwayClosing] = field(default_factory=list)


@dataclass(frozen=True)
class FireResult:
    """What firing a timer did; ``milestone`` is its row (a dict) when the timer is known."""

    outcome: str
    milestone: dict[str, Any] | None = None
    action: str | None = None
    events: tuple[HubEvent, ...] = ()
    """The events the firing committed (what observer plugins are told)."""
    notice_stored: bool = False
    """The timer's notice was stored when its milestone opened (``NewMilestone.notices``): firing released its
    deliveries (due now); no other notice is to be made."""
