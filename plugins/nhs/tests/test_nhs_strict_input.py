"""FHIR JSON and HL7 v2 bodies over HTTP: one strict reading, so what is accepted can be delivered.

A repeated JSON member name, text that breaks its declared UTF-8 and control characters are refused
saying where, and nothing is stored.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from fhir_support import entry_index, own_bundle, resource
from hl7_support import adt_a03, hl7_hub_factory, segment

__all__ = ["hl7_hub_factory"]

FHIR_JSON = "application/fhir+json"
HL7 = "application/hl7-v2"
UTF8_MSH = "MSH|^~\\&|EPR|RWK|HUB|HUB|20261127110500||ADT^A03^ADT_A03|{control}|P|2.4|||AL|NE||UNICODE UTF-8"


def post(url: str, token: str, body: bytes, content_type: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    return requests.post(f"{url}/v1/messages", data=body, headers=headers, timeout=10)


def pid(family: str) -> str:
    return segment("PID", {1: "1", 3: "9990000018^^^NHS^NH", 5: f"{family}^Alex", 7: "19900517", 8: "M"})


def test_fhir_json_refuses_a_second_nhs_number_under_the_same_member_name(hub_world: Any) -> None:
    bundle = own_bundle()
    body = json.dumps(bundle).encode()
    number = resource(bundle, "Patient")["identifier"][0]["value"]
    once = f'"value": "{number}"'.encode()
    assert body.count(once) == 1
    response = post(hub_world.url, hub_world.tokens["trust-a"], body.replace(once, once + b', "value": "9990000018"'),
                    FHIR_JSON)  # fmt: skip
    assert response.status_code == 400, response.text
    patient = entry_index(bundle, "Patient")
    assert response.json()["errors"][0]["location"] == f"$.entry[{patient}].resource.identifier[0].value"
    assert number not in response.text and "9990000018" not in response.text
    assert hub_world.db_count() == 0


def test_fhir_json_that_is_not_utf8_is_refused_at_its_byte_offset(hub_world: Any) -> None:
    bundle = own_bundle()
    resource(bundle, "Patient")["name"][0]["family"] = "Zo@"
    body = json.dumps(bundle).encode()
    at = body.index(b"Zo@") + 2
    response = post(hub_world.url, hub_world.tokens["trust-a"], body[:at] + b"\xeb" + body[at + 1 :], FHIR_JSON)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["location"] == f"byte {at}"
    assert hub_world.db_count() == 0


def test_fhir_text_with_a_control_character_is_refused_with_its_field_path(hub_world: Any) -> None:
    bundle = own_bundle()
    resource(bundle, "Patient")["name"][0]["family"] = "Exa\u0007mple"
    response = post(hub_world.url, hub_world.tokens["trust-a"], json.dumps(bundle).encode(), FHIR_JSON)
    assert response.status_code == 422, response.text
    assert [e["location"] for e in response.json()["errors"]] == ["$.payload.person.family_name"]
    assert hub_world.db_count() == 0


def test_hl7_declared_utf8_is_held_to_it_and_control_characters_are_refused(hl7_hub_factory: Any) -> None:
    hub = hl7_hub_factory()
    url, token = hub.url, hub.tokens["trust-a"]

    broken = adt_a03(replace={"MSH": UTF8_MSH.format(control="UTF8-BAD"), "PID": pid("Zo\xeb")})  # Latin-1 bytes
    response = post(url, token, broken, HL7)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["location"] == f"byte {broken.index(b'Zo') + 2}"

    bell = adt_a03(replace={"PID": pid("Exa\x07mple")})
    response = post(url, token, bell, HL7)
    assert response.status_code == 422, response.text
    assert [e["location"] for e in response.json()["errors"]] == ["$.payload.person.family_name"]
    assert hub.db_count(message_type="DischargeNotice") == 0

    good = adt_a03(replace={"MSH": UTF8_MSH.format(control="UTF8-OK"), "PID": pid("Zo\xeb")})
    response = post(url, token, good.decode("latin-1").encode("utf-8"), HL7)
    assert response.status_code == 202, response.text
    latin = adt_a03(control="LATIN-OK", replace={"PID": pid("Zo\xeb")})  # declares 8859/1 and is Latin-1
    assert post(url, token, latin, HL7).status_code == 202
    assert hub.sims["trust-b"].wait_for(lambda s: len(s.messages("DischargeNotice")) == 2)
    names = [m["payload"]["person"]["family_name"] for m in hub.sims["trust-b"].messages("DischargeNotice")]
    assert names == ["Zoë", "Zoë"]
