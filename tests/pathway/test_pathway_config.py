"""pathways.toml: the example loads; anything wrong is refused naming the file, the milestone and what."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hub.config import load_config
from hub.pathway.parse import load_pathways, parse_pathways
from hub.plugin_api.problems import ConfigError
from hub.plugins import load_plugins
from hub.shipped import example_config
from hub.testing.world import build_world

PLUGINS = load_plugins()
EXAMPLE = Path(str(example_config()))


@pytest.fixture(scope="module")
def partners() -> Any:
    return load_config(EXAMPLE, PLUGINS.vocabulary).partners


def good() -> dict[str, Any]:
    return {
        "milestone": [{
            "name": "assessment",
            "start": {"type": "Referral", "on": "delivered"},
            "due": {"after": "48h"},
            "remind_before": "24h",
            "responsible": "delivered_to",
            "closed_by": [{"type": "Acknowledgement", "when": [{"field": "payload.status", "equals": "accepted"}]}],
        }]
    }  # fmt: skip


def test_the_example_pathways_hold_the_seeds_milestones(partners) -> None:
    pathways = load_pathways(EXAMPLE, partners, PLUGINS.vocabulary)
    names = [m.name for m in pathways.milestones]
    assert names == ["assessment", "follow-up-72h", "ips-employer-contact", "check-in-3m", "check-in-6m",
                     "check-in-12m", "dtr-first-contact", "dtr-first-contact-urgent",
                     "assessment-after-acceptance", "offer-window"]  # fmt: skip
    assert str(pathways.by_name("check-in-6m").due_after) == "6mo"  # type: ignore[union-attr]
    assert str(pathways.zone) == "Europe/London"
    assert {c.reason for c in pathways.closers} == {"death", "consent-withdrawn"}


@pytest.mark.parametrize(
    ("change", "where", "what"),
    [
        (lambda m: m["start"].update(type="Referal"), "milestone[0] (assessment).start.type",
         "registered message type"),
        (lambda m: m["start"].update(on="sent"), "milestone[0] (assessment).start.on", "received, delivered"),
        (lambda m: m["due"].update(after="2 days"), "milestone[0] (assessment).due.after", "whole number and a unit"),
        (lambda m: m["due"].update(after="0h"), "milestone[0] (assessment).due.after", "more than nothing"),
        (lambda m: m["due"].update(**{"from": "payload..x"}), "milestone[0] (assessment).due.from", "dotted field"),
        (lambda m: m.update(remind_before="48h"), "milestone[0] (assessment).remind_before", "not less than"),
        (lambda m: m.update(responsible="sender-ish"), "milestone[0] (assessment).responsible", "sender-ish"),
        (lambda m: m.pop("closed_by"), "milestone[0] (assessment).closed_by", "required"),
        (lambda m: m.update(closed_by=[{"type": "Nope"}]), "milestone[0] (assessment).closed_by[0].type",
         "registered message type"),
        (lambda m: m.update(name="Bad Name"), "milestone[0] (Bad Name).name", "lower-case"),
        (lambda m: m.update(colour="red"), "milestone[0] (assessment).colour", "unknown setting"),
        (lambda m: m.update(on_breach={"notify": ["nobody"]}), "milestone[0] (assessment).on_breach.notify",
         "neither"),
        (lambda m: m["start"].update(on="received"), "milestone[0] (assessment).responsible",
         "needs start.on = 'delivered'"),
        (lambda m: m["due"].update(after="0wd"), "milestone[0] (assessment).due.after", "only '0wd' with by"),
        (lambda m: m["due"].update(by="noon"), "milestone[0] (assessment).due.by", "'time' or 'end_of_day'"),
    ],
)  # fmt: skip
def test_a_bad_milestone_is_refused_naming_the_file_the_milestone_and_what_is_wrong(partners, change, where,
                                                                                   what) -> None:  # fmt: skip
    data = good()
    change(data["milestone"][0])
    with pytest.raises(ConfigError) as refused:
        parse_pathways(data, partners, PLUGINS.vocabulary)
    assert str(refused.value).startswith(f"pathways.toml: {where}:"), str(refused.value)
    assert what in str(refused.value)


def test_two_milestones_of_one_name_and_a_bad_zone_are_refused(partners) -> None:
    data = good()
    data["milestone"].append(dict(data["milestone"][0]))
    with pytest.raises(ConfigError, match=r"milestone\[1\] \(assessment\).name: used by another milestone"):
        parse_pathways(data, partners, PLUGINS.vocabulary)
    with pytest.raises(ConfigError, match="timezone: 'Europe/Londres' is not a time zone"):
        parse_pathways({**good(), "timezone": "Europe/Londres"}, partners, PLUGINS.vocabulary)


def test_a_hub_with_a_bad_pathways_file_does_not_start_and_says_why(tmp_path: Path) -> None:
    world = build_world(tmp_path, start=False)
    try:
        text = (EXAMPLE / "pathways.toml").read_text().replace('after = "72h"', 'after = "72 hours"')
        assert tomllib.loads(text)
        (world.config_dir / "pathways.toml").write_text(text)
        result = subprocess.run([sys.executable, "-m", "hub", "serve", "--config", str(world.config_dir)],
                                capture_output=True, text=True, timeout=60)  # fmt: skip
    finally:
        world.stop()
    assert result.returncode != 0
    assert "pathways.toml: milestone[1] (follow-up-72h).due.after: '72 hours' is not an offset" in result.stderr


def test_the_example_duty_to_refer_milestones_count_working_days_and_urgent_is_the_same_day(partners) -> None:
    pathways = load_pathways(EXAMPLE, partners, PLUGINS.vocabulary)
    usual, urgent = pathways.by_name("dtr-first-contact"), pathways.by_name("dtr-first-contact-urgent")
    assert usual is not None and urgent is not None
    assert (str(usual.due_after), usual.due_by) == ("10wd", "time")
    assert (str(urgent.due_after), urgent.due_by) == ("0wd", "end_of_day")
    request: dict[str, Any] = {"type": "HousingRequest", "payload": {"urgent": True}}
    assert urgent.starts("delivered", request) and not usual.starts("delivered", request)
    request["payload"]["urgent"] = False
    assert usual.starts("delivered", request) and not urgent.starts("delivered", request)
    assert date(2026, 12, 25) in pathways.calendar.bank_holidays
    status = {"type": "HousingStatus", "payload": {"status": "contact_made"}}
    assert any(c.closes(status) for c in usual.closed_by)
    for not_yet in ("received", "contact_failed"):
        assert not any(c.closes({**status, "payload": {"status": not_yet}}) for c in usual.closed_by)


@pytest.mark.parametrize(
    ("holidays", "what"),
    [(["2026-12-25", "25/12/2026"], "bank_holidays[1]: '25/12/2026' is not a date"),
     (["2026-12-25", "2026-12-25"], "bank_holidays[1]: 2026-12-25 is listed twice"),
     ("2026-12-25", "bank_holidays")],
)  # fmt: skip
def test_bad_bank_holidays_are_refused_naming_the_entry(partners, holidays, what) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_pathways({**good(), "bank_holidays": holidays}, partners, PLUGINS.vocabulary)
    assert str(refused.value).startswith("pathways.toml: ") and what in str(refused.value), str(refused.value)
