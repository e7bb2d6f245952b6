"""The parsed pathway: milestones, what starts and closes each, and what closes a pathway as a whole."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.pathway.clock import NO_HOLIDAYS, Calendar, Offset, end_of_day, instant_of
from hub.routes import Condition, Destination, field_value

ACTIONS = ("remind", "due")
STARTS = ("received", "delivered")
SENDER, DELIVERED_TO = "sender", "delivered_to"


@dataclass(frozen=True)
class Closer:
    """A message that closes a milestone: its type and conditions; it must come from the responsible partner."""

    type: str
    when: tuple[Condition, ...] = ()

    def closes(self, message: dict[str, Any]) -> bool:
        """True when ``message`` is of this type and meets every condition."""
        return message.get("type") == self.type and all(c.holds(message) for c in self.when)


@dataclass(frozen=True)
class MilestoneSpec:
    """One ``[[milestone]]`` of ``pathways.toml``."""

    name: str
    start_type: str
    start_on: str
    due_after: Offset
    due_from: str  # "event" or a dotted field path of the starting message
    responsible: str | Destination  # SENDER, DELIVERED_TO or a route destination
    closed_by: tuple[Closer, ...]
    when: tuple[Condition, ...] = ()
    remind_before: Offset | None = None
    notify_on_breach: tuple[str, ...] = ("responsible",)
    description: str = ""
    due_by: str = "time"  # "time": the offset's time; "end_of_day": midnight at the end of that day in the zone

    def starts(self, on: str, message: dict[str, Any]) -> bool:
        """True when an ``on`` event (``received`` / ``delivered``) of ``message`` opens this milestone."""
        if on != self.start_on or message.get("type") != self.start_type:
            return False
        return all(c.holds(message) for c in self.when)

    def due(self, message: dict[str, Any], event_at: datetime, zone: ZoneInfo, time_scale: float = 1.0,
            calendar: Calendar = NO_HOLIDAYS) -> datetime:  # fmt: skip
        """When the milestone falls due for this starting message (aware, UTC); ``ValueError`` naming the field.

        ``time_scale`` > 1 compresses the clock (demonstrations, tests): the offset, measured on the calendar
        from the start, is divided by it and counted from the starting event. ``calendar`` says which days are
        working days (``wd`` offsets).
        """
        if self.due_from == "event":
            start = event_at
        else:
            start_or_none = instant_of(field_value(message, self.due_from), zone)
            if start_or_none is None:
                raise ValueError(f"{self.due_from} is not a date or date-time in the {self.start_type}")
            start = start_or_none
        due = self.due_after.add(start, zone, calendar)
        if self.due_by == "end_of_day":
            due = end_of_day(due, zone)
        if time_scale != 1.0:
            return event_at.astimezone(UTC) + (due - start) / time_scale
        return due

    def remind_at(self, due: datetime, zone: ZoneInfo, opened: datetime, time_scale: float = 1.0,
                  calendar: Calendar = NO_HOLIDAYS) -> datetime | None:  # fmt: skip
        """When to remind (None: no reminder configured, or the reminder's time had already passed at opening)."""
        if self.remind_before is None:
            return None
        if time_scale != 1.0:
            ahead = due - self.remind_before.subtract(due, zone, calendar)
            at = due - ahead / time_scale
        else:
            at = self.remind_before.subtract(due, zone, calendar)
        return at if at > opened else None


@dataclass(frozen=True)
class PathwayCloser:
    """A ``[[close_pathway]]``: a message that closes the whole pathway of its correlation, with a reason."""

    reason: str
    type: str
    when: tuple[Condition, ...] = ()

    def closes(self, message: dict[str, Any]) -> bool:
        """True when ``message`` is of this type and meets every condition."""
        return message.get("type") == self.type and all(c.holds(message) for c in self.when)


@dataclass(frozen=True)
class Pathways:
    """Everything ``pathways.toml`` declares (empty when there is no such file)."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/London"))
    milestones: tuple[MilestoneSpec, ...] = ()
    closers: tuple[PathwayCloser, ...] = ()
    calendar: Calendar = NO_HOLIDAYS

    def by_name(self, name: str) -> MilestoneSpec | None:
        """The milestone called ``name``, or None."""
        return next((m for m in self.milestones if m.name == name), None)

    @property
    def interesting_types(self) -> frozenset[str]:
        """The message types whose events the pathway reads (starting, closing, pathway-closing)."""
        types = {m.start_type for m in self.milestones} | {c.type for m in self.milestones for c in m.closed_by}
        return frozenset(types | {c.type for c in self.closers})


def milestone_id(name: str, start_record: str, partner: str) -> str:
    """The deterministic id of the milestone ``name`` started by one stored message for one partner."""
    digest = hashlib.sha256(f"{name}\0{start_record}\0{partner}".encode()).hexdigest()[:24]
    return f"{name[:150]}-{digest}"


def timer_id(milestone: str, action: str) -> str:
    """``f"{milestone_id}.{action}"`` (the contract with schedulers)."""
    return f"{milestone}.{action}"


def seconds(moment: datetime) -> float:
    """An aware datetime as POSIX seconds (what the store keeps)."""
    return moment.timestamp()


def moment(value: float) -> datetime:
    """POSIX seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(value, UTC)


__all__ = ["ACTIONS", "STARTS", "Closer", "MilestoneSpec", "PathwayCloser", "Pathways", "timedelta"]
