"""Helpers for the FHIR tests: the published UK Core examples, the project's own Bundles, posting them."""

from __future__ import annotations

import copy
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from hub_nhs.fhir.xml_codec import read_xml
from lxml import etree

FHIR_NS = "http://hl7.org/fhir"
ROOT = Path(__file__).resolve().parents[3]
UKCORE = Path(os.environ.get("HUB_UKCORE_EXAMPLES") or ROOT / ".." / "shared" / "fixtures" / "ukcore").resolve()
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DISCHARGE_FILES = (
    "UKCore-MessageHeader-Discharge-Example.xml",
    "UKCore-Encounter-InpatientEncounter-Example.xml",
    "UKCore-Patient-RichardSmith-Example.xml",
    "UKCore-Practitioner-ConsultantSandraGose-Example.xml",
    "UKCore-Location-CardiologySJUH-Example.xml",
    "UKCore-Organization-LeedsTeachingHospital-Example.xml",
)


def ukcore_dir() -> Path:
    """The folder of published UK Core examples; skip (or fail with HUB_REQUIRE_SERVICES=1) when absent."""
    if not UKCORE.is_dir():
        reason = f"the published UK Core examples are not at {UKCORE}"
        if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return UKCORE


def ukcore_bundle_xml(files: tuple[str, ...] = DISCHARGE_FILES, message_id: str | None = None) -> bytes:
    """A FHIR XML message Bundle (MessageHeader first) assembled from the unchanged UK Core example files."""
    folder = ukcore_dir()
    bundle = etree.Element(f"{{{FHIR_NS}}}Bundle", nsmap={None: FHIR_NS})
    identifier = etree.SubElement(bundle, f"{{{FHIR_NS}}}identifier")
    etree.SubElement(identifier, f"{{{FHIR_NS}}}system").set("value", "urn:ietf:rfc:3986")
    etree.SubElement(identifier, f"{{{FHIR_NS}}}value").set("value", f"urn:uuid:{message_id or uuid.uuid4()}")
    etree.SubElement(bundle, f"{{{FHIR_NS}}}type").set("value", "message")
    etree.SubElement(bundle, f"{{{FHIR_NS}}}timestamp").set("value", "2019-12-11T13:05:00+00:00")
    for name in files:
        resource = etree.fromstring((folder / name).read_bytes())
        id_element = resource.find(f"{{{FHIR_NS}}}id")
        assert id_element is not None, f"{name} has no id"
        rid = id_element.get("value")
        entry = etree.SubElement(bundle, f"{{{FHIR_NS}}}entry")
        rtype = etree.QName(resource).localname
        etree.SubElement(entry, f"{{{FHIR_NS}}}fullUrl").set("value", f"https://example.org/fhir/{rtype}/{rid}")
        etree.SubElement(entry, f"{{{FHIR_NS}}}resource").append(resource)
    return etree.tostring(bundle, xml_declaration=True, encoding="UTF-8")


def xml_to_json(body: bytes) -> bytes:
    """The same FHIR resource in FHIR JSON (through the adapter's XML reader)."""
    return json.dumps(read_xml(body), indent=1).encode("utf-8")


def own_bundle(message_id: str | None = None) -> dict[str, Any]:
    """The project's own discharge Bundle (JSON) from trust-a (ODS RWK), with a fresh message id."""
    bundle: dict[str, Any] = json.loads((FIXTURES / "fhir-discharge-bundle.json").read_text())
    bundle = copy.deepcopy(bundle)
    bundle["entry"][0]["resource"]["id"] = message_id or str(uuid.uuid4())
    return bundle


def own_bundle_xml(message_id: str | None = None) -> bytes:
    """The project's own discharge Bundle in FHIR XML, with a fresh message id."""
    text = (FIXTURES / "fhir-discharge-bundle.xml").read_text()
    return text.replace("FRESH-MESSAGE-ID", message_id or str(uuid.uuid4())).encode("utf-8")


def entry_index(bundle: dict[str, Any], resource_type: str) -> int:
    """The index of the first entry holding ``resource_type``."""
    return next(i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == resource_type)


def resource(bundle: dict[str, Any], resource_type: str) -> dict[str, Any]:
    """The first resource of ``resource_type`` in ``bundle``."""
    found: dict[str, Any] = bundle["entry"][entry_index(bundle, resource_type)]["resource"]
    return found


def checked_by_fhir_library(body: bytes, content_type: str) -> Any:
    """Validate a Bundle the hub emitted with fhir.resources (R4B models), an independent FHIR library; return it.

    FHIR JSON goes through ``Bundle.model_validate_json`` and FHIR XML through
    ``Bundle.model_validate_xml``: unknown elements, missing required ones, wrong
    types and empty values all raise.
    """
    from fhir.resources.R4B.bundle import Bundle

    if content_type.startswith("application/fhir+xml"):
        return Bundle.model_validate_xml(body)
    assert content_type.startswith("application/fhir+json"), content_type
    return Bundle.model_validate_json(body)
