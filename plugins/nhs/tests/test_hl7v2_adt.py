"""ADT^A03 to DischargeNotice: the mapping, its refusals, and application/hl7-v2 over the HTTP API."""

from __future__ import annotations

import time

import pytest
import requests
from hl7_support import TEST_NHS_NUMBER, adt_a03, check_adt, hl7_hub_factory, segment
from hub_nhs.hl7v2.adapter import Hl7v2Adapter
from hub_nhs.hl7v2.parser import parse_message

from hub import InvalidMessage, RenderError, UnparseableInput
from hub.testing import PartnerSimulator, canonical_problems, wait_until
from hub.testing.messages import discharge_notice

__all__ = ["hl7_hub_factory"]


def parse_with_warnings(body: bytes) -> tuple[dict, dict[str, str]]:
    """The DischargeNotice and its warnings by location."""
    parsed = Hl7v2Adapter().parse(body, content_type="application/hl7-v2", sender_id="trust-a")[0]
    return parsed.message, {w.location: w.message for w in parsed.warnings}


def parse(body: bytes) -> dict:
    return parse_with_warnings(body)[0]


def problems_of(body: bytes) -> dict[str, str]:
    with pytest.raises(InvalidMessage) as caught:
        parse(body)
    return {p.location: p.message for p in caught.value.problems}


def test_an_adt_a03_becomes_a_valid_discharge_notice() -> None:
    message = parse(adt_a03())
    assert canonical_problems(message, "trust-a") == []
    payload = message["payload"]
    assert payload["person"]["nhs_number"] == TEST_NHS_NUMBER
    assert payload["person"]["nhs_number_status"] == "01"
    assert payload["person"]["local_id"] == "RWK-00123456"
    assert (payload["person"]["family_name"], payload["person"]["given_name"]) == ("Example", "Alex")
    assert payload["person"]["birth_date"] == "1990-05-17"
    assert payload["person"]["address"] == {"lines": ["Flat 2^3", "10 High Street", "Luton"], "postcode": "LU1 2AA"}
    assert payload["discharging_org"] == {"ods_code": "RWK"}
    assert payload["ward"] == "Willow Ward"
    assert payload["admission_date"] == "2026-10-02"
    assert payload["discharge"] == {"date_time": "2026-11-27T11:00:00Z", "planned": False, "method": "1",
                                    "destination": "19"}  # fmt: skip
    assert payload["contact"]["name"] == "Dr Sam Sample"


def test_local_times_are_read_as_uk_time_so_summer_time_is_an_hour_ahead_of_utc() -> None:
    pv1 = segment("PV1", {3: "Ward", 7: "X^Sample", 36: "1", 37: "19", 44: "20260601", 45: "20260701093000"})
    assert parse(adt_a03(replace={"PV1": pv1}))["payload"]["discharge"]["date_time"] == "2026-07-01T08:30:00Z"


def test_an_explicit_offset_is_honoured() -> None:
    pv1 = segment("PV1", {3: "Ward", 7: "X^Sample", 36: "1", 37: "19", 44: "20260601", 45: "202607010930-0500"})
    assert parse(adt_a03(replace={"PV1": pv1}))["payload"]["discharge"]["date_time"] == "2026-07-01T14:30:00Z"


def test_the_same_control_id_from_the_same_trust_is_the_same_message_id() -> None:
    assert parse(adt_a03(control="X1"))["message_id"] == parse(adt_a03(control="X1"))["message_id"]
    assert parse(adt_a03(control="X1"))["message_id"] != parse(adt_a03(control="X2"))["message_id"]
    assert parse(adt_a03(control="X1"))["message_id"] != parse(adt_a03(control="X1", facility="RXY"))["message_id"]


