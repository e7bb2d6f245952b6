"""Appointments back from councils (JSON and XML), correlated to the referral and routed to the referrer."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from council_helpers import NS, appointment_xml, json_appointment, notice_for
from lxml import etree
from test_council_channels import wait

from hub.testing.messages import example

STATUSES = ["offered", "confirmed", "rescheduled", "cancelled", "contact_failed", "closed_no_contact"]


def referral_to_bristol(world) -> str:
    """Send a Duty to Refer to the XML council; return the DutyToRefer's MessageId it received."""
    assert world.post("trust-a", notice_for("E06000023")).status_code == 202
    council = world.sims["council-bristol"]
    assert council.wait_for(lambda s: s.received)
    message_id = etree.fromstring(council.received[0].body).findtext(f"{{{NS}}}MessageId")
    assert message_id is not None, "the DutyToRefer has no MessageId"
    return message_id


def referral_to_luton(world) -> str:
    assert world.post("trust-a", notice_for("E06000032")).status_code == 202
    council = world.sims["council-luton"]
    assert council.wait_for(lambda s: s.messages("HousingRequest"))
    message_id: str = council.messages("HousingRequest")[0]["message_id"]
    return message_id


def test_every_xml_status_reaches_the_referrer(council_world) -> None:
    reply_to = referral_to_bristol(council_world)
    for status in STATUSES:
        response = council_world.post("council-bristol", appointment_xml(reply_to, status=status), "application/xml")
        assert response.status_code == 202, response.text
    trust = council_world.sims["trust-a"]
    assert trust.wait_for(lambda s: len(s.messages("HousingAppointment")) == len(STATUSES))
    received = trust.messages("HousingAppointment")
    assert [m["payload"]["status"] for m in received] == STATUSES
    assert {m["in_reply_to"] for m in received} == {reply_to}


def test_every_json_status_reaches_the_referrer(council_world) -> None:
    reply_to = referral_to_luton(council_world)
    for status in STATUSES:
        response = council_world.post("council-luton", json_appointment("council-luton", "E06000032", reply_to, status))
        assert response.status_code == 202, response.text
    trust = council_world.sims["trust-a"]
    assert trust.wait_for(lambda s: len(s.messages("HousingAppointment")) == len(STATUSES))
    assert [m["payload"]["status"] for m in trust.messages("HousingAppointment")] == STATUSES


def test_an_xml_offer_without_a_time_is_refused_naming_what_is_missing(council_world) -> None:
    reply_to = referral_to_bristol(council_world)
    body = appointment_xml(reply_to, status="cancelled").replace(b"cancelled", b"offered")
    response = council_world.post("council-bristol", body, "application/xml")
    assert response.status_code == 422, response.text
    assert "start" in response.text and "mode" in response.text


@pytest.mark.parametrize("encoding", ["xml", "json"])
def test_an_appointment_for_an_unknown_or_someone_elses_referral_is_refused(council_world, encoding: str) -> None:
    luton_referral = referral_to_luton(council_world)
    for target in (str(uuid.uuid4()), luton_referral):  # unknown; delivered to Luton, not to Bristol
        if encoding == "xml":
            response = council_world.post("council-bristol", appointment_xml(target), "application/xml")
        else:
            response = council_world.post("council-bristol", json_appointment("council-bristol", "E06000023", target))
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["location"] == "$.in_reply_to"
    assert council_world.sims["trust-a"].messages("HousingAppointment") == []


def test_unsafe_xml_over_http_is_refused_with_400(council_world) -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'
    response = council_world.post("council-bristol", body, "application/xml")
    assert response.status_code == 400
    assert "DOCTYPE" in response.text and "passwd" not in response.text.replace("file:///etc/passwd", "")


def council_stats(world) -> dict[str, dict]:
    """``hub council-stats --json`` of the world's hub, by council."""
    out = subprocess.run([sys.executable, "-m", "hub", "council-stats", "--json", "--config", str(world.config_dir)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return {row["partner"]: row for row in json.loads(out.stdout)}


def test_a_pull_council_that_acknowledges_before_taking_the_referral_is_counted_from_its_acknowledgement(
    council_world,
) -> None:
    assert council_world.post("trust-a", notice_for("E06000056")).status_code == 202  # council-beds pulls

    def inbox() -> list[dict]:
        items: list[dict] = council_world.get("council-beds", "/v1/inbox").json()["items"]
        return items

    assert wait(inbox)
    referral = inbox()[0]["body"]["message_id"]
    ack = example("acknowledgement", sender={"org_id": "council-beds"}, in_reply_to=referral)
    ack["payload"] = {"level": "business", "status": "accepted", "receiver_ref": "BEDS-1", "at": ack["created_at"]}
    assert council_world.post("council-beds", ack).status_code == 202  # before (instead of) the inbox ack
    beds = council_stats(council_world)["council-beds"]
    assert {key: beds[key] for key in ("partner", "referrals_delivered", "answered", "waiting", "median_seconds",
                                       "p90_seconds", "max_seconds")} == {
        "partner": "council-beds", "referrals_delivered": 1, "answered": 0, "waiting": 1,
        "median_seconds": None, "p90_seconds": None, "max_seconds": None}  # fmt: skip
    assert beds["by_current_status"]["none"] == 1  # delivered (by its acknowledgement), no status yet
    appointment = json_appointment("council-beds", "E06000056", referral)
    assert council_world.post("council-beds", appointment).status_code == 202
    beds = council_stats(council_world)["council-beds"]
    assert (beds["referrals_delivered"], beds["answered"], beds["waiting"]) == (1, 1, 0)
    assert 0 <= beds["median_seconds"] < 60


def test_response_times_are_reported_per_council(council_world) -> None:
    reply_to = referral_to_bristol(council_world)
    luton = referral_to_luton(council_world)
    assert council_world.post("council-bristol", appointment_xml(reply_to), "application/xml").status_code == 202
    assert council_world.sims["trust-a"].wait_for(lambda s: s.messages("HousingAppointment"))
    assert luton

    def stats() -> dict:
        out = subprocess.run([sys.executable, "-m", "hub", "council-stats", "--json", "--config",
                              str(council_world.config_dir)], capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return {row["partner"]: row for row in json.loads(out.stdout)}

    rows: dict = {}
    assert wait(lambda: rows.update(stats()) or rows.get("council-luton", {}).get("referrals_delivered") == 1)
    assert rows["council-bristol"]["answered"] == 1 and rows["council-bristol"]["median_seconds"] >= 0
    assert rows["council-luton"]["answered"] == 0 and rows["council-luton"]["waiting"] == 1
