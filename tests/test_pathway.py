"""The discharge pathway end to end, over real HTTP on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import date, timedelta

from hub.testing.messages import discharge_notice, example


def test_demo_runs_the_whole_pathway_and_exits_zero() -> None:
    result = subprocess.run([sys.executable, "-m", "hub", "demo"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for line in (
        "council-luton  <- received HousingRequest",
        "steps-luton    <- received Referral",
        "ips-luton      <- received IPSReferral",
        "trust-elft     <- received HousingAppointment (offered, phone)",
        "HousingRequest     acknowledged by council-luton",
        "Referral           acknowledged by steps-luton",
        "IPSReferral        acknowledged by ips-luton",
        "HousingAppointment acknowledged by trust-elft",
        "every message delivered and acknowledged",
        # the pathway on the embedded scheduler, with a compressed clock
        "steps-luton    <- received PathwayNotice (reminder: assessment)",
        "Referral           milestone assessment reminded",
        "Referral           milestone assessment met",
        "DischargeNotice    milestone follow-up-72h breached",
        "(compressed clock: 1 hour of the pathway = 0.1 s)",
        "assessment             steps-luton    met after a reminder, closed by steps-luton",
        "follow-up-72h          trust-elft     breached: not met in time, due notice sent to trust-elft",
    ):
        assert line in out, f"missing {line!r} in:\n{out}"
    for check_in in ("check-in-3m", "check-in-6m", "check-in-12m"):
        row = next((r for r in out.splitlines() if r.strip().startswith(check_in)), "")
        assert "steps-luton" in row and "scheduled: due in" in row, out
    reminder_at = out.index("Referral           milestone assessment reminded")
    assert reminder_at < out.index("Referral           milestone assessment met"), "met before the reminder"


def test_a_discharge_fans_out_into_three_deliveries_each_with_its_own_state(world) -> None:
    response = world.send("trust-a", discharge_notice())
    assert response.status_code == 202, response.text
    record = response.json()["id"]

    council, hostel, ips = world.sims["council-luton"], world.sims["steps-luton"], world.sims["ips-luton"]
    assert council.wait_for(lambda s: s.messages("HousingRequest"))
    assert hostel.wait_for(lambda s: s.messages("Referral"))
    assert ips.wait_for(lambda s: s.messages("IPSReferral"))

    request = council.messages("HousingRequest")[0]
    assert request["payload"]["target_authority_gss"] == "E06000032"
    assert request["payload"]["reason"] == "homeless"
    assert request["consent"]["referral"] is True and request["consent"]["share_contact"] is True
    referral = hostel.messages("Referral")[0]
    assert referral["payload"]["service_id"] == "steps-luton"
    ips_referral = ips.messages("IPSReferral")[0]
    due = date.fromisoformat(ips_referral["payload"]["first_employer_contact_due"])
    assert due - date.fromisoformat(ips_referral["payload"]["referral_date"]) == timedelta(days=30)
    assert len({request["message_id"], referral["message_id"], ips_referral["message_id"]}) == 3

    view = world.view(record)
    assert sorted(d["partner"] for d in view["deliveries"]) == ["council-luton", "ips-luton", "steps-luton"]
    assert len({d["id"] for d in view["deliveries"]}) == 3
    assert {d["route"] for d in view["deliveries"]} == {"duty-to-refer", "support-referral", "ips-referral"}
    assert sorted(d["type"] for d in view["derived"]) == ["HousingRequest", "IPSReferral", "Referral"]


def test_without_consent_no_housing_request_is_sent_and_the_trust_is_told_why(world) -> None:
    notice = discharge_notice()
    notice["consent"]["share_contact"] = False
    response = world.send("trust-a", notice)
    assert response.status_code == 202, response.text
    notes = response.json()["notes"]
    assert any("no Duty to Refer was sent" in n and "sharing contact details" in n for n in notes), notes
    assert world.sims["steps-luton"].wait_for(lambda s: s.messages("Referral"))
    view = world.view(response.json()["id"])
    assert "council-luton" not in {d["partner"] for d in view["deliveries"]}
    assert any(e["event"] == "refused" and e["detail"]["route"] == "duty-to-refer" for e in view["timeline"])
    assert world.sims["council-luton"].messages() == []


def test_an_appointment_goes_back_to_the_referrer_and_acknowledgements_mark_deliveries(world) -> None:
    response = world.send("trust-a", discharge_notice())
    council = world.sims["council-luton"]
    assert council.wait_for(lambda s: s.messages("HousingRequest"))
    request = council.messages("HousingRequest")[0]

    appointment = example("housing-appointment", sender={"org_id": "council-luton", "gss_code": "E06000032"},
                          in_reply_to=request["message_id"])  # fmt: skip
    answer = world.send("council-luton", appointment)
    assert answer.status_code == 202, answer.text
    trust = world.sims["trust-a"]
    assert trust.wait_for(lambda s: s.messages("HousingAppointment"))
    assert trust.messages("HousingAppointment")[0]["payload"]["status"] == appointment["payload"]["status"]

    ack = example("acknowledgement", sender={"org_id": "council-luton"}, in_reply_to=request["message_id"])
    ack["payload"]["status"] = "accepted"
    assert world.send("council-luton", ack).status_code == 202
    view = world.view(response.json()["id"])
    council_delivery = next(d for d in view["deliveries"] if d["partner"] == "council-luton")
    assert council_delivery["state"] == "acknowledged"

    stats = subprocess.run([sys.executable, "-m", "hub", "partners", "stats", "--json", "--config",
                            str(world.config_dir)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert stats.returncode == 0, stats.stderr
    row = next(r for r in json.loads(stats.stdout) if r["partner"] == "council-luton")
    assert (row["type"], row["delivered"], row["acknowledged"], row["answered"]) == ("HousingRequest", 1, 1, 1)
    assert 0 <= row["to_answer"]["median_seconds"] < 30


def test_a_reply_to_a_message_never_delivered_to_the_replier_is_refused(world) -> None:
    world.send("trust-a", discharge_notice())
    assert world.sims["council-luton"].wait_for(lambda s: s.messages("HousingRequest"))
    request = world.sims["council-luton"].messages("HousingRequest")[0]
    for replier, target in (("council-beds", request["message_id"]), ("council-luton", str(uuid.uuid4()))):
        appointment = example("housing-appointment", sender={"org_id": replier}, in_reply_to=target)
        response = world.send(replier, appointment)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["location"] == "$.in_reply_to"
    assert world.sims["trust-a"].messages("HousingAppointment") == []


def test_a_reply_that_could_answer_two_senders_must_name_its_recipient(world) -> None:
    from hub.testing.messages import housing_request

    shared_id = str(uuid.uuid4())
    for trust in ("trust-a", "trust-b"):  # message ids are unique per sender only
        request = housing_request(sender=trust)
        request["message_id"] = shared_id
        assert world.send(trust, request).status_code == 202
    council = world.sims["council-luton"]
    assert council.wait_for(lambda s: len(s.received) == 2)  # same id: the simulator counts one as a repeat
    appointment = example("housing-appointment", sender={"org_id": "council-luton", "gss_code": "E06000032"},
                          in_reply_to=shared_id)  # fmt: skip
    appointment.pop("recipient", None)
    ambiguous = world.send("council-luton", appointment)
    assert ambiguous.status_code == 422
    assert ambiguous.json()["errors"][0]["location"] == "$.recipient.org_id"
    appointment["recipient"] = {"org_id": "trust-a"}
    assert world.send("council-luton", appointment).status_code == 202
    assert world.sims["trust-a"].wait_for(lambda s: s.messages("HousingAppointment"))
    assert world.sims["trust-b"].messages("HousingAppointment") == []