def test_housing_consent_and_legal_status_come_from_z_segments() -> None:
    message = parse(adt_a03())
    assert message["payload"]["housing"] == {
        "situation": "no_fixed_abode", "chosen_authority_gss": "E06000032",
        "details": "Sleeping rough\nbefore admission", "support_needs": ["Tenancy support", "GP registration"],
        "urgent": True,
    }  # fmt: skip
    assert message["consent"]["referral"] is True and message["consent"]["method"] == "written"
    assert message["payload"]["legal_status"] == {"mha_section": "3", "cto": False, "s117": True}


def test_without_z_segments_there_is_no_housing_consent_or_legal_status() -> None:
    message = parse(adt_a03(replace={"ZHS": "", "ZDR": "", "ZMH": ""}))
    assert "housing" not in message["payload"] and "consent" not in message
    assert "legal_status" not in message["payload"]


def test_the_no_fixed_abode_postcode_means_no_fixed_abode() -> None:
    pid = segment("PID", {3: f"{TEST_NHS_NUMBER}^^^NHS^NH", 5: "Example^Alex", 7: "19900517", 11: "^^^^ZZ99 3VZ"})
    person = parse(adt_a03(replace={"PID": pid}))["payload"]["person"]
    assert person["no_fixed_abode"] is True and "address" not in person


def test_a_person_without_an_nhs_number_keeps_the_local_id() -> None:
    pid = segment("PID", {3: "L1^^^RWK^MR", 5: "Example^Alex", 7: "19900517"})
    person = parse(adt_a03(replace={"PID": pid}))["payload"]["person"]
    assert "nhs_number" not in person and person["local_id"] == "L1"


def test_a_bad_check_digit_is_refused_at_pid_3() -> None:
    assert "Modulus 11" in problems_of(adt_a03(nhs_number="9990000019"))["PID-3"]


def test_every_problem_is_reported_at_once() -> None:
    body = adt_a03(replace={"PID": "PID|1", "ZDR": "ZDR|maybe"})
    assert {"PID-5.1", "PID-5.2", "PID-7", "ZDR-1", "ZDR-2", "ZDR-3", "ZDR-4", "ZDR-5"} <= set(problems_of(body))


def test_a_message_without_pv1_is_refused() -> None:
    assert "PV1" in problems_of(adt_a03(replace={"PV1": ""}))


def test_other_message_types_are_unparseable_for_this_adapter() -> None:
    with pytest.raises(UnparseableInput, match="ADT\\^A03"):
        parse(adt_a03().replace(b"ADT^A03", b"ORU^R01"))


PARTNER = type("P", (), {"codes": {"ods_code": "RXY"}, "id": "trust-b"})()
REFERRER = "ZDR|Y|Y|W|20261123153000|Chris Placeholder, Ward Manager|01582 700100|liaison@example.org|ELFT"


def pv1(**fields: str) -> str:
    """The sample's PV1 with some fields replaced (keys f3, f7, f36, f37...)."""
    values = {1: "1", 2: "I", 3: "Willow Ward^^^RWK", 7: "C1234567^Sample^Sam^^^Dr", 36: "1", 37: "19",
              44: "20261002", 45: "20261127110000"}  # fmt: skip
    values.update({int(k[1:]): v for k, v in fields.items()})
    return segment("PV1", values)


def render(message: dict) -> bytes:
    rendered = Hl7v2Adapter().render(message, partner=PARTNER)
    assert rendered.content_type == "application/hl7-v2"
    check_adt(rendered.body)
    return rendered.body


def same(a: dict, b: dict) -> bool:
    return {**a, "message_id": "", "created_at": ""} == {**b, "message_id": "", "created_at": ""}


def test_rendering_then_parsing_gives_the_same_discharge_notice() -> None:
    original = parse(adt_a03())
    body = render(original)
    assert parse_message(body).value("MSH", 6) == "RXY"
    assert same(parse(body), original)


def test_an_empty_pv1_7_is_accepted_with_a_warning_and_no_lead_clinician() -> None:
    message, warnings = parse_with_warnings(adt_a03(replace={"PV1": pv1(f7="")}))
    assert canonical_problems(message, "trust-a") == []
    assert "contact" not in message["payload"] and "PV1-7" in warnings


