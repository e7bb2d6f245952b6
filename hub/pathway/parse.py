"""Reading ``pathways.toml``: every error names the file, the milestone and what is wrong, and stops the hub.

```toml
timezone = "Europe/London"
bank_holidays = ["2026-12-25", "2026-12-28"]          # dates that are no working days (for "wd" offsets)

[[milestone]]
name = "assessment"                                    # lower-case letters, digits and '-'
start = { type = "Referral", on = "delivered" }        # on: received (by the hub) or delivered (to a partner)
when = [{ field = "payload.support", exists = true }]  # optional, like a route's conditions
due = { after = "48h", from = "event" }                # from: "event" or a date / date-time field
                                                       # by = "end_of_day": midnight at the end of that day
remind_before = "24h"                                  # optional
responsible = "delivered_to"                           # "sender", "delivered_to" or a route destination
closed_by = [{ type = "Acknowledgement", when = [{ field = "payload.status", equals = "accepted" }] }]
on_breach = { notify = ["responsible"] }               # "responsible", "starter" (the starting sender), partner ids

[[close_pathway]]
reason = "readmission"
type = "DischargeNotice"
when = [{ field = "payload.discharge.method", equals = "4" }]
```
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.pathway.clock import Calendar, Offset
from hub.pathway.spec import DELIVERED_TO, SENDER, STARTS, Closer, MilestoneSpec, PathwayCloser, Pathways
from hub.plugin_api.problems import ConfigError
from hub.routes import Condition, parse_condition, parse_destination
from hub.sections import Section

if TYPE_CHECKING:
    from hub.partners import PartnerDirectory
    from hub.plugin_api.records import Vocabulary

FILE = "pathways.toml"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
NOTIFY_ROLES = ("responsible", "starter")


class _Named(Section):
    """A section whose ``to`` errors (from the route destination parser) name another key."""

    def __init__(self, file: str, prefix: str, data: Any, key: str) -> None:
        super().__init__(file, prefix, data)
        self.key = key

    def where(self, key: str) -> str:
        return super().where(self.key if key == "to" else key)


def load_pathways(config_dir: Path, partners: PartnerDirectory, vocabulary: Vocabulary) -> Pathways:
    """Read ``config_dir/pathways.toml`` (none: no milestones); raise ``ConfigError`` for anything wrong."""
    path = config_dir / FILE
    if not path.exists():
        return Pathways()
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_pathways(data, partners, vocabulary)


def parse_pathways(data: dict[str, Any], partners: PartnerDirectory, vocabulary: Vocabulary) -> Pathways:
    """Check and build the pathway from the parsed TOML of ``pathways.toml``."""
    top = Section(FILE, "", data)
    zone_name = top.get("timezone", str, "Europe/London")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{FILE}: timezone: {zone_name!r} is not a time zone (e.g. 'Europe/London')") from None
    calendar = _calendar(top)
    raw_milestones = top.get("milestone", list, [])
    raw_closers = top.get("close_pathway", list, [])
    top.finish()
    milestones: list[MilestoneSpec] = []
    for index, raw in enumerate(raw_milestones):
        milestone = _milestone(index, raw, partners, vocabulary)
        if any(m.name == milestone.name for m in milestones):
            raise ConfigError(f"{FILE}: milestone[{index}] ({milestone.name}).name: used by another milestone")
        milestones.append(milestone)
    closers = [_closer(index, raw, vocabulary) for index, raw in enumerate(raw_closers)]
    return Pathways(zone, tuple(milestones), tuple(closers), calendar)


def _calendar(top: Section) -> Calendar:
    """``bank_holidays``: ISO dates (``"2026-12-25"``) that are no working days; unique, any order."""
    raw = top.get("bank_holidays", list, [])
    days: set[date] = set()
    for index, value in enumerate(raw):
        try:
            if not isinstance(value, str) or len(value) != 10:
                raise ValueError
            day = date.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"{top.where('bank_holidays')}[{index}]: {value!r} is not a date such as "
                              "'2026-12-25'") from None  # fmt: skip
        if day in days:
            raise ConfigError(f"{top.where('bank_holidays')}[{index}]: {value} is listed twice")
        days.add(day)
    return Calendar(frozenset(days))


def _type(section: Section, key: str, value: Any, vocabulary: Vocabulary) -> str:
    if not isinstance(value, str) or value not in vocabulary.message_types:
        raise ConfigError(f"{section.where(key)}: {value!r} is not a registered message type "
                          f"({vocabulary.known(vocabulary.message_types)})")  # fmt: skip
    return value


def _conditions(section: Section, key: str) -> tuple[Condition, ...]:
    raw = section.get(key, list, [])
    return tuple(parse_condition(section, i, c) for i, c in enumerate(raw))


def _offset(section: Section, key: str, value: Any) -> Offset:
    try:
        return Offset.parse(value)
    except ValueError as exc:
        raise ConfigError(f"{section.where(key)}: {exc}") from None


def _milestone(index: int, raw: Any, partners: PartnerDirectory, vocabulary: Vocabulary) -> MilestoneSpec:
    name = raw.get("name") if isinstance(raw, dict) else None
    label = f"milestone[{index}] ({name})" if isinstance(name, str) else f"milestone[{index}]"
    section = Section(FILE, label, raw)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{section.where('name')}: required, 1-64 lower-case letters, digits or '-' starting "
                          f"with a letter (got {name!r})")  # fmt: skip
    section.get("name", str, None)
    start = Section(FILE, f"{label}.start", section.get("start", dict, None) or _missing(section, "start"))
    start_type = _type(start, "type", start.get("type", str, None), vocabulary)
    start_on = start.get("on", str, "received")
    if start_on not in STARTS:
        raise ConfigError(f"{start.where('on')}: {start_on!r} is not one of {', '.join(STARTS)}")
    start.finish()
    due = Section(FILE, f"{label}.due", section.get("due", dict, None) or _missing(section, "due"))
    due_after = _offset(due, "after", due.get("after", str, None))
    due_by = due.get("by", str, "time")
    if due_by not in ("time", "end_of_day"):
        raise ConfigError(f"{due.where('by')}: {due_by!r} is not 'time' or 'end_of_day'")
    if due_after.amount <= 0 and not (due_after.unit == "wd" and due_by == "end_of_day"):
        raise ConfigError(f"{due.where('after')}: must be more than nothing (only '0wd' with by = 'end_of_day', "
                          "the same working day, may be nothing)")  # fmt: skip
    due_from = due.get("from", str, "event")
    if due_from != "event" and not _FIELD.match(due_from):
        raise ConfigError(f"{due.where('from')}: 'event' or a dotted field path such as 'payload.referral_date', "
                          f"got {due_from!r}")  # fmt: skip
    due.finish()
    remind_raw = section.get("remind_before", str, None)
    remind = _offset(section, "remind_before", remind_raw) if remind_raw is not None else None
    if remind is not None and remind.amount <= 0:
        raise ConfigError(f"{section.where('remind_before')}: must be more than nothing (leave it out for none)")
    if remind is not None and not remind.is_calendar and not due_after.is_calendar:
        factor = {"s": 1, "min": 60, "h": 3600}
        if remind.amount * factor[remind.unit] >= due_after.amount * factor[due_after.unit]:
            raise ConfigError(f"{section.where('remind_before')}: {remind} is not less than due.after "
                              f"({due_after}): the reminder would come before the milestone starts")  # fmt: skip
    responsible = _responsible(section, start_on, partners, vocabulary)
    closed_raw = section.get("closed_by", list, None)
    if not closed_raw:
        raise ConfigError(f"{section.where('closed_by')}: required: at least one {{ type = ..., when = [...] }} "
                          "that the responsible partner sends to meet the milestone")  # fmt: skip
    closed_by = []
    for i, item in enumerate(closed_raw):
        closer = Section(FILE, f"{label}.closed_by[{i}]", item)
        closed_by.append(Closer(_type(closer, "type", closer.get("type", str, None), vocabulary),
                                _conditions(closer, "when")))  # fmt: skip
        closer.finish()
    breach = Section(FILE, f"{label}.on_breach", section.get("on_breach", dict, {}))
    notify = breach.get("notify", list, ["responsible"])
    for who in notify:
        if who not in NOTIFY_ROLES and (not isinstance(who, str) or partners.get(who) is None):
            raise ConfigError(f"{breach.where('notify')}: {who!r} is neither one of {', '.join(NOTIFY_ROLES)} nor "
                              "a partner id of partners.toml")  # fmt: skip
    breach.finish()
    spec = MilestoneSpec(
        name=name, start_type=start_type, start_on=start_on, due_after=due_after, due_from=due_from,
        responsible=responsible, closed_by=tuple(closed_by), when=_conditions(section, "when"),
        remind_before=remind, notify_on_breach=tuple(dict.fromkeys(notify)),
        description=section.get("description", str, ""), due_by=due_by,
    )  # fmt: skip
    section.finish()
    return spec


def _responsible(section: Section, start_on: str, partners: PartnerDirectory, vocabulary: Vocabulary) -> Any:
    raw = section.get("responsible", (str, dict), None)
    if raw is None:
        _missing(section, "responsible")
    if raw == SENDER:
        return SENDER
    if raw == DELIVERED_TO:
        if start_on != "delivered":
            raise ConfigError(f"{section.where('responsible')}: 'delivered_to' needs start.on = 'delivered'")
        return DELIVERED_TO
    named = _Named(section.file, section.prefix, section.data, "responsible")
    return parse_destination(named, raw, partners, vocabulary)


def _closer(index: int, raw: Any, vocabulary: Vocabulary) -> PathwayCloser:
    section = Section(FILE, f"close_pathway[{index}]", raw)
    reason = section.get("reason", str, None)
    if not reason or not _NAME.match(reason.replace("_", "-")):
        raise ConfigError(f"{section.where('reason')}: required, a short word such as 'readmission' (got {reason!r})")
    closer = PathwayCloser(reason, _type(section, "type", section.get("type", str, None), vocabulary),
                           _conditions(section, "when"))  # fmt: skip
    section.finish()
    return closer


def _missing(section: Section, key: str) -> Any:
    raise ConfigError(f"{section.where(key)}: required")
