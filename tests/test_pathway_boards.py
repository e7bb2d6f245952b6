"""Which milestones the 48-hour board shows, and how the dashboard says the time left."""

from __future__ import annotations

from hub.pathway.clock import Offset
from hub.pathway.spec import DELIVERED_TO, SENDER, MilestoneSpec, Pathways
from hub.services.pathway_boards import deadline_specs, seconds_of
from hub.ui.web import time_left


def spec(name: str, after: str, responsible: str = DELIVERED_TO) -> MilestoneSpec:
    return MilestoneSpec(name, "Referral", "delivered", Offset.parse(after), "event", responsible, ())


def test_the_48_hour_board_takes_the_recipients_milestones_due_48_hours_after_their_start() -> None:
    specs = (spec("assessment", "48h"), spec("two-days", "2d"), spec("senders", "48h", SENDER), spec("a-day", "24h"),
             spec("minutes", "2880min"), spec("working", "2wd"))  # fmt: skip
    pathways = Pathways(milestones=specs)
    assert [m.name for m in deadline_specs(pathways, 48)] == ["assessment", "two-days"]
    assert [m.name for m in deadline_specs(pathways, 24)] == ["a-day"]
    assert deadline_specs(Pathways(), 48) == []


def test_time_left_reads_as_people_say_it() -> None:
    assert time_left(3600 * 47 + 59 * 60 + 30) == "47 h 59 min left"
    assert time_left(-65 * 60) == "overdue by 1 h 05 min"
    assert time_left(3 * 86400 + 7200) == "3 d 2 h left"
    assert time_left(None) == ""
    assert seconds_of("2026-12-03T10:00:00Z") == 1796292000.0 and seconds_of(None) is None