def test_an_empty_ward_is_accepted_with_a_warning() -> None:
    message, warnings = parse_with_warnings(adt_a03(replace={"PV1": pv1(f3="")}))
    assert canonical_problems(message, "trust-a") == []
    assert "ward" not in message["payload"] and "PV1-3.1" in warnings


def test_a_destination_given_as_text_is_carried_and_its_code_is_not_known() -> None:
    message, warnings = parse_with_warnings(adt_a03(replace={"PV1": pv1(f37="Home with family")}))
    assert canonical_problems(message, "trust-a") == []
    discharge = message["payload"]["discharge"]
    assert (discharge["destination"], discharge["destination_text"]) == ("99", "Home with family")
    assert "PV1-37.1" in warnings and "Home" not in warnings["PV1-37.1"]
    assert same(parse(render(message)), message)


def test_a_destination_code_in_pv1_36_is_read_as_the_destination_and_the_method_is_not_known() -> None:
    message, warnings = parse_with_warnings(adt_a03(replace={"PV1": pv1(f36="19", f37="")}))
    assert canonical_problems(message, "trust-a") == []
    assert (message["payload"]["discharge"]["method"], message["payload"]["discharge"]["destination"]) == ("9", "19")
    assert set(warnings) == {"PV1-36"}


def test_codes_the_hub_does_not_know_are_recorded_as_not_known() -> None:
    message, warnings = parse_with_warnings(adt_a03(replace={"PV1": pv1(f36="X", f37="42")}))
    assert canonical_problems(message, "trust-a") == []
    assert (message["payload"]["discharge"]["method"], message["payload"]["discharge"]["destination"]) == ("9", "99")
    assert {"PV1-36", "PV1-37.1"} <= set(warnings)


def test_no_discharge_date_is_still_refused() -> None:
    assert "PV1-45" in problems_of(adt_a03(replace={"PV1": pv1(f45="")}))


def test_a_rendered_adt_names_the_clinician_in_components_and_carries_the_referrer_back_in() -> None:
    original = parse(adt_a03(replace={"ZDR": REFERRER}))
    assert original["payload"]["contact"]["phone"] == "01582 700100"
    body = render(original)
    adt = parse_message(body)
    assert [adt.value("PV1", 7, n) for n in (2, 3, 6)] == ["Sample", "Sam", "Dr"]
    assert [adt.value("ZDR", n) for n in (6, 7, 8)] == ["01582 700100", "liaison@example.org", "ELFT"]
    assert same(parse(body), original)


def test_the_referrers_details_go_out_without_a_consent_and_come_back() -> None:
    original = parse(adt_a03(replace={"ZDR": "ZDR||||||01582 700100|liaison@example.org"}))
    assert "consent" not in original and original["payload"]["contact"]["email"] == "liaison@example.org"
    assert same(parse(render(original)), original)


def test_msh_18_says_utf_8_when_the_text_is_not_ascii() -> None:
    message = parse(adt_a03())
    assert parse_message(render(message)).value("MSH", 18) == ""
    message["payload"]["ward"] = "Zoë Ward"
    body = render(message)
    assert parse_message(body).value("MSH", 18) == "UNICODE UTF-8"
    assert parse(body)["payload"]["ward"] == "Zoë Ward"


def test_a_ward_longer_than_pv1_3_allows_is_shortened_with_a_note() -> None:
    message = parse(adt_a03())
    message["payload"]["ward"] = "W" * 100
    rendered = Hl7v2Adapter().render(message, partner=PARTNER)
    check_adt(rendered.body)
    adt = parse_message(rendered.body)
    assert (adt.value("PV1", 3, 1), adt.value("PV1", 3, 9)) == ("W" * 20, "W" * 52)
    assert len(adt.raw_field("PV1", 3)) == 80 and "PV1-3" in rendered.headers["X-Hub-Note"]
    assert [note.split(" ", 1)[0] for note in rendered.notes] == ["PV1-3"]


