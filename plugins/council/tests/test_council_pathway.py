"""The Duty to Refer's first contact as a care-pathway milestone, with a council that speaks council XML.

On a running hub over loopback: the example ``pathways.toml``'s ``dtr-first-contact`` opens when the referral
reaches the council, due 10 working days later (the same working day's end when the referral is urgent), and
is met by a status of contact made (not by received); and with a compressed milestone, the council (council
XML) gets its reminder and due notice as canonical JSON, the referrer its due notice.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from council_helpers import NS, notice_for, status_xml
from lxml import etree

from hub.testing.running_hub import EXAMPLE_CONFIG
from hub.testing.world import HubWorld, Partner

SHORT = """[[milestone]]
name = "dtr-first-contact"
start = { type = "HousingRequest", on = "delivered" }
due = { after = "4s", from = "event" }
remind_before = "2s"
responsible = "delivered_to"
closed_by = [{ type = "HousingStatus", when = [{ field = "payload.status", equals = "contact_made" }] }]
on_breach = { notify = ["responsible", "starter"] }
"""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def pathway_world(hub_world_factory: Callable[..., HubWorld]) -> Callable[[str], HubWorld]:
    """A hub whose Luton council takes council XML, with the given ``pathways.toml``."""

    def make(pathways: str) -> HubWorld:
        world = hub_world_factory([
            Partner("trust-a", "nhs_trust", {"ods_code": "RWK"}),
            Partner("council-luton", "council", {"gss_code": "E06000032"}, adapter="council-xml"),
        ], start=False)  # fmt: skip
        (world.config_dir / "pathways.toml").write_text(pathways)
        world.start()
        return world

    return make


def refer(world: HubWorld, urgent: bool) -> tuple[str, str]:
    """Send a discharge whose Duty to Refer goes to Luton; return its correlation id and the DutyToRefer's id."""
    notice = notice_for("E06000032")
    notice["payload"]["housing"]["urgent"] = urgent
    assert world.post("trust-a", notice).status_code == 202
    council = world.sims["council-luton"]
    assert council.wait_for(lambda s: [r for r in s.received if r.content_type.startswith("application/xml")])
    body = next(r.body for r in council.received if r.content_type.startswith("application/xml"))
    message_id = etree.fromstring(body).findtext(f"{{{NS}}}MessageId")
    assert message_id is not None
    return notice["message_id"], message_id


def json_notices(sim: Any) -> list[dict[str, Any]]:
    """The PathwayNotices a simulator received (as canonical JSON, beside XML documents)."""
    found = [r.message for r in list(sim.received) if r.content_type.startswith("application/json")]
    return [m for m in found if m.get("type") == "PathwayNotice"]


def milestone(world: HubWorld, correlation: str, name: str) -> dict[str, Any] | None:
    response = world.get("ops", f"/v1/pathways/{correlation}")
    if response.status_code != 200:
        return None
    return next((m for m in response.json()["milestones"] if m["milestone"] == name), None)


def wait(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    return None


@pytest.mark.parametrize("urgent", [False, True])
def test_the_first_contact_is_due_in_working_days_and_met_by_contact_made(pathway_world, urgent: bool) -> None:
    world = pathway_world((EXAMPLE_CONFIG / "pathways.toml").read_text())
    correlation, request_id = refer(world, urgent)
    name = "dtr-first-contact-urgent" if urgent else "dtr-first-contact"
    opened = wait(lambda: milestone(world, correlation, name))
    assert opened is not None and opened["partner"] == "council-luton" and opened["state"] == "open"
    assert milestone(world, correlation, "dtr-first-contact" if urgent else "dtr-first-contact-urgent") is None
    config = tomllib.loads((EXAMPLE_CONFIG / "pathways.toml").read_text())
    zone, holidays = ZoneInfo(config["timezone"]), set(map(date.fromisoformat, config["bank_holidays"]))
    start = at(opened["opened_at"]).astimezone(zone)  # the pathway's round after the delivery
    due = at(opened["due_at"]).astimezone(zone)

    def working(day: date) -> bool:
        return day.weekday() < 5 and day not in holidays

    if urgent:  # the end (local midnight) of the working day it arrived on, or of the next one
        day = start.date()
        while not working(day):
            day += timedelta(days=1)
        assert (due.date(), due.time()) in {(day + timedelta(days=1), time(0, 0)), (day, time(23, 59, 59))}, due
    else:  # ten working days later, same wall-clock time (a weekend or holiday start counts from the next one)
        day, left = start.date(), 10
        while left:
            day += timedelta(days=1)
            left -= working(day)
        assert due.date() == day, (start, due)
        assert abs((due.replace(tzinfo=None) - datetime.combine(day, start.time())).total_seconds()) < 30
        # two weeks or more from a working day; from a weekend or holiday, twelve days or more (a Sunday's count
        # ends on the Friday twelve days later); less a clock change either way
        least_days = 14 if working(start.date()) else 12
        assert (due - start).total_seconds() >= least_days * 86400 - 3600 - 30, (start, due)
    received = status_xml(request_id, "received", now(), authority="E06000032")
    assert world.post("council-luton", received, "application/xml").status_code == 202
    contact = status_xml(request_id, "contact_made", now(), authority="E06000032")
    assert world.post("council-luton", contact, "application/xml").status_code == 202
    met = wait(lambda: (m := milestone(world, correlation, name)) and m["state"] == "met" and m)
    assert met, milestone(world, correlation, name)
    assert {t["state"] for t in met["timers"]} == {"cancelled"}


def test_a_council_xml_council_gets_its_reminder_and_due_notice_as_json(pathway_world) -> None:
    world = pathway_world(SHORT)
    correlation, request_id = refer(world, urgent=False)
    council, trust = world.sims["council-luton"], world.sims["trust-a"]
    assert world.post("council-luton", status_xml(request_id, "received", now(), authority="E06000032"),
                      "application/xml").status_code == 202  # fmt: skip
    assert council.wait_for(lambda s: len(json_notices(s)) >= 2, timeout=30)
    notices = json_notices(council)
    assert sorted(n["payload"]["notice"] for n in notices) == ["due", "reminder"]
    assert all(n["payload"]["responsible"] == "council-luton" for n in notices)
    assert trust.wait_for(lambda s: [n for n in s.messages("PathwayNotice") if n["payload"]["notice"] == "due"])
    assert milestone(world, correlation, "dtr-first-contact")["state"] == "breached"  # type: ignore[index]
    contact = status_xml(request_id, "contact_made", now(), authority="E06000032")
    assert world.post("council-luton", contact, "application/xml").status_code == 202
    assert wait(lambda: milestone(world, correlation, "dtr-first-contact")["state"] == "late")  # type: ignore[index]
