"""The ``council-xml`` adapter: DutyToRefer documents out, HousingAppointment and HousingStatus documents in.

A council that names ``adapter = "council-xml"`` in the partners file receives
each HousingRequest as a ``DutyToRefer`` document (``schemas/council/``), by
whatever transport its ``receive`` table names (``http``, ``smtp``, or the pull
inbox). Other message types that reach such a council (an Acknowledgement of
its appointment, say) are sent as canonical JSON, since the council XML format
has no document for them. Councils answer with a ``HousingAppointment`` or a
``HousingStatus`` document posted to ``/v1/messages`` as ``application/xml`` (or ``text/xml``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from hub import Rendered
from hub_council.xml_parse import parse_council_document
from hub_council.xml_render import MEDIA_TYPE, render_duty_to_refer

if TYPE_CHECKING:
    from hub import Partner


class CouncilXmlAdapter:
    """Renders HousingRequest as DutyToRefer XML; parses HousingAppointment and HousingStatus XML (module docstring)."""

    name = "council-xml"
    content_types = (MEDIA_TYPE, "text/xml")

    def parse(self, body: bytes, *, content_type: str, sender_id: str) -> list[dict[str, Any]]:
        """One canonical HousingAppointment or HousingStatus from a council XML document; raise with every problem."""
        return [parse_council_document(body, sender_id=sender_id)]

    def render(self, message: dict[str, Any], *, partner: Partner) -> Rendered:
        """The DutyToRefer document for a HousingRequest, valid against its XSD (raises otherwise); JSON for others."""
        if message.get("type") != "HousingRequest":
            return Rendered("application/json", orjson.dumps(message))
        return Rendered(MEDIA_TYPE, render_duty_to_refer(message), {"X-Hub-Document": "DutyToRefer/1"})
