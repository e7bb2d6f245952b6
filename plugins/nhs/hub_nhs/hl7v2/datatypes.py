"""HL7 v2 date and time values (DT, DTM/TS) to and from the canonical RFC 3339 forms.

An HL7 time stamp without an offset is local time where the trust is, which
for the hub's partners is England: it is read in ``Europe/London`` (so BST is
handled) and written out in UTC. Functions return None for a value they cannot
read; the caller turns that into a problem with the field's location.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Europe/London")
_TS = re.compile(
    r"^(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})(?P<h>\d{2})(?P<mi>\d{2})(?P<s>\d{2})?(?:\.\d{1,4})?"
    r"(?P<off>[+-]\d{4})?$"
)
_DATE = re.compile(r"^(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})(?:\d{0,6}(?:\.\d{1,4})?)?(?:[+-]\d{4})?$")


def read_date(value: str) -> date | None:
    """``YYYYMMDD`` (any time part is ignored) as a date, or None."""
    match = _DATE.match(value)
    if not match:
        return None
    try:
        return date(int(match["y"]), int(match["mo"]), int(match["d"]))
    except ValueError:
        return None


def read_timestamp(value: str) -> datetime | None:
    """``YYYYMMDDHHMM[SS[.S...]][+/-ZZZZ]`` as an aware datetime in UTC, or None.

    Precision to the minute is required: a discharge known only to the day
    cannot honestly become a date-time.
    """
    match = _TS.match(value)
    if not match:
        return None
    try:
        local = datetime(int(match["y"]), int(match["mo"]), int(match["d"]), int(match["h"]), int(match["mi"]),
                         int(match["s"] or 0))  # fmt: skip
    except ValueError:
        return None
    offset = match["off"]
    if offset:
        sign = 1 if offset[0] == "+" else -1
        minutes = int(offset[1:3]) * 60 + int(offset[3:5])
        if minutes >= 24 * 60:
            return None
        zone: timezone | ZoneInfo = timezone(sign * timedelta(minutes=minutes))
    else:
        zone = LOCAL_ZONE
    return local.replace(tzinfo=zone).astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    """An aware datetime as RFC 3339 UTC with ``Z`` (seconds precision)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def hl7_timestamp(moment: datetime) -> str:
    """An aware datetime as an HL7 DTM with explicit offset, ``YYYYMMDDHHMMSS+0000``."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")
