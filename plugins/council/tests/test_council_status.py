"""Duty to Refer statuses from councils (JSON and XML), correlated to the referral and routed to the referrer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from council_helpers import json_status, notice_for, status_xml
from test_council_appointments import referral_to_bristol, referral_to_luton

STATUSES = ["received", "contact_made", "contact_failed", "prevention_duty", "relief_duty", "not_eligible",
            "not_homeless", "no_contact", "withdrawn", "closed"]  # fmt: skip


def at(minutes: int) -> str:
    """A status time ``minutes`` after a fixed past moment (the council's own clock)."""
    return (datetime(2026, 11, 25, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def test_every_json_status_reaches_the_referrer(council_world) -> None:
    reply_to = referral_to_luton(council_world)
    for n, status in enumerate(STATUSES):
        message = json_status("council-luton", "E06000032", reply_to, status, at(n))
        response = council_world.post("council-luton", message)
        assert response.status_code == 202, response.text
    trust = council_world.sims["trust-a"]
    assert trust.wait_for(lambda s: len(s.messages("HousingStatus")) == len(STATUSES))
    received = trust.messages("HousingStatus")
    assert [m["payload"]["status"] for m in received] == STATUSES
    assert {m["in_reply_to"] for m in received} == {reply_to}


def test_every_xml_status_reaches_the_referrer_as_canonical_json(council_world) -> None:
    reply_to = referral_to_bristol(council_world)
    for n, status in enumerate(STATUSES):
        body = status_xml(reply_to, status, at(n), extra="<Attempts>2</Attempts>" if "contact" in status else "")
        response = council_world.post("council-bristol", body, "application/xml")
        assert response.status_code == 202, response.text
    trust = council_world.sims["trust-a"]
    assert trust.wait_for(lambda s: len(s.messages("HousingStatus")) == len(STATUSES))
    received = trust.messages("HousingStatus")
    assert [m["payload"]["status"] for m in received] == STATUSES
    first = received[0]
    assert first["sender"] == {"org_id": "council-bristol", "gss_code": "E06000023"}
    assert first["payload"]["status_at"] == at(0) and first["payload"]["case_ref"] == "HOM/2026/04567"
    assert received[2]["payload"]["attempts"] == 2


def test_a_status_document_that_breaks_the_xsd_is_refused_naming_the_element(council_world) -> None:
    reply_to = referral_to_bristol(council_world)
    response = council_world.post("council-bristol", status_xml(reply_to, "housed", at(0)), "application/xml")
    assert response.status_code == 422, response.text
    assert "housing-status-1.xsd" in response.text and "/HousingStatus/Status" in response.text


def test_a_status_dated_in_the_future_is_refused(council_world) -> None:
    reply_to = referral_to_luton(council_world)
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="seconds").replace("+00:00", "Z")
    response = council_world.post("council-luton", json_status("council-luton", "E06000032", reply_to, "closed",
                                                               ahead))  # fmt: skip
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["location"] == "$.payload.status_at"


@pytest.mark.parametrize("encoding", ["xml", "json"])
def test_a_status_for_an_unknown_or_someone_elses_referral_is_refused(council_world, encoding: str) -> None:
    luton_referral = referral_to_luton(council_world)
    for target in (str(uuid.uuid4()), luton_referral):  # unknown; delivered to Luton, not to Bristol
        if encoding == "xml":
            response = council_world.post("council-bristol", status_xml(target, "received", at(0)), "application/xml")
        else:
            message = json_status("council-bristol", "E06000023", target, "received", at(0))
            response = council_world.post("council-bristol", message)
        assert response.status_code == 422, response.text
        [problem] = response.json()["errors"]
        assert problem["location"] == "$.in_reply_to" and "HousingRequest" in problem["detail"]
    assert council_world.sims["trust-a"].messages("HousingStatus") == []


def test_a_status_may_answer_a_referral_only(council_world) -> None:
    # an Acknowledgement the trust sent to Luton was delivered to it, but is no Duty to Refer
    from hub.testing.messages import example

    reply_to = referral_to_luton(council_world)
    appointment = example("housing-appointment", sender={"org_id": "council-luton", "gss_code": "E06000032"},
                          in_reply_to=reply_to)  # fmt: skip
    appointment["payload"]["authority_gss"] = "E06000032"
    assert council_world.post("council-luton", appointment).status_code == 202
    trust = council_world.sims["trust-a"]
    assert trust.wait_for(lambda s: s.messages("HousingAppointment"))
    ack = example("acknowledgement", sender={"org_id": "trust-a"}, in_reply_to=appointment["message_id"])
    ack["payload"] = {"level": "business", "status": "accepted", "at": ack["created_at"]}
    assert council_world.post("trust-a", ack).status_code == 202
    assert council_world.sims["council-luton"].wait_for(lambda s: s.messages("Acknowledgement"))
    message = json_status("council-luton", "E06000032", ack["message_id"], "received", at(0))
    response = council_world.post("council-luton", message)
    assert response.status_code == 422, response.text
    assert "HousingRequest" in response.json()["errors"][0]["detail"]


def test_a_referral_to_a_pull_council_takes_statuses_too(council_world) -> None:
    assert council_world.post("trust-a", notice_for("E06000056")).status_code == 202  # council-beds pulls
    from test_council_channels import wait

    def inbox() -> list[dict]:
        items: list[dict] = council_world.get("council-beds", "/v1/inbox").json()["items"]
        return items

    assert wait(inbox)
    referral = inbox()[0]["body"]["message_id"]
    response = council_world.post("council-beds", json_status("council-beds", "E06000056", referral, "received",
                                                               at(0)))  # fmt: skip
    assert response.status_code == 202, response.text
    assert council_world.sims["trust-a"].wait_for(lambda s: s.messages("HousingStatus"))


def housing_request_record(world, discharge_record: str) -> str:
    """The stored HousingRequest derived from a discharge (its record id, as views and the CLI name it)."""
    derived = [d for d in world.view(discharge_record)["derived"] if d["type"] == "HousingRequest"]
    assert len(derived) == 1, derived
    return str(derived[0]["id"])


def test_statuses_show_on_the_referrals_timeline_in_the_api_and_the_cli(council_world) -> None:
    accepted = council_world.post("trust-a", notice_for("E06000032"))
    assert accepted.status_code == 202, accepted.text
    council = council_world.sims["council-luton"]
    assert council.wait_for(lambda s: s.messages("HousingRequest"))
    reply_to = council.messages("HousingRequest")[0]["message_id"]
    record = housing_request_record(council_world, accepted.json()["id"])
    sent = []
    for n, status in enumerate(["contact_made", "received", "relief_duty"]):  # in any order, by status_at
        response = council_world.post("council-luton", json_status("council-luton", "E06000032", reply_to, status,
                                                                   at(10 - 3 * n)))  # fmt: skip
        assert response.status_code == 202, response.text
        sent.append((response.json()["id"], status, at(10 - 3 * n)))
    for who in ("ops", "council-luton", "trust-a"):
        timeline = council_world.view(record, who)["timeline"]
        answers = [(e["detail"]["answer"], e["detail"]["status"], e["detail"]["status_at"])
                   for e in timeline if e["event"] == "answered"]  # fmt: skip
        assert answers == sent, (who, timeline)
        assert all(e["partner"] == "council-luton" for e in timeline if e["event"] == "answered")
    shown = council_world.cli("messages", "show", record)
    assert shown.returncode == 0, shown.stderr
    import json

    cli_answers = [e["detail"]["status"] for e in json.loads(shown.stdout)["timeline"] if e["event"] == "answered"]
    assert cli_answers == ["contact_made", "received", "relief_duty"]
    status_view = council_world.view(sent[0][0])  # each status keeps its own timeline too
    assert status_view["in_reply_to"] == reply_to and status_view["type"] == "HousingStatus"


def test_an_appointment_shows_on_the_referrals_timeline_without_a_status(council_world) -> None:
    from council_helpers import json_appointment

    accepted = council_world.post("trust-a", notice_for("E06000032"))
    council = council_world.sims["council-luton"]
    assert council.wait_for(lambda s: s.messages("HousingRequest"))
    reply_to = council.messages("HousingRequest")[0]["message_id"]
    record = housing_request_record(council_world, accepted.json()["id"])
    answer = council_world.post("council-luton", json_appointment("council-luton", "E06000032", reply_to))
    assert answer.status_code == 202, answer.text
    [event] = [e for e in council_world.view(record)["timeline"] if e["event"] == "answered"]
    assert event["detail"] == {"answer": answer.json()["id"], "type": "HousingAppointment"}
