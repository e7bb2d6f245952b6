"""FHIR out: Acknowledgements as FHIR response messages, HousingAppointments as Appointments, others as JSON.

Every FHIR Bundle rendered here is checked by an independent FHIR library
(fhir.resources, R4B models) in the encoding it was rendered in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from fhir_support import checked_by_fhir_library
from hub_nhs.fhir.adapter import FhirR4Adapter
from hub_nhs.fhir.xml_codec import read_xml
from lxml import etree

from hub import Partner, Receive, Rendered
from hub.testing.messages import example


class CheckedAdapter(FhirR4Adapter):
    """The fhir-r4 adapter, with every FHIR Bundle it renders validated by fhir.resources."""

    def render(self, message: dict[str, Any], *, partner: Partner) -> Rendered:
        rendered = super().render(message, partner=partner)
        if rendered.content_type.startswith("application/fhir+"):
            checked_by_fhir_library(rendered.body, rendered.content_type)
        return rendered


ADAPTER = CheckedAdapter()


def trust(partner_id: str = "trust-a", codes: dict[str, str] | None = None, **options: Any) -> Partner:
    return Partner(partner_id, partner_id.replace("-", " ").title(), "nhs_trust", adapter="fhir-r4",
                   codes={"ods_code": "RWK"} if codes is None else codes,
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
    listed = subprocess.run([sys.executable, "-m", "hub", "plugins", "list", "--json"], capture_output=True,
                            text=True, timeout=60, check=True)  # fmt: skip
    [nhs] = [p for p in json.loads(listed.stdout) if p["name"] == "nhs-fhir"]
    assert (nhs["distribution"], nhs["error"]) == ("hub-plugin-nhs", None)
    assert "adapter:fhir-r4" in nhs["registers"]
    assert ADAPTER.name == "fhir-r4"
    assert ADAPTER.content_types == ("application/fhir+json", "application/fhir+xml")


@pytest.mark.parametrize("encoding", ["json", "xml"])
@pytest.mark.parametrize(
    ("who", "codes", "system", "value"),
    [("trust-a", {"ods_code": "RWK"}, "https://fhir.nhs.uk/Id/ods-organization-code", "RWK"),
     ("trust-b", {}, "https://hub.invalid/fhir/Id/org-id", "trust-b")],
)  # fmt: skip
def test_the_message_header_names_the_partner_it_is_delivered_to(
    encoding: str, who: str, codes: dict[str, str], system: str, value: str
) -> None:
    # Replies carry no canonical recipient (the hub routes them to the sender of what they answer), and a
    # recipient a message does name may not be who receives this copy: the header follows the delivery.
    for message in (ack("accepted"), example("housing-appointment"),
                    ack("rejected", recipient={"org_id": "someone-else", "ods_code": "XYZ"})):  # fmt: skip
        partner = trust(who, codes, fhir_format=encoding)
        rendered = ADAPTER.render(message, partner=partner)
        bundle = checked_by_fhir_library(rendered.body, rendered.content_type)
        [destination] = bundle.entry[0].resource.destination
        assert destination.name == partner.name
        assert destination.endpoint == f"https://hub.invalid/fhir/Endpoint/{who}"
        assert (destination.receiver.identifier.system, destination.receiver.identifier.value) == (system, value)
        assert destination.receiver.display == partner.name
        assert "unknown" not in rendered.body.decode()


def _variants() -> list[dict[str, Any]]:
    """Acknowledgements and appointments in every shape the canonical schemas allow the renderer to meet."""
    out = []
    for status in ("received", "accepted", "error", "rejected"):
        for extra in ({}, {"reason": "Consent withdrawn."}, {"reason_code": "no-consent", "level": "transport"},
                      {"receiver_ref": "REF-1"}):  # fmt: skip
            out.append(ack(status, **extra))
    bare = ack("accepted")
    bare.pop("correlation_id", None)
    out.append(bare)
    for status in ("offered", "confirmed", "rescheduled", "cancelled", "contact_failed", "closed_no_contact"):
        message = example("housing-appointment")
        message["payload"]["status"] = status
        out.append(message)
    sparse = example("housing-appointment")
    for key in ("start", "mode", "location"):
        sparse["payload"].pop(key)
    sparse["payload"]["officer"] = {"name": "Pat Officer"}
    sparse.pop("correlation_id", None)
    out.append(sparse)
    return out


@pytest.mark.parametrize("encoding", ["json", "xml"])
def test_every_rendered_shape_is_valid_fhir_r4(encoding: str) -> None:
    for message in _variants():
        rendered = ADAPTER.render(message, partner=trust(fhir_format=encoding))
        bundle = checked_by_fhir_library(rendered.body, rendered.content_type)
        assert bundle.type == "message" and bundle.entry[0].resource.id == message["message_id"]
