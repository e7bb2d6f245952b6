"""The council plugin's adapter passes the hub's conformance suite (hub.testing.conformance) as anyone's would."""

from __future__ import annotations

from typing import Any

from council_helpers import appointment_xml

from hub.testing.conformance import AdapterConformance, DeliveryConformance
from hub.testing.messages import housing_request


def _request(to: str = "council-bristol") -> dict[str, Any]:
    message = housing_request("trust-a", "E06000023")
    message["recipient"] = {"org_id": to}
    return message


class TestCouncilXmlAdapterConformance(AdapterConformance):
    adapter_name = "council-xml"
    round_trip_types = ()  # it renders DutyToRefer documents and parses HousingAppointment documents

    def render_samples(self) -> list[dict[str, Any]]:
        return [_request()]

    def parse_samples(self) -> list[tuple[bytes, str]]:
        return [(appointment_xml("6db26f15-9da0-4b86-bd80-2a8193f4faa5"), "application/xml"),
                (appointment_xml("6db26f15-9da0-4b86-bd80-2a8193f4faa5", status="cancelled"), "text/xml")]  # fmt: skip


class TestCouncilXmlDeliveryConformance(DeliveryConformance):
    adapter_name = "council-xml"
    partner_kind = "council"

    def message(self, to: str) -> dict[str, Any]:
        return _request(to)
