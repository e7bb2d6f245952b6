"""The ``fhir-r4`` adapter: FHIR R4 (UK Core) message Bundles in, FHIR response messages out.

Parses ``application/fhir+json`` and ``application/fhir+xml`` (both become the
same FHIR JSON first, so every problem carries the same FHIR path). Renders
Acknowledgements, HousingAppointments, HousingStatuses (a Task), PathwayNotices (a
Communication) and ReferralUpdates (a Task) as FHIR message Bundles, in JSON
unless the partner's ``receive.options.fhir_format`` is ``"xml"``; other
message types go out as canonical JSON with an ``X-Hub-Note`` header saying so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from hub import Parsed, Partner, Rendered, parse_json_strict
from hub_nhs.fhir.bundle import MessageBundle
from hub_nhs.fhir.discharge import discharge_notice
from hub_nhs.fhir.housing_status import status_bundle
from hub_nhs.fhir.pathway_notice import notice_bundle
from hub_nhs.fhir.referral_update import referral_update_bundle
from hub_nhs.fhir.render import acknowledgement_bundle, appointment_bundle
from hub_nhs.fhir.xml_codec import read_xml, write_xml

JSON_TYPE = "application/fhir+json"
XML_TYPE = "application/fhir+xml"
MAX_DEPTH = 64


def read_json(body: bytes) -> Any:
    """Parse FHIR JSON with the hub's strict reader (UTF-8, no repeated member names); ``UnparseableInput`` if not."""
    return parse_json_strict(body, max_depth=MAX_DEPTH)


class FhirR4Adapter:
    """Reads FHIR R4 UK Core discharge messages; writes FHIR acknowledgements, appointments, statuses, notices and
    referral steps."""

    name = "fhir-r4"
    content_types = (JSON_TYPE, XML_TYPE)

    def parse(self, body: bytes, *, content_type: str, sender_id: str) -> list[Parsed]:
        """One message Bundle is one canonical DischargeNotice (with warnings); raise with every problem otherwise."""
        document = read_xml(body) if content_type == XML_TYPE else read_json(body)
        bundle = MessageBundle.read(document)
        return [discharge_notice(bundle, sender_id=sender_id, now=datetime.now(UTC))]

    def render(self, message: dict[str, Any], *, partner: Partner) -> Rendered:
        """The FHIR message for ``message`` in the partner's chosen encoding (canonical JSON for other types)."""
        kind = message.get("type")
        if kind == "Acknowledgement":
            resource = acknowledgement_bundle(message, partner=partner)
        elif kind == "HousingAppointment":
            minutes = partner.receive.options.get("appointment_minutes", 60)
            resource = appointment_bundle(message, partner=partner, minutes=int(minutes))
        elif kind == "HousingStatus":
            resource = status_bundle(message, partner=partner)
        elif kind == "PathwayNotice":
            resource = notice_bundle(message, partner=partner)
        elif kind == "ReferralUpdate":
            resource = referral_update_bundle(message, partner=partner)
        else:
            note = f"fhir-r4 has no FHIR form for {kind}; this is the hub's canonical JSON"
            return Rendered("application/json", orjson.dumps(message), {"X-Hub-Note": note}, (note,))
        encoding = partner.receive.options.get("fhir_format", "json")
        if encoding == "xml":
            return Rendered(f"{XML_TYPE}; fhirVersion=4.0", write_xml(resource))
        if encoding != "json":
            raise ValueError(f"partners.toml: partner {partner.id!r}: receive.options.fhir_format must be "
                             f"'json' or 'xml', not {encoding!r}")  # fmt: skip
        return Rendered(f"{JSON_TYPE}; fhirVersion=4.0", orjson.dumps(resource))
