"""docs/partners/council.md's Duty to Refer status examples are what the hub takes and gives.

Each example is read from the page itself, so the page cannot drift from the code: the JSON status meets the
shipped JSON Schema (checked with jsonschema); the council XML one meets its XSD (checked with lxml) and reads
into the canonical fields the page's mapping table names; the e-mail reply carries exactly one sealed
attachment, as the listener wants; and the JSON status rendered for a FHIR ward gives the page's Task, inside a
Bundle that fhir.resources (R4B) accepts, while an HL7 v2 ward gets canonical JSON with the note the page quotes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no types, no stub package installed here
from fhir.resources.R4B.bundle import Bundle
from hub_council.email_replies import read_reply, sealed_attachment
from hub_council.xml_parse import parse_council_document
from hub_nhs.fhir.adapter import FhirR4Adapter
from hub_nhs.hl7v2.adapter import Hl7v2Adapter
from lxml import etree
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from hub import Partner, Receive

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "partners" / "council.md").read_text()


def section(title: str) -> str:
    """The text of the page's section ``### title`` (to the next heading)."""
    start = PAGE.index(f"### {title}\n")
    end = PAGE.find("\n#", start + 4)
    return PAGE[start : end if end >= 0 else len(PAGE)]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def ward(adapter: str, **options: Any) -> Partner:
    return Partner("trust-a", "Trust A", "nhs_trust", adapter=adapter, codes={"ods_code": "RWK"},
                   receive=Receive("push", "http", "http://127.0.0.1:9/", options))  # fmt: skip


def json_status() -> dict[str, Any]:
    (text,) = blocks(section("As JSON (channels a and d)"), "json")
    message: dict[str, Any] = json.loads(text)
    return message


def test_the_json_status_meets_the_shipped_schema() -> None:
    schema = json.loads((ROOT / "plugins/council/hub_council/schemas/housing-status.schema.json").read_text())
    shared = {path.name: json.loads(path.read_text()) for path in (ROOT / "schemas/canonical/v1").glob("*.json")}
    registry: Registry[Any] = Registry().with_resources(
        (name, DRAFT202012.create_resource(document)) for name, document in shared.items()
    )
    jsonschema.Draft202012Validator(schema, registry=registry).validate(json_status())


def test_the_council_xml_status_meets_its_xsd_and_reads_into_the_fields_the_mapping_table_names() -> None:
    (text,) = blocks(section("As council XML (channel b)"), "xml")
    document = text.encode()
    xsd = etree.XMLSchema(etree.parse(str(ROOT / "schemas/council/housing-status-1.xsd")))
    assert xsd.validate(etree.fromstring(document)), xsd.error_log
    message = parse_council_document(document, sender_id="council-swindon")
    payload = message["payload"]
    assert message["message_id"] == "0c3e35f4-6a0e-4f55-bf47-4a3e0f3f7b11"
    assert (message["in_reply_to"], message["created_at"]) == ("8badbc58-c845-4af7-9200-2ae28232da17",
                                                               "2026-11-26T11:05:00Z")  # fmt: skip
    assert message["sender"] == {"org_id": "council-swindon", "gss_code": "E06000023"}
    assert payload == {"authority_gss": "E06000023", "case_ref": "HOM/2026/04567", "status": "contact_failed",
                       "status_at": "2026-11-26T10:50:00Z", "attempts": 2,
                       "note": "Two calls to the mobile number unanswered; a letter was sent to the ward.",
                       "officer": {"name": "Pat Officer", "phone": "0117 500600"}}  # fmt: skip
    mapping = section("As council XML (channel b)")
    for element in ("MessageId", "InReplyTo", "Authority/@gss", "CaseRef", "StatusAt", "Attempts", "Officer/Name"):
        assert f"`{element}`" in mapping


def test_the_e_mail_reply_carries_one_sealed_attachment() -> None:
    (text,) = blocks(section("By e-mail reply"), "")
    mail, sender, _ = read_reply(text.replace("\n", "\r\n").encode())
    envelope, media_type = sealed_attachment(mail)
    assert sender == "housing.system@swindon.example" and media_type == "application/jose"
    assert envelope.startswith(b"eyJ")  # a compact JOSE serialisation (shortened on the page)


def test_a_fhir_ward_receives_the_pages_task_and_an_hl7_v2_ward_canonical_json_with_the_pages_note() -> None:
    page = section("What the referrer receives")
    (documented,) = (json.loads(text) for text in blocks(page, "json"))
    rendered = FhirR4Adapter().render(json_status(), partner=ward("fhir-r4", fhir_format="json"))
    Bundle.model_validate_json(rendered.body)  # an independent FHIR library accepts the whole Bundle
    bundle = json.loads(rendered.body)
    resources = [entry["resource"] for entry in bundle["entry"]]
    (task,) = [r for r in resources if r["resourceType"] == "Task"]
    assert task == documented
    header = resources[0]
    assert header["eventCoding"]["code"] == "housing-status" and header["focus"] == [
        {"reference": f"urn:uuid:{task['id']}"}
    ]
    assert {r["resourceType"] for r in resources} >= {"Organization", "Practitioner"}

    as_hl7 = Hl7v2Adapter().render(json_status(), partner=ward("hl7v2"))
    assert as_hl7.content_type == "application/json" and json.loads(as_hl7.body) == json_status()
    assert f"`X-Hub-Note: {as_hl7.headers['X-Hub-Note']}`" in page
