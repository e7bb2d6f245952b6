"""FHIR out: Acknowledgements as FHIR response messages, HousingAppointments as Appointments, others as JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hub_nhs.fhir.adapter import FhirR4Adapter
from hub_nhs.fhir.xml_codec import read_xml
from lxml import etree
from messages import example

from hub import Partner
from hub.partners import Receive

ADAPTER = FhirR4Adapter()


def trust(**options: Any) -> Partner:
    return Partner("trust-a", "Trust A", "nhs_trust", adapter="fhir-r4", codes={"ods_code": "RWK"},
                   receive=Receive("push", "http", "http://127.0.0.1:9/", options))  # fmt: skip


def ack(status: str, **payload: Any) -> dict[str, Any]:
    message = example("acknowledgement", recipient={"org_id": "trust-a", "ods_code": "RWK"})
    message["payload"].update(status=status, **payload)
    return message


@pytest.mark.parametrize(
    ("status", "code"), [("received", "ok"), ("accepted", "ok"), ("error", "transient-error"),
                         ("rejected", "fatal-error")],
)  # fmt: skip
def test_an_acknowledgement_becomes_a_fhir_response_message(status: str, code: str) -> None:
    message = ack(status)
    rendered = ADAPTER.render(message, partner=trust())
    assert rendered.content_type == "application/fhir+json; fhirVersion=4.0"
    bundle = json.loads(rendered.body)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "message"
    header = bundle["entry"][0]["resource"]
    assert header["resourceType"] == "MessageHeader" and header["id"] == message["message_id"]
    assert header["response"]["identifier"] == message["in_reply_to"]
    assert header["response"]["code"] == code
    assert header["destination"][0]["receiver"]["identifier"]["value"] == "RWK"
    has_outcome = code != "ok"
    assert ("details" in header["response"]) is has_outcome
    assert len(bundle["entry"]) == (2 if has_outcome else 1)


def test_a_rejection_carries_its_reason_in_an_operation_outcome() -> None:
    message = ack("rejected", reason_code="no-consent", reason="The person withdrew consent.")
    bundle = json.loads(ADAPTER.render(message, partner=trust()).body)
    header, outcome = (e["resource"] for e in bundle["entry"])
    assert header["response"]["details"]["reference"] == bundle["entry"][1]["fullUrl"]
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert (issue["severity"], issue["code"]) == ("error", "processing")
    assert issue["details"]["coding"][0]["code"] == "no-consent"
    assert issue["details"]["text"] == "The person withdrew consent."


def test_rendering_twice_gives_the_same_bytes() -> None:
    message = ack("rejected", reason="Nope.")
    assert ADAPTER.render(message, partner=trust()).body == ADAPTER.render(message, partner=trust()).body


def test_xml_is_chosen_by_the_partner_option_and_reads_back_as_the_same_bundle() -> None:
    message = ack("error", reason="Try later.")
    as_json = json.loads(ADAPTER.render(message, partner=trust()).body)
    rendered = ADAPTER.render(message, partner=trust(fhir_format="xml"))
    assert rendered.content_type == "application/fhir+xml; fhirVersion=4.0"
    assert etree.QName(etree.fromstring(rendered.body)).namespace == "http://hl7.org/fhir"
    assert read_xml(rendered.body) == as_json
    with pytest.raises(ValueError, match="fhir_format"):
        ADAPTER.render(message, partner=trust(fhir_format="yaml"))


@pytest.mark.parametrize(
    ("status", "fhir_status"),
    [("offered", "proposed"), ("confirmed", "booked"), ("cancelled", "cancelled"), ("contact_failed", "noshow")],
)
def test_a_housing_appointment_becomes_an_appointment_message(status: str, fhir_status: str) -> None:
    message = example("housing-appointment")
    message["payload"]["status"] = status
    bundle = json.loads(ADAPTER.render(message, partner=trust(appointment_minutes=30)).body)
    header, appointment, officer, authority = (e["resource"] for e in bundle["entry"])
    assert header["focus"][0]["reference"] == bundle["entry"][1]["fullUrl"]
    assert appointment["status"] == fhir_status
    assert appointment["extension"][0]["valueCode"] == status
    assert appointment["start"] == "2026-11-26T10:30:00Z" and appointment["end"] == "2026-11-26T11:00:00Z"
    assert appointment["identifier"][0]["value"] == "HOM/2026/04567"
    assert officer["name"][0]["text"] == "Pat Officer"
    assert authority["identifier"][0]["value"] == "E06000032"
    correlation = {e["url"]: e["valueString"] for e in header["extension"][0]["extension"]}
    assert correlation == {"inReplyTo": message["in_reply_to"], "correlationId": message["correlation_id"]}
    assert read_xml(ADAPTER.render(message, partner=trust(fhir_format="xml", appointment_minutes=30)).body) == bundle


def test_other_types_go_out_as_canonical_json_with_a_note() -> None:
    message = example("follow-up")
    rendered = ADAPTER.render(message, partner=trust())
    assert rendered.content_type == "application/json"
    assert json.loads(rendered.body) == message
    assert "FollowUp" in rendered.headers["X-Hub-Note"]


def test_the_plugin_registers_the_adapter_through_its_entry_point() -> None:
    from hub.plugins import load_plugins

    plugins = load_plugins()
    assert plugins.adapters["fhir-r4"].content_types == ("application/fhir+json", "application/fhir+xml")
    assert plugins.adapter_for_content_type("application/fhir+xml").name == "fhir-r4"