def test_what_the_render_shortened_is_a_warning_on_the_delivery_for_sender_and_operator(hl7_hub_factory) -> None:
    with PartnerSimulator("trust-h") as receiver:
        hl7_partner = {"id": "trust-h", "kind": "nhs_trust", "ods_code": "RHH", "adapter": "hl7v2", "tls_only": True,
                       "receive": {"mode": "push", "transport": "http", "url": f"{receiver.url}/adt"}}  # fmt: skip
        hub = hl7_hub_factory(partners=[hl7_partner],
                              routes=[{"name": "to-hl7", "type": "DischargeNotice", "to": "trust-h"}])  # fmt: skip
        message = discharge_notice()
        message["payload"]["ward"] = "W" * 100
        sent = requests.post(f"{hub.url}/v1/messages", json=message, timeout=10,
                             headers={"Authorization": f"Bearer {hub.tokens['trust-a']}"})  # fmt: skip
        assert sent.status_code == 202, sent.text
        assert receiver.wait_for(lambda s: len(s.received) == 1)

        def timeline(who: str) -> list[dict]:
            response = requests.get(f"{hub.url}/v1/messages/{sent.json()['id']}", timeout=10,
                                    headers={"Authorization": f"Bearer {hub.tokens[who]}"})  # fmt: skip
            shown: list[dict] = response.json()["timeline"]
            return shown

        def warnings(who: str) -> list[dict]:
            return [e for e in timeline(who) if e["event"] == "warning"]

        assert wait_until(lambda: any(e["event"] == "delivered" for e in timeline("ops")))
        for who in ("ops", "trust-a"):
            [warning] = warnings(who)
            assert warning["partner"] == "trust-h" and warning["delivery_id"]
            assert "PV1-3" in warning["detail"]["warning"] and "WWW" not in warning["detail"]["warning"]


def test_a_ward_name_longer_than_the_point_of_care_goes_whole_in_the_location_description() -> None:
    message = parse(adt_a03())
    message["payload"]["ward"] = "Acute Mental Health Admissions Ward"
    body = render(message)
    assert parse_message(body).value("PV1", 3, 1) == "Acute Mental Health"
    assert same(parse(body), message)


def test_a_field_that_cannot_be_shortened_refuses_the_render_naming_it() -> None:
    message = parse(adt_a03())
    message["payload"]["person"]["family_name"] = "|" * 100
    with pytest.raises(RenderError, match="PID-5") as caught:
        Hl7v2Adapter().render(message, partner=PARTNER)
    assert "|" not in str(caught.value)


def test_an_adt_a03_posted_over_http_is_accepted_and_a_resend_is_a_duplicate(hl7_hub_factory) -> None:
    hub = hl7_hub_factory()
    headers = {"Authorization": f"Bearer {hub.tokens['trust-a']}", "Content-Type": "application/hl7-v2"}
    body = adt_a03(control="HTTP-1", separator="\n")
    first = requests.post(f"{hub.url}/v1/messages", data=body, headers=headers, timeout=10)
    second = requests.post(f"{hub.url}/v1/messages", data=body, headers=headers, timeout=10)
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json()["duplicate"] is True and second.json()["id"] == first.json()["id"]
    assert hub.db_count(message_type="DischargeNotice") == 1
    assert hub.sims["trust-b"].wait_for(lambda s: s.messages("DischargeNotice"))


def test_an_adt_without_attending_doctor_over_http_is_a_202_with_warnings_in_the_notes(hl7_hub_factory) -> None:
    hub = hl7_hub_factory()
    headers = {"Authorization": f"Bearer {hub.tokens['trust-a']}", "Content-Type": "application/hl7-v2"}
    body = adt_a03(replace={"PV1": pv1(f7="", f37="Home")})
    response = requests.post(f"{hub.url}/v1/messages", data=body, headers=headers, timeout=10)
    assert response.status_code == 202, response.text
    notes = response.json()["notes"]
    assert any(n.startswith("warning at PV1-7:") for n in notes)
    assert any(n.startswith("warning at PV1-37.1:") for n in notes)
    assert hub.db_count(message_type="DischargeNotice") == 1


