"""Offsets on the pathway's clock: elapsed hours, and calendar days and months in a zone (Europe/London).

``Offset.parse("72h")``: units ``s`` (seconds), ``min`` (minutes) and ``h`` (hours) are elapsed time; ``d``
(days), ``w`` (weeks) and ``mo`` (calendar months) keep the wall-clock time in the zone, so 30 days after 10:00
on 1 March is 10:00 on 31 March whether or not the clocks went forward between, and a month after 31 January is
the last day of February. A wall time that does not exist (the hour the clocks skip) is read as it would be
before the change, which moves it forward by the gap; one that happens twice is the first of the two.

``wd`` (working days) counts Monday to Friday in the zone, skipping the bank holidays given (a ``Calendar``):
``n wd`` after an instant is the same wall time on the n-th working day after its date (from a Saturday, 1 wd
is Monday); ``0wd`` is the instant's own date when that is a working day, else the next working day (with
``end_of_day``: "the same working day"). Nothing knows bank holidays by itself: the list comes from the
configuration and must be kept up to date by whoever runs the hub.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_OFFSET = re.compile(r"^\s*(\d{1,6})\s*(s|min|h|d|wd|w|mo)\s*$")
UNITS = {"s": "seconds", "min": "minutes", "h": "hours", "d": "days", "wd": "working days", "w": "weeks",
         "mo": "calendar months"}  # fmt: skip
WEEKEND = (5, 6)  # Saturday, Sunday (date.weekday())


@dataclass(frozen=True)
class Calendar:
    """Which dates are working days: Monday to Friday, except the listed bank holidays."""

    bank_holidays: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        """True for a Monday to Friday that is not a listed bank holiday."""
        return day.weekday() not in WEEKEND and day not in self.bank_holidays

    def add_working_days(self, day: date, amount: int) -> date:
        """The ``amount``-th working day after ``day`` (before it when negative); for 0, ``day`` itself when it
        is a working day, else the next working day."""
        step = 1 if amount >= 0 else -1
        if amount == 0:
            while not self.is_working_day(day):
                day += timedelta(days=1)
            return day
        for _ in range(abs(amount)):
            day += timedelta(days=step)
            while not self.is_working_day(day):
                day += timedelta(days=step)
        return day


NO_HOLIDAYS = Calendar()


@dataclass(frozen=True)
class Offset:
    """A whole number of one unit (see the module's docstring)."""

    amount: int
    unit: str

    @classmethod
    def parse(cls, text: str) -> Offset:
        """``"48h"`` -> ``Offset(48, "h")``; ``ValueError`` saying what is accepted otherwise."""
        match = _OFFSET.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"{text!r} is not an offset: give a whole number and a unit, one of "
                             f"{', '.join(f'{u} ({n})' for u, n in UNITS.items())}, e.g. '72h' or '3mo'")  # fmt: skip
        return cls(int(match.group(1)), match.group(2))

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    @property
    def is_calendar(self) -> bool:
        """True for days, working days, weeks and months (wall-clock time in the zone), False for elapsed time."""
        return self.unit in ("d", "wd", "w", "mo")

    def add(self, instant: datetime, zone: ZoneInfo, calendar: Calendar = NO_HOLIDAYS) -> datetime:
        """``instant`` (aware) plus this offset, as an aware UTC datetime (``calendar`` for working days)."""
        if instant.tzinfo is None:
            raise ValueError("the instant must carry its offset")
        if not self.is_calendar:
            seconds = {"s": 1, "min": 60, "h": 3600}[self.unit] * self.amount
            return instant.astimezone(UTC) + timedelta(seconds=seconds)  # in UTC: zoned arithmetic is wall time
        local = instant.astimezone(zone).replace(tzinfo=None)  # the wall-clock time there
        if self.unit == "mo":
            local = add_months(local, self.amount)
        elif self.unit == "wd":
            day = calendar.add_working_days(local.date(), self.amount)
            local = datetime.combine(day, local.time())
        else:
            local = local + timedelta(days=self.amount * (7 if self.unit == "w" else 1))
        return local.replace(tzinfo=zone, fold=0).astimezone(UTC)

    def subtract(self, instant: datetime, zone: ZoneInfo, calendar: Calendar = NO_HOLIDAYS) -> datetime:
        """``instant`` minus this offset (for a reminder ``before`` a due time), as an aware UTC datetime."""
        return Offset(-self.amount, self.unit).add(instant, zone, calendar) if self.amount else instant.astimezone(UTC)


def end_of_day(instant: datetime, zone: ZoneInfo) -> datetime:
    """Midnight at the end of ``instant``'s date in ``zone`` (the next day's 00:00 there), as aware UTC."""
    local = instant.astimezone(zone)
    following = local.date() + timedelta(days=1)
    return datetime(following.year, following.month, following.day, tzinfo=zone).astimezone(UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """Same wall time ``months`` calendar months later (or earlier); the day is clamped to the month's last."""
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def instant_of(value: object, zone: ZoneInfo) -> datetime | None:
    """A field's value as an aware instant: an ISO date-time (``Z`` or an offset; none means the zone's wall
    time), or a date (midnight in the zone). None when it is neither."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=zone)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
