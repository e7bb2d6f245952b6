"""ADT^A03 to DischargeNotice: the mapping, its refusals, and application/hl7-v2 over the HTTP API."""

from __future__ import annotations

import pytest
import requests
from hl7_support import TEST_NHS_NUMBER, adt_a03, hl7_hub_factory, segment
from hub_nhs.hl7v2.adapter import Hl7v2Adapter
from hub_nhs.hl7v2.parser import parse_message

from hub.canonical import CanonicalValidator
from hub.problems import InvalidMessage, UnparseableInput

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
    assert CanonicalValidator().problems(message, "trust-a") == []
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


def test_rendering_then_parsing_gives_the_same_discharge_notice() -> None:
    original = parse(adt_a03())
    partner = type("P", (), {"codes": {"ods_code": "RXY"}, "id": "trust-b"})()
    rendered = Hl7v2Adapter().render(original, partner=partner)
    assert rendered.content_type == "application/hl7-v2"
    assert parse_message(rendered.body).value("MSH", 6) == "RXY"
    again = parse(rendered.body)
    assert {**again, "message_id": "", "created_at": ""} == {**original, "message_id": "", "created_at": ""}


def test_an_adt_a03_posted_over_http_is_accepted_and_a_resend_is_a_duplicate(hl7_hub_factory) -> None:
    hub = hl7_hub_factory()
    headers = {"Authorization": f"Bearer {hub.tokens['trust-a']}", "Content-Type": "application/hl7-v2"}
    body = adt_a03(control="HTTP-1", separator="\n")
    first = requests.post(f"{hub.url}/v1/messages", data=body, headers=headers, timeout=10)
    second = requests.post(f"{hub.url}/v1/messages", data=body, headers=headers, timeout=10)
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json()["duplicate"] is True and second.json()["id"] == first.json()["id"]
    assert hub.count("DischargeNotice") == 1
    assert hub.sims["trust-b"].wait_for(lambda s: s.messages("DischargeNotice"))


def test_an_invalid_adt_over_http_is_a_422_listing_hl7_locations(hl7_hub_factory) -> None:
    hub = hl7_hub_factory()
    headers = {"Authorization": f"Bearer {hub.tokens['trust-a']}", "Content-Type": "application/hl7-v2"}
    response = requests.post(f"{hub.url}/v1/messages", data=adt_a03(nhs_number="9990000019"), headers=headers,
                             timeout=10)  # fmt: skip
    assert response.status_code == 422
    assert [e["location"] for e in response.json()["errors"]] == ["PID-3"]
    assert hub.count("DischargeNotice") == 0
