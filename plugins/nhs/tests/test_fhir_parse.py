"""FHIR R4 UK Core in: published examples and the project's own Bundles become valid DischargeNotices."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fhir_support import entry_index, own_bundle, own_bundle_xml, resource, ukcore_bundle_xml, xml_to_json
from hub_nhs.fhir.adapter import FhirR4Adapter

from hub import InvalidMessage, Parsed, UnparseableInput
from hub.testing import canonical_problems

ADAPTER = FhirR4Adapter()
JSON, XML = "application/fhir+json", "application/fhir+xml"


def parsed_json(bundle: dict[str, Any], sender: str = "trust-a") -> Parsed:
    [parsed] = ADAPTER.parse(json.dumps(bundle).encode(), content_type=JSON, sender_id=sender)
    return parsed


def parse_json(bundle: dict[str, Any], sender: str = "trust-a") -> dict[str, Any]:
    return parsed_json(bundle, sender).message


def problems_of(bundle: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidMessage) as caught:
        parse_json(bundle)
    return {p.location: p.message for p in caught.value.problems}


@pytest.mark.parametrize("encoding", ["xml", "json"])
def test_published_ukcore_examples_in_a_bundle_become_a_valid_discharge_notice(encoding: str) -> None:
    message_id = str(uuid.uuid4())
    body = ukcore_bundle_xml(message_id=message_id)
    if encoding == "json":
        body = xml_to_json(body)
    [parsed] = ADAPTER.parse(body, content_type=XML if encoding == "xml" else JSON, sender_id="trust-x")
    message = parsed.message
    assert canonical_problems(message, "trust-x") == [] and parsed.warnings == ()
    assert message["message_id"] == message_id
    assert message["sender"] == {"org_id": "trust-x", "ods_code": "X26"}
    payload = message["payload"]
    person = payload["person"]
    assert (person["nhs_number"], person["nhs_number_status"]) == ("9912003888", "01")
    assert person["address"] == {"lines": ["4 Sandmoor Drive", "LEEDS"], "postcode": "LS17 7DF"}
    assert payload["discharging_org"] == {"ods_code": "RR8", "name": "LEEDS TEACHING HOSPITALS NHS TRUST"}
    assert payload["discharge"] == {"date_time": "2019-12-11T13:00:00Z", "planned": False, "method": "1",
                                    "destination": "19"}  # fmt: skip
    assert payload["ward"] == "CARDIOLOGY SJUH" and payload["admission_date"] == "2019-12-10"
    assert payload["contact"]["name"] == "Mrs Sandra Gose"


def test_the_baby_patient_example_parses_as_the_subject_too() -> None:
    files = (
        "UKCore-MessageHeader-Discharge-Example.xml",
        "UKCore-Encounter-InpatientEncounter-Example.xml",
        "UKCore-Patient-BabyPatient-Example.xml",
        "UKCore-Practitioner-ConsultantSandraGose-Example.xml",
        "UKCore-Location-CardiologySJUH-Example.xml",
        "UKCore-Organization-LeedsTeachingHospital-Example.xml",
        "UKCore-Organization-WhiteRoseMedicalCentre-Example.xml",
    )
    body = ukcore_bundle_xml(files)
    # The Encounter names Richard Smith; the Bundle carries the baby, so the reference does not resolve.
    with pytest.raises(InvalidMessage) as caught:
        ADAPTER.parse(body, content_type=XML, sender_id="trust-x")
    assert [p.location for p in caught.value.problems] == ["Bundle.entry[1].resource.subject.reference"]
    body = body.replace(b"Patient/UKCore-Patient-RichardSmith-Example", b"Patient/UKCore-Patient-BabyPatient-Example")
    # The published baby example's NHS number fails the Modulus 11 check: refused there, and only there.
    with pytest.raises(InvalidMessage) as caught:
        ADAPTER.parse(body, content_type=XML, sender_id="trust-x")
    assert [p.location for p in caught.value.problems] == ["Bundle.entry[2].resource.identifier[0].value"]
    assert "Modulus 11" in caught.value.problems[0].message


def test_own_bundle_json_and_xml_give_the_same_complete_discharge_notice() -> None:
    message_id = str(uuid.uuid4())
    parsed = parsed_json(own_bundle(message_id))
    from_json = parsed.message
    [from_xml] = ADAPTER.parse(own_bundle_xml(message_id), content_type=XML, sender_id="trust-a")
    assert parsed == from_xml and parsed.warnings == ()
    assert canonical_problems(from_json, "trust-a") == []
    assert from_json["sender"] == {"org_id": "trust-a", "ods_code": "RWK"}
    assert from_json["consent"] == {"referral": True, "share_contact": True, "method": "written",
                                    "recorded_at": "2026-11-23T15:30:00Z",
                                    "recorded_by": "Chris Placeholder, Ward Manager"}  # fmt: skip
    payload = from_json["payload"]
    assert payload["person"]["no_fixed_abode"] is True and payload["person"]["local_id"] == "RWK-00123456"
    assert payload["discharge"] == {"date_time": "2026-11-27T11:00:00Z", "planned": True, "method": "1",
                                    "destination": "19"}  # fmt: skip
    assert payload["admission_date"] == "2026-10-02"
    assert payload["housing"]["chosen_authority_gss"] == "E06000032" and payload["housing"]["urgent"] is True
    assert payload["support"]["provider_id"] == "steps-luton"
    assert payload["employment"]["care_coordinator"]["name"] == "Jordan Demo"
    assert payload["legal_status"] == {"mha_section": "3", "cto": False, "s117": True}
    assert payload["contact"] == {"name": "Dr Sam Sample", "organisation": "East London NHS Foundation Trust",
                                  "phone": "01582 700100", "email": "sam.sample@example.org"}  # fmt: skip


def _patient_path(bundle: dict[str, Any]) -> str:
    return f"Bundle.entry[{entry_index(bundle, 'Patient')}].resource"


def _encounter_path(bundle: dict[str, Any]) -> str:
    return f"Bundle.entry[{entry_index(bundle, 'Encounter')}].resource"


def test_a_bad_nhs_number_is_reported_at_its_identifier_value() -> None:
    bundle = own_bundle()
    resource(bundle, "Patient")["identifier"][0]["value"] = "9434765918"
    problems = problems_of(bundle)
    assert list(problems) == [f"{_patient_path(bundle)}.identifier[0].value"]
    assert "Modulus 11" in problems[f"{_patient_path(bundle)}.identifier[0].value"]
    assert "9434765918" not in json.dumps(problems)


def test_every_problem_is_listed_at_once() -> None:
    bundle = own_bundle()
    resource(bundle, "Patient")["identifier"][0]["value"] = "123"
    encounter = resource(bundle, "Encounter")
    del encounter["period"]["end"]
    del resource(bundle, "Patient")["birthDate"]
    assert set(problems_of(bundle)) == {
        f"{_patient_path(bundle)}.identifier[0].value",
        f"{_encounter_path(bundle)}.period.end",
        f"{_patient_path(bundle)}.birthDate",
    }


@pytest.mark.parametrize(
    ("change", "location"),
    [
        (lambda b: b["entry"][0]["resource"].update(eventCoding=None), "Bundle.entry[0].resource.eventCoding"),
        (lambda b: resource(b, "Encounter")["period"].pop("end"), "ENC.period.end"),
        (lambda b: resource(b, "Encounter")["period"].update(end="2026-11-27T11:00:00"), "ENC.period.end"),
        (lambda b: resource(b, "Encounter")["period"].update(end="2026-11-27"), "ENC.period.end"),
        (lambda b: resource(b, "Encounter").update(status="cancelled"), "ENC.status"),
        (lambda b: resource(b, "Patient").update(birthDate="1990"), "PAT.birthDate"),
        (lambda b: resource(b, "Patient").update(identifier={"system": "x", "value": "y"}), "PAT.identifier"),
        (lambda b: b["entry"][0]["resource"]["sender"]["identifier"].update(value="rw k"),
         "Bundle.entry[0].resource.sender.identifier.value"),
        (lambda b: resource(b, "Encounter")["extension"][2]["extension"][1].update(valueCode="E10000015"),
         "ENC.extension[2].extension[1].valueCode"),
        (lambda b: resource(b, "Consent").update(dateTime="2026-11-23T15:30"), "Bundle.entry[7].resource.dateTime"),
    ],
)  # fmt: skip
def test_wrong_content_is_refused_at_its_fhir_path(change: Any, location: str) -> None:
    bundle = own_bundle()
    change(bundle)
    if bundle["entry"][0]["resource"].get("eventCoding", 1) is None:
        del bundle["entry"][0]["resource"]["eventCoding"]
    location = location.replace("ENC", _encounter_path(bundle)).replace("PAT", _patient_path(bundle))
    assert list(problems_of(bundle)) == [location]


def test_the_bundle_shape_is_checked_first() -> None:
    bundle = own_bundle()
    bundle["type"] = "collection"
    assert list(problems_of(bundle)) == ["Bundle.type"]
    bundle = own_bundle()
    bundle["entry"].append(bundle["entry"].pop(0))
    assert list(problems_of(bundle)) == ["Bundle.entry[0].resource"]
    assert list(problems_of({"resourceType": "Patient"})) == ["resourceType"]
    with pytest.raises(UnparseableInput):
        ADAPTER.parse(b"[1, 2]", content_type=JSON, sender_id="trust-a")
    with pytest.raises(UnparseableInput) as caught:
        ADAPTER.parse(b'{"resourceType": "Bundle",', content_type=JSON, sender_id="trust-a")
    assert caught.value.problems[0].location.startswith("line 1, column")


HOSTILE_XML = {
    "xxe": b'<?xml version="1.0"?><!DOCTYPE Bundle [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<Bundle xmlns="http://hl7.org/fhir"><type value="&x;"/></Bundle>',
    "billion laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode() for i in
               range(1, 10))
    + b']><Bundle xmlns="http://hl7.org/fhir"><type value="&lol9;"/></Bundle>',
    "external dtd": b'<?xml version="1.0"?><!DOCTYPE Bundle SYSTEM "http://127.0.0.1:9/x.dtd">'
    b'<Bundle xmlns="http://hl7.org/fhir"><type value="message"/></Bundle>',
    "utf-16 dtd": '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE Bundle [<!ENTITY a "b">]>'
    '<Bundle xmlns="http://hl7.org/fhir"/>'.encode("utf-16"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(HOSTILE_XML))
def test_hostile_xml_is_refused_unread(name: str) -> None:
    with pytest.raises(UnparseableInput) as caught:
        ADAPTER.parse(HOSTILE_XML[name], content_type=XML, sender_id="trust-a")
    assert "document type" in caught.value.detail


@pytest.mark.parametrize(
    "body",
    [b"<Bundle xmlns='http://hl7.org/fhir'><type value='message'/>", b"not xml", b"<Bundle/>",
     b"<Bundle xmlns='http://hl7.org/fhir'>&undefined;</Bundle>"],
)  # fmt: skip
def test_malformed_or_foreign_xml_is_unparseable(body: bytes) -> None:
    with pytest.raises(UnparseableInput) as caught:
        ADAPTER.parse(body, content_type=XML, sender_id="trust-a")
    assert caught.value.problems


def test_the_complete_example_in_the_partner_guide_is_accepted() -> None:
    guide = (Path(__file__).resolve().parents[3] / "docs" / "partners" / "nhs-fhir.md").read_text()
    example = guide.split("## A complete example", 1)[1].split("```json\n", 1)[1].split("\n```", 1)[0]
    [parsed] = ADAPTER.parse(example.encode(), content_type=JSON, sender_id="trust-elft")
    message = parsed.message
    assert canonical_problems(message, "trust-elft") == [] and parsed.warnings == ()
    assert message["message_id"] == "6db26f15-9da0-4b86-bd80-2a8193f4faa5"


def warnings_of(bundle: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The payload of an accepted Bundle (valid canonically) and its warnings by location."""
    parsed = parsed_json(bundle)
    assert canonical_problems(parsed.message, "trust-a") == []
    return parsed.message["payload"], {w.location: w.message for w in parsed.warnings}


