"""Reading a council's XML answer (``HousingAppointment`` or ``HousingStatus``) into a canonical message.

The body is parsed with ``xml_safety.parse_untrusted`` (no DTDs, no entities, no
network, size and depth caps), validated against the XSD of its root element
(``schemas/council/housing-appointment-1.xsd`` or ``housing-status-1.xsd``), and
only then mapped to the canonical message of the same name. The canonical schema and the hub's rules run afterwards, as
for any message; the core resolves ``in_reply_to`` against what was delivered
to this council.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lxml import etree

from hub import InvalidMessage, Problem, UnparseableInput
from hub_council.xml_render import NAMESPACE
from hub_council.xml_safety import DEFAULT_MAX_BYTES, UnsafeXml, load_xsd, parse_untrusted, xsd_problems

HOUSING_APPOINTMENT_XSD = "housing-appointment-1.xsd"
HOUSING_STATUS_XSD = "housing-status-1.xsd"
DOCUMENTS = {"HousingAppointment": HOUSING_APPOINTMENT_XSD, "HousingStatus": HOUSING_STATUS_XSD}
"""The documents a council may send: root element (and canonical type) -> its XSD."""
_NS = f"{{{NAMESPACE}}}"


def _text(parent: etree._Element, tag: str) -> str | None:
    element = parent.find(_NS + tag)
    if element is None or element.text is None:
        return None
    return element.text.strip()


def _contact(element: etree._Element) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, tag in (("name", "Name"), ("role", "Role"), ("organisation", "Organisation"), ("phone", "Phone"),
                     ("email", "Email")):  # fmt: skip
        value = _text(element, tag)
        if value is not None:
            out[key] = value
    return out


def parse_council_document(body: bytes, *, sender_id: str, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """The canonical HousingAppointment or HousingStatus in ``body``; raise ``UnparseableInput`` (400) or 422."""
    try:
        root = parse_untrusted(body, max_bytes=max_bytes)
    except UnsafeXml as exc:
        raise UnparseableInput("The XML document was refused.", [Problem("body", str(exc))]) from None
    qualified = etree.QName(root)
    name = qualified.localname if qualified.namespace == NAMESPACE else None
    if name not in DOCUMENTS:
        raise InvalidMessage(
            "This hub reads council XML HousingAppointment and HousingStatus documents only.",
            [Problem("/", f"the root element must be HousingAppointment or HousingStatus in namespace {NAMESPACE} "
                          f"(see schemas/council/{HOUSING_APPOINTMENT_XSD} and {HOUSING_STATUS_XSD})")],
        )  # fmt: skip
    xsd = DOCUMENTS[name]
    problems = xsd_problems(load_xsd(xsd), root)
    if problems:
        raise InvalidMessage(
            f"The {name} document does not meet {xsd}.", [Problem(where, what) for where, what in problems]
        )
    return _message(root, name, sender_id)


_PAYLOAD_ELEMENTS = {
    "HousingAppointment": (("case_ref", "CaseRef"), ("status", "Status"), ("start", "Start"), ("mode", "Mode"),
                           ("location", "Location")),
    "HousingStatus": (("case_ref", "CaseRef"), ("status", "Status"), ("status_at", "StatusAt"),
                      ("attempts", "Attempts"), ("note", "Note")),
}  # fmt: skip


def _message(root: etree._Element, name: str, sender_id: str) -> dict[str, Any]:
    """The canonical message of a document that met its XSD."""
    authority_element = root.find(_NS + "Authority")
    authority = authority_element.get("gss") if authority_element is not None else None
    payload: dict[str, Any] = {"authority_gss": authority}
    for key, tag in _PAYLOAD_ELEMENTS[name]:
        value = _text(root, tag)
        if value is not None:
            payload[key] = int(value) if key == "attempts" else value
    officer = root.find(_NS + "Officer")
    if officer is not None:
        payload["officer"] = _contact(officer)
    created_at = _text(root, "CreatedAt") or datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    message: dict[str, Any] = {
        "message_id": _text(root, "MessageId"),
        "type": name,
        "schema_version": "1",
        "created_at": created_at,
        "in_reply_to": _text(root, "InReplyTo"),
        "sender": {"org_id": sender_id, **({"gss_code": authority} if authority else {})},
        "payload": payload,
    }
    correlation_id = _text(root, "CorrelationId")
    if correlation_id:
        message["correlation_id"] = correlation_id
    return message
