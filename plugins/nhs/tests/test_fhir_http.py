"""FHIR over real HTTP: a trust posts FHIR JSON and XML, the council gets a HousingRequest; wrong ones store nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from fhir_support import checked_by_fhir_library, entry_index, own_bundle, own_bundle_xml, resource
from lxml import etree

from hub.testing.messages import example
from hub.testing.world import HubWorld, Partner, standard_partners


def post(hub_world: HubWorld, body: bytes, content_type: str, who: str = "trust-a") -> requests.Response:
    return hub_world.as_(who).post(f"{hub_world.url}/v1/messages", data=body, headers={"Content-Type": content_type},
                               timeout=10)  # fmt: skip


@pytest.mark.parametrize("encoding", ["json", "xml"])
def test_a_fhir_discharge_from_trust_a_reaches_the_council_as_a_housing_request(
    hub_world_factory: Any, encoding: str
) -> None:
    hub_world = hub_world_factory()
    if encoding == "json":
        response = post(hub_world, json.dumps(own_bundle()).encode(), "application/fhir+json; fhirVersion=4.0")
    else:
        response = post(hub_world, own_bundle_xml(), "application/fhir+xml")
    assert response.status_code == 202, response.text
    council = hub_world.sims["council-luton"]
    assert council.wait_for(lambda s: s.messages("HousingRequest"))
    request = council.messages("HousingRequest")[0]
    assert request["sender"] == {"org_id": "trust-a", "ods_code": "RWK"}
    assert request["payload"]["target_authority_gss"] == "E06000032"
    assert request["payload"]["person"]["nhs_number"] == "9434765919"
    assert hub_world.sims["steps-luton"].wait_for(lambda s: s.messages("Referral"))
    assert hub_world.sims["ips-luton"].wait_for(lambda s: s.messages("IPSReferral"))


def test_a_discharge_with_a_ward_in_words_and_no_method_or_coded_destination_is_accepted_with_warnings(
    hub_world: Any,
) -> None:
    bundle = own_bundle()
    encounter = resource(bundle, "Encounter")
    encounter["location"] = [{"location": {"display": "Maple Ward"}}]
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Location"]
    encounter["extension"] = [x for x in encounter["extension"] if not x["url"].endswith("DischargeMethod")]
    encounter["hospitalization"]["dischargeDisposition"] = {"text": "To a friend's flat in Dunstable"}
    response = post(hub_world, json.dumps(bundle).encode(), "application/fhir+json")
    assert response.status_code == 202, response.text
    notes = response.json()["notes"]
    enc = f"Bundle.entry[{entry_index(bundle, 'Encounter')}].resource"
    warned = {n.split(": ", 1)[0] for n in notes if n.startswith("warning at ")}
    assert warned == {f"warning at {enc}.extension", f"warning at {enc}.hospitalization.dischargeDisposition.coding"}
    assert not any("friend" in n for n in notes)
    # What no purpose needed did not stop what the discharge is for: the Duty to Refer and the referrals go out.
    assert hub_world.sims["council-luton"].wait_for(lambda s: s.messages("HousingRequest"))
    assert hub_world.sims["steps-luton"].wait_for(lambda s: s.messages("Referral"))
    assert "Maple Ward" in hub_world.sims["steps-luton"].messages("Referral")[0]["payload"]["reason"]
    assert hub_world.sims["ips-luton"].wait_for(lambda s: s.messages("IPSReferral"))


LIAISON = {"name": "Discharge liaison team", "phone": "01582 700200", "email": "liaison.team@example.org",
           "organisation": "Example Mental Health Trust"}  # fmt: skip


def test_a_discharge_without_a_lead_clinician_is_accepted_and_says_what_could_not_be_sent(hub_world: Any) -> None:
    bundle = own_bundle()
    encounter = resource(bundle, "Encounter")
    del encounter["participant"]
    # No referrer to name and no liaison team configured for trust-a: the discharge is accepted, the Duty to
    # Refer is not sent, and the ward is told to refer the person another way.
    response = post(hub_world, json.dumps(bundle).encode(), "application/fhir+json")
    assert response.status_code == 202, response.text
    notes = response.json()["notes"]
    enc = f"Bundle.entry[{entry_index(bundle, 'Encounter')}].resource"
    assert [n for n in notes if n.startswith("warning at ")] == [
        f"warning at {enc}.participant: not given: the lead clinician (a participant whose individual is a "
        "Practitioner); no lead clinician is recorded (a Duty to Refer or a referral needs one)"
    ]
    [refused] = [n for n in notes if n.startswith("route duty-to-refer: no Duty to Refer was sent")]
    assert "gives trust-a no referral_contact" in refused and "another way" in refused
    assert any("no support referral was sent: no lead clinician" in n for n in notes), notes
    view = hub_world.view(response.json()["id"])
    assert not any(d["partner"] == "council-luton" for d in view["deliveries"])
    assert any(e["event"] == "refused" and e["detail"]["route"] == "duty-to-refer" for e in view["timeline"])
    # The IPS referral names the care coordinator instead, so it is sent.
    ips = hub_world.sims["ips-luton"]
    assert ips.wait_for(lambda s: s.messages("IPSReferral"))
    assert ips.messages("IPSReferral")[0]["payload"]["care_coordinator"]["name"] == "Jordan Demo"
    assert hub_world.sims["steps-luton"].messages("Referral") == []
    # With no care coordinator either, the IPS referral is not sent and the notes say why (it was a server error).
    employment = next(x for x in encounter["extension"] if x["url"].endswith("Employment"))
    employment["extension"] = [x for x in employment["extension"] if x["url"] != "careCoordinator"]
    bundle["entry"][0]["resource"]["id"] = str(uuid.uuid4())
    response = post(hub_world, json.dumps(bundle).encode(), "application/fhir+json")
    assert response.status_code == 202, response.text
    assert any("no IPS referral was sent: neither a care coordinator" in n for n in response.json()["notes"])


def test_without_a_lead_clinician_the_trusts_liaison_team_is_the_referrer(hub_world_factory: Any) -> None:
    world = hub_world_factory(partners=standard_partners({"trust-a": {"referral_contact": LIAISON}}))
    bundle = own_bundle()
    del resource(bundle, "Encounter")["participant"]
    response = post(world, json.dumps(bundle).encode(), "application/fhir+json")
    assert response.status_code == 202, response.text
    [note] = [n for n in response.json()["notes"] if n.startswith("route duty-to-refer: warning: ")]
    assert "trust-a's referral contact" in note and LIAISON["phone"] not in note
    council = world.sims["council-luton"]
    assert council.wait_for(lambda s: s.messages("HousingRequest"))
    referrer = council.messages("HousingRequest")[0]["payload"]["referrer"]
    assert {k: referrer[k] for k in LIAISON} == LIAISON
    timeline = world.view(response.json()["id"], who="trust-a")["timeline"]
    assert [e["detail"]["route"] for e in timeline if e["event"] == "warning" and "route" in e["detail"]] == [
        "duty-to-refer"
    ]


def _bad_bodies() -> list[tuple[str, bytes, str, int, str]]:
    """(name, body, content type, status, first problem location)."""
    cases: list[tuple[str, bytes, str, int, str]] = []

    def add(name: str, bundle: dict[str, Any], location: str) -> None:
        cases.append((name, json.dumps(bundle).encode(), "application/fhir+json", 422, location))

    bundle = own_bundle()
    bundle["entry"].insert(0, bundle["entry"].pop(1))
    add("MessageHeader not first", bundle, "Bundle.entry[0].resource")
    bundle = own_bundle()
    bundle["type"] = "transaction"
    add("wrong Bundle type", bundle, "Bundle.type")
    bundle = own_bundle()
    resource(bundle, "Patient")["identifier"][0]["value"] = "9434765910"
    add("bad NHS number", bundle, f"Bundle.entry[{entry_index(bundle, 'Patient')}].resource.identifier[0].value")
    bundle = own_bundle()
    del resource(bundle, "Encounter")["period"]["end"]
    add("no discharge date", bundle, f"Bundle.entry[{entry_index(bundle, 'Encounter')}].resource.period.end")
    bundle = own_bundle()
    resource(bundle, "Encounter")["period"]["end"] = "2026-11-27T11:00:00"
    add("no offset", bundle, f"Bundle.entry[{entry_index(bundle, 'Encounter')}].resource.period.end")
    bundle = own_bundle()
    del resource(bundle, "Patient")["name"]
    add("no name", bundle, f"Bundle.entry[{entry_index(bundle, 'Patient')}].resource.name")
    add("not a Bundle", {"resourceType": "Patient", "id": "x"}, "resourceType")
    cases.append(("JSON array", b"[]", "application/fhir+json", 400, "$"))
    cases.append(("bad JSON", b'{"resourceType":', "application/fhir+json", 400, "line 1, column 17"))
    xxe = (b'<?xml version="1.0"?><!DOCTYPE Bundle [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<Bundle xmlns="http://hl7.org/fhir"><type value="&x;"/></Bundle>')  # fmt: skip
    cases.append(("XXE", xxe, "application/fhir+xml", 400, "line 1"))
    laughs = (b'<?xml version="1.0"?><!DOCTYPE b [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
              b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><Bundle xmlns="http://hl7.org/fhir"><type value="&c;"/>'
              b"</Bundle>")  # fmt: skip
    cases.append(("billion laughs", laughs, "application/fhir+xml", 400, "line 1"))
    cases.append(("malformed XML", b"<Bundle xmlns='http://hl7.org/fhir'><type>", "application/fhir+xml", 400,
                  "line 1, column 43"))  # fmt: skip
    xml = etree.fromstring(own_bundle_xml())
    bundle_type = xml.find("{http://hl7.org/fhir}type")
    assert bundle_type is not None
    bundle_type.set("value", "document")
    cases.append(("wrong type in XML", etree.tostring(xml), "application/fhir+xml", 422, "Bundle.type"))
    return cases


def test_each_wrong_fhir_body_is_answered_with_its_path_and_nothing_is_stored(hub_world: Any) -> None:
    for name, body, content_type, status, location in _bad_bodies():
        response = post(hub_world, body, content_type)
        assert response.status_code == status, (name, response.text)
        errors = response.json()["errors"]
        assert errors[0]["location"] == location, (name, errors)
    assert hub_world.db_count() == 0
    assert hub_world.sims["council-luton"].messages() == []


@pytest.fixture
def fhir_trust(hub_world_factory: Callable[..., HubWorld]) -> HubWorld:
    """A hub where trust-a speaks FHIR (adapter fhir-r4, XML on the way out) and the council is canonical JSON."""
    return hub_world_factory([
        Partner("trust-a", "nhs_trust", {"ods_code": "RWK"}, adapter="fhir-r4", path="/fhir",
                options={"fhir_format": "xml"}),
        Partner("council-luton", "council", {"gss_code": "E06000032"}),
        Partner("steps-luton", "hostel"),
        Partner("ips-luton", "ips_provider"),
    ], operators=())  # fmt: skip


def test_a_fhir_trust_gets_the_councils_appointment_back_as_a_fhir_appointment(fhir_trust: HubWorld) -> None:
    hub, tokens, sims = fhir_trust.hub, fhir_trust.tokens, fhir_trust.sims
    auth = {"Authorization": f"Bearer {tokens['trust-a']}", "Content-Type": "application/fhir+xml"}
    response = requests.post(f"{hub.url}/v1/messages", data=own_bundle_xml(), headers=auth, timeout=10)
    assert response.status_code == 202, response.text
    assert sims["council-luton"].wait_for(lambda s: s.messages("HousingRequest"))
    request = sims["council-luton"].messages("HousingRequest")[0]
    appointment = example("housing-appointment", sender={"org_id": "council-luton", "gss_code": "E06000032"},
                          in_reply_to=request["message_id"])  # fmt: skip
    answer = requests.post(f"{hub.url}/v1/messages", json=appointment, timeout=10,
                           headers={"Authorization": f"Bearer {tokens['council-luton']}"})  # fmt: skip
    assert answer.status_code == 202, answer.text
    trust = sims["trust-a"]
    assert trust.wait_for(lambda s: len(s.received) >= 1)
    received = trust.received[0]
    assert received.content_type.startswith("application/fhir+xml")
    header = checked_by_fhir_library(received.body, received.content_type).entry[0].resource
    [destination] = header.destination
    assert destination.receiver.identifier.value == "RWK" and destination.endpoint.endswith("/Endpoint/trust-a")
    assert header.sender.identifier.value == "E06000032"
    root = etree.fromstring(received.body)
    ns = {"f": "http://hl7.org/fhir"}
    assert root.xpath("string(f:type/@value)", namespaces=ns) == "message"
    assert root.xpath("string(f:entry[1]/f:resource/f:MessageHeader/f:eventCoding/f:code/@value)",
                      namespaces=ns) == "housing-appointment"  # fmt: skip
    assert root.xpath("string(f:entry[2]/f:resource/f:Appointment/f:status/@value)", namespaces=ns) == "proposed"
    assert root.xpath("string(f:entry[2]/f:resource/f:Appointment/f:start/@value)", namespaces=ns) == \
        appointment["payload"]["start"]  # fmt: skip