def _drop(bundle: dict[str, Any], resource_type: str) -> None:
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != resource_type]


def test_a_discharge_without_a_lead_clinician_is_accepted_with_a_warning() -> None:
    bundle = own_bundle()
    del resource(bundle, "Encounter")["participant"]
    payload, warnings = warnings_of(bundle)
    assert "contact" not in payload
    assert list(warnings) == [f"{_encounter_path(bundle)}.participant"]
    assert warnings[f"{_encounter_path(bundle)}.participant"].startswith("not given: the lead clinician")


def test_a_ward_given_only_as_display_text_is_carried() -> None:
    bundle = own_bundle()
    resource(bundle, "Encounter")["location"] = [{"location": {"display": "Maple Ward"}}]
    _drop(bundle, "Location")
    payload, warnings = warnings_of(bundle)
    assert payload["ward"] == "Maple Ward" and warnings == {}
    # A reference to a Location that is not in the Bundle: the display is used, and the sender told.
    resource(bundle, "Encounter")["location"] = [{"location": {"reference": "Location/gone", "display": "Maple Ward"}}]
    payload, warnings = warnings_of(bundle)
    where = f"{_encounter_path(bundle)}.location[0].location.reference"
    assert payload["ward"] == "Maple Ward" and list(warnings) == [where]
    assert "taken from location.display" in warnings[where]


