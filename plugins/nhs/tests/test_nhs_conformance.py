"""The NHS plugin's adapters pass the hub's conformance suite (hub.testing.conformance), as a third party's would."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from fhir_support import own_bundle_xml
from hl7_support import adt_a03

from hub.testing.conformance import AdapterConformance, DeliveryConformance
from hub.testing.messages import discharge_notice, example


def _notice(to: str = "trust-b") -> dict[str, Any]:
    notice = discharge_notice("trust-a")
    notice["recipient"] = {"org_id": to}
    return notice


def _acknowledgement(to: str = "trust-a") -> dict[str, Any]:
    return example("acknowledgement", sender={"org_id": "trust-a", "ods_code": "RWK"}, recipient={"org_id": to})


class TestFhirAdapterConformance(AdapterConformance):
    adapter_name = "fhir-r4"
    round_trip_types = ()  # it parses DischargeNotice bundles and renders Acknowledgements and HousingAppointments

    def render_samples(self) -> list[dict[str, Any]]:
        return [_acknowledgement(), example("housing-appointment", recipient={"org_id": "trust-a"})]

    def parse_samples(self) -> list[tuple[bytes, str]]:
        return [(own_bundle_xml(str(uuid.uuid4())), "application/fhir+xml")]


class TestHl7v2AdapterConformance(AdapterConformance):
    adapter_name = "hl7v2"
    round_trip_fields: ClassVar[tuple[str, ...]] = ("type", "payload.person.nhs_number", "payload.person.birth_date")

    def render_samples(self) -> list[dict[str, Any]]:
        return [_notice()]

    def parse_samples(self) -> list[tuple[bytes, str]]:
        return [(adt_a03(), "application/hl7-v2")]


class TestHl7v2DeliveryConformance(DeliveryConformance):
    adapter_name = "hl7v2"  # renders a DischargeNotice as an ADT^A03 (fhir-r4 renders only answers to a message)
    partner_kind = "nhs_trust"

    def message(self, to: str) -> dict[str, Any]:
        return _notice(to)