def test_an_invalid_adt_over_http_is_a_422_listing_hl7_locations(hl7_hub_factory) -> None:
    hub = hl7_hub_factory()
    headers = {"Authorization": f"Bearer {hub.tokens['trust-a']}", "Content-Type": "application/hl7-v2"}
    response = requests.post(f"{hub.url}/v1/messages", data=adt_a03(nhs_number="9990000019"), headers=headers,
                             timeout=10)  # fmt: skip
    assert response.status_code == 422
    assert [e["location"] for e in response.json()["errors"]] == ["PID-3"]
    assert hub.db_count(message_type="DischargeNotice") == 0


def test_in_a_body_of_several_messages_every_problem_says_which_message() -> None:
    body = adt_a03(control="OK-1") + adt_a03(control="BAD-2", nhs_number="9990000019") + adt_a03(
        control="BAD-3", replace={"PV1": segment("PV1", {1: "1", 2: "I", 3: "Willow Ward^^^RWK"})})  # fmt: skip
    with pytest.raises(InvalidMessage) as caught:
        Hl7v2Adapter().parse(body, content_type="application/hl7-v2", sender_id="trust-a")
    locations = [p.location for p in caught.value.problems]
    assert "message 2 PID-3" in locations
    assert any(loc.startswith("message 3 PV1-") for loc in locations)
    assert not any(loc.startswith("message 1 ") for loc in locations)
    assert all("9990000019" not in p.message for p in caught.value.problems)


def test_a_body_of_two_adt_a03_over_http_is_refused_whole(hl7_hub_factory) -> None:
    hub = hl7_hub_factory()
    headers = {"Authorization": f"Bearer {hub.tokens['trust-a']}", "Content-Type": "application/hl7-v2",
               "Idempotency-Key": "two-in-one"}  # fmt: skip
    body = adt_a03(control="HTTP-A") + adt_a03(control="HTTP-B")
    response = requests.post(f"{hub.url}/v1/messages", data=body, headers=headers, timeout=10)
    assert response.status_code == 422  # one message per request: none of the two is stored
    assert "2 messages" in response.json()["detail"]
    assert hub.db_count(message_type="DischargeNotice") == 0


def test_a_discharge_without_lead_clinician_makes_no_ips_referral_and_says_why() -> None:
    """The IPS transform needs a care coordinator; a notice without contact (now valid) is a refusal, not a crash."""
    from datetime import UTC, datetime

    from hub_nhs.ips_referral import ips_referral

    from hub import Refusal, TransformContext

    message = parse(adt_a03(replace={"PV1": pv1(f7="")}))
    message["payload"]["employment"] = {"wants_work": True, "consent": True, "provider_id": "ips-east"}
    context = TransformContext(
        "ips", datetime(2026, 11, 28, tzinfo=UTC), lambda: "00000000-0000-4000-8000-000000000001"
    )
    with pytest.raises(Refusal, match="care coordinator"):
        ips_referral(message, context)


def test_the_same_message_renders_the_same_bytes_each_time_stamped_with_its_creation_time() -> None:
    """A retry must send what the first attempt sent: MSH-7 and EVN-2 come from created_at, not the clock."""
    message = {**parse(adt_a03()), "created_at": "2026-11-27T11:30:05+00:00"}
    first = render(message)
    time.sleep(1.1)
    assert render(message) == first
    parsed = parse_message(first)
    assert parsed.value("MSH", 7) == "20261127113005+0000"
    assert parsed.value("EVN", 2) == "20261127113005+0000"
    in_summer_time = {**message, "created_at": "2026-07-01T09:00:00+01:00"}
    assert parse_message(render(in_summer_time)).value("MSH", 7) == "20260701080000+0000"