@pytest.mark.parametrize(
    ("change", "discharge", "location"),
    [
        (lambda e: e["extension"].pop(0), {"method": "9"}, "ENC.extension"),
        (lambda e: e["extension"][0]["valueCodeableConcept"]["coding"][0].update(code="2"), {"method": "9"},
         "ENC.extension[0].valueCodeableConcept.coding[0].code"),
        (lambda e: e.pop("hospitalization"), {"destination": "99"}, "ENC.hospitalization.dischargeDisposition"),
        (lambda e: e["hospitalization"].update(dischargeDisposition={"text": "To a friend's flat in Dunstable"}),
         {"destination": "99", "destination_text": "To a friend's flat in Dunstable"},
         "ENC.hospitalization.dischargeDisposition.coding"),
        (lambda e: e["hospitalization"]["dischargeDisposition"]["coding"][0].update(code="20"),
         {"destination": "99", "destination_text": "Usual place of residence (includes no fixed abode)"},
         "ENC.hospitalization.dischargeDisposition.coding[0].code"),
        (lambda e: e["hospitalization"]["dischargeDisposition"]["coding"][0].update(system="urn:oid:1.2.3"),
         {"destination": "99", "destination_text": "Usual place of residence (includes no fixed abode)"},
         "ENC.hospitalization.dischargeDisposition.coding"),
    ],
)  # fmt: skip
def test_a_missing_or_unknown_method_or_destination_is_recorded_as_not_known(
    change: Any, discharge: dict[str, str], location: str
) -> None:
    bundle = own_bundle()
    change(resource(bundle, "Encounter"))
    payload, warnings = warnings_of(bundle)
    assert {k: payload["discharge"].get(k) for k in discharge} == discharge
    if "destination" in discharge and "destination_text" not in discharge:
        assert "destination_text" not in payload["discharge"]
    location = location.replace("ENC", _encounter_path(bundle))
    assert list(warnings) == [location]
    assert "not known" in warnings[location]
    assert not any(text in warnings[location] for text in ("friend", "Usual place", "20", "1.2.3"))


