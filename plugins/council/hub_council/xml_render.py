"""Rendering a canonical HousingRequest as a council ``DutyToRefer`` XML document.

The document follows ``schemas/council/duty-to-refer-1.xsd`` and is validated
against it before it leaves: ``render_duty_to_refer`` raises ``RenderRefused``
(naming the element and the rule, never the value) instead of returning a
document a council would reject, so the delivery records the error and nothing
is sent. Fields the data-sharing agreement removed are simply absent, and the
XSD then says which required element is missing.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from hub import RenderError
from hub_council.xml_safety import load_xsd, xsd_problems

NAMESPACE = "https://hub.invalid/schemas/council/1"
DUTY_TO_REFER_XSD = "duty-to-refer-1.xsd"
MEDIA_TYPE = "application/xml"
_NS = f"{{{NAMESPACE}}}"


class RenderRefused(RenderError, ValueError):
    """The message cannot be rendered as a valid council document; ``str(exc)`` says which element and rule."""


def _add(parent: etree._Element, tag: str, value: Any) -> etree._Element | None:
    """Append ``<tag>value</tag>`` when ``value`` is present; booleans are written ``true``/``false``."""
    if value is None:
        return None
    element = etree.SubElement(parent, _NS + tag)
    element.text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return element


def _person(parent: etree._Element, person: dict[str, Any]) -> None:
    element = etree.SubElement(parent, _NS + "Person")
    if person.get("nhs_number") is not None:
        nhs = _add(element, "NhsNumber", person["nhs_number"])
        if nhs is not None and person.get("nhs_number_status"):
            nhs.set("status", person["nhs_number_status"])
    for key, tag in (("local_id", "LocalId"), ("family_name", "FamilyName"), ("given_name", "GivenName"),
                     ("birth_date", "BirthDate"), ("gender", "Gender")):  # fmt: skip
        _add(element, tag, person.get(key))
    address = person.get("address")
    if isinstance(address, dict):
        node = etree.SubElement(element, _NS + "Address")
        for line in address.get("lines") or []:
            _add(node, "Line", line)
        _add(node, "Postcode", address.get("postcode"))
    for key, tag in (("phone", "Phone"), ("email", "Email"), ("preferred_contact", "PreferredContact"),
                     ("no_fixed_abode", "NoFixedAbode")):  # fmt: skip
        _add(element, tag, person.get(key))


def build_duty_to_refer(message: dict[str, Any]) -> etree._Element:
    """The ``DutyToRefer`` element for a canonical HousingRequest (not yet validated)."""
    payload = message.get("payload") or {}
    root = etree.Element(_NS + "DutyToRefer", nsmap={None: NAMESPACE})
    root.set("version", "1")
    _add(root, "MessageId", message.get("message_id"))
    _add(root, "CorrelationId", message.get("correlation_id"))
    _add(root, "CreatedAt", message.get("created_at"))
    _add(root, "ReferralId", payload.get("referral_id"))
    if payload.get("target_authority_gss"):
        etree.SubElement(root, _NS + "TargetAuthority").set("gss", payload["target_authority_gss"])
    referrer = payload.get("referrer")
    if isinstance(referrer, dict):
        node = etree.SubElement(root, _NS + "Referrer")
        for key, tag in (("name", "Name"), ("organisation", "Organisation"), ("authority_type", "AuthorityType"),
                         ("phone", "Phone"), ("email", "Email")):  # fmt: skip
            _add(node, tag, referrer.get(key))
    consent = message.get("consent")
    if isinstance(consent, dict):
        node = etree.SubElement(root, _NS + "Consent")
        for key, attribute in (("referral", "referral"), ("share_contact", "shareContact"), ("method", "method"),
                               ("recorded_at", "recordedAt"), ("recorded_by", "recordedBy")):  # fmt: skip
            value = consent.get(key)
            if value is not None:
                node.set(attribute, ("true" if value else "false") if isinstance(value, bool) else str(value))
    _add(root, "LawfulBasis", message.get("lawful_basis"))
    if isinstance(payload.get("person"), dict):
        _person(root, payload["person"])
    _add(root, "Reason", payload.get("reason"))
    _add(root, "DischargeDate", payload.get("discharge_date"))
    _add(root, "HousingSituation", payload.get("housing_situation"))
    needs = etree.SubElement(root, _NS + "SupportNeeds")
    for need in payload.get("support_needs") or []:
        _add(needs, "Need", need)
    _add(root, "Urgent", payload.get("urgent"))
    return root


def render_duty_to_refer(message: dict[str, Any]) -> bytes:
    """UTF-8 XML bytes of the ``DutyToRefer`` for ``message``, valid against the XSD, or raise ``RenderRefused``."""
    if message.get("type") != "HousingRequest":
        raise RenderRefused(
            f"the council-xml adapter renders HousingRequest only, not {message.get('type')}; "
            "check the routes and the partner's data-sharing agreement"
        )
    root = build_duty_to_refer(message)
    problems = xsd_problems(load_xsd(DUTY_TO_REFER_XSD), root)
    if problems:
        listed = "; ".join(f"{where}: {what}" for where, what in problems[:10])
        raise RenderRefused(f"the DutyToRefer document would break {DUTY_TO_REFER_XSD}, so it was not sent: {listed}")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