def test_an_unknown_nhs_number_status_or_no_admission_date_is_warned_not_refused() -> None:
    bundle = own_bundle()
    identifier = resource(bundle, "Patient")["identifier"][0]
    identifier["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = "09"
    del resource(bundle, "Encounter")["period"]["start"]
    payload, warnings = warnings_of(bundle)
    assert "nhs_number_status" not in payload["person"] and payload["person"]["nhs_number"] == "9434765919"
    assert "admission_date" not in payload
    assert set(warnings) == {
        f"{_patient_path(bundle)}.identifier[0].extension[0].valueCodeableConcept.coding[0].code",
        f"{_encounter_path(bundle)}.period.start",
    }


def test_a_wrong_bundle_type_or_resource_type_is_not_repeated_back() -> None:
    for field, sent, location in (("type", "searchset-XYZZY", "Bundle.type"),
                                  ("resourceType", "PatientXYZZY", "resourceType")):  # fmt: skip
        bundle = own_bundle()
        bundle[field] = sent
        problems = problems_of(bundle)
        assert list(problems) == [location]
        assert "XYZZY" not in problems[location]


def _documented_elements() -> list[tuple[str, str, str]]:
    """(element, outcome, reported at) for each row of the partner guide's table of required and optional elements."""
    guide = (Path(__file__).resolve().parents[3] / "docs" / "partners" / "nhs-fhir.md").read_text()
    section = guide.split("### Required and optional elements", 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows.append((cells[0].strip("`"), cells[1], cells[2].strip("`")))
    return rows


def _remove(bundle: dict[str, Any], element: str) -> None:
    """Remove a documented element: ``Type`` (every entry), ``Type.a.b`` (in every resource and list item)."""
    rtype, _, path = element.partition(".")
    if rtype == "Bundle":
        del bundle[path]
        return
    if not path:
        _drop(bundle, rtype)
        return
    steps = path.split(".")

    def walk(node: Any, rest: list[str]) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, rest)
            return
        step = rest[0]
        if step.startswith("extension("):
            name = step[len("extension(") : -1]
            node["extension"] = [x for x in node["extension"] if not x["url"].endswith("/" + name)]
        elif len(rest) == 1:
            del node[step]
        else:
            walk(node[step], rest[1:])

    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == rtype:
            walk(entry["resource"], steps)


def _fhir_path(bundle: dict[str, Any], documented: str) -> str:
    rtype, _, rest = documented.partition(".")
    if rtype == "Bundle" or "[" in rtype:
        return documented
    return f"Bundle.entry[{entry_index(bundle, rtype)}].resource" + (f".{rest}" if rest else "")


ELEMENTS = _documented_elements()


def test_the_guide_lists_required_and_optional_elements() -> None:
    outcomes = {outcome for _, outcome, _ in ELEMENTS}
    assert outcomes == {"refused", "accepted", "accepted, with a warning"}
    assert len(ELEMENTS) >= 30


@pytest.mark.parametrize(("element", "outcome", "reported_at"), ELEMENTS, ids=[e for e, _, _ in ELEMENTS])
def test_each_documented_element_is_required_or_optional_as_the_guide_says(
    element: str, outcome: str, reported_at: str
) -> None:
    bundle = own_bundle()
    before = json.dumps(bundle)
    _remove(bundle, element)
    assert json.dumps(bundle) != before, f"the example Bundle has no {element} to remove"
    if outcome == "refused":
        assert _fhir_path(bundle, reported_at) in problems_of(bundle)
        return
    payload, warnings = warnings_of(bundle)
    assert payload["person"] and payload["discharge"]["date_time"]
    if outcome == "accepted":
        assert warnings == {}
    else:
        assert _fhir_path(bundle, reported_at) in warnings, warnings
