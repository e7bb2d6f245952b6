"""A canonical DischargeNotice written as an HL7 v2.4 ADT^A03 (the inverse of ``adt``).

Contract: ``render_discharge(message, receiving_facility=..., now=...)``
returns the message bytes (segments separated by ``\\r``, UTF-8) and notes on
what was shortened. Every value is escaped and every field kept within its
v2.4 length (``FIELD_LENGTHS``, and 20 for the IS components PL.1 and DLD.1):
descriptive text (address lines, a destination given as text, a ward name,
which goes whole in PV1-3.9 when PV1-3.1 cannot hold it) is cut to fit, with a
note naming the field; any
other field over its length raises ``RenderError`` naming the field. MSH-18 is
``UNICODE UTF-8`` when the text is not plain ASCII. Fields the canonical
message lacks are left empty, and the ``adt`` reader turns what this writes
back into the same DischargeNotice (the referrer's details go in ZDR-6..8,
with or without a consent in ZDR-1..5).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub import RenderError
from hub_nhs.hl7v2.adt import NO_FIXED_ABODE_POSTCODE, NOT_KNOWN_DESTINATION
from hub_nhs.hl7v2.datatypes import hl7_timestamp
from hub_nhs.hl7v2.parser import escape

VERSION = "2.4"
UTF8 = "UNICODE UTF-8"  # HL7 table 0211
# HL7 v2.4 field lengths of the fields the hub writes (Z-segments are the hub's own: the canonical limits apply).
FIELD_LENGTHS = {
    "MSH-4": 180, "MSH-6": 180, "MSH-10": 20, "PID-3": 250, "PID-5": 250, "PID-11": 250, "PID-13": 250,
    "PID-32": 20, "PV1-3": 80, "PV1-7": 250, "PV1-36": 3, "PV1-37": 25, "PV1-44": 26, "PV1-45": 26,
}  # fmt: skip
POINT_OF_CARE = CODED_VALUE = 20  # IS components (PL.1, DLD.1) in v2.4
_GENDER = {"male": "M", "female": "F", "other": "O", "unknown": "U"}
_PREFIXES = {"dr", "mr", "mrs", "ms", "mx", "miss", "prof", "professor", "sir", "dame", "rev"}


def _ts(value: str | None) -> str:
    if not value:
        return ""
    return hl7_timestamp(datetime.fromisoformat(value.replace("Z", "+00:00")))


def _yn(value: Any) -> str:
    return "" if value is None else ("Y" if value else "N")


def _fields(name: str, values: dict[int, str]) -> str:
    size = max(values) if values else 0
    return "|".join([name, *(values.get(n, "") for n in range(1, size + 1))])


class _Fitter:
    """Writes fields within their lengths, shortening descriptive text and collecting notes."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def cut(self, location: str, text: str, limit: int) -> str:
        """``text`` within ``limit`` characters (a component's length), with a note when it was shortened."""
        if len(text) <= limit:
            return text
        self.notes.append(f"{location} shortened to the {limit} characters HL7 v{VERSION} allows")
        return text[:limit].rstrip()

    def field(self, location: str, components: list[str], cuttable: tuple[int, ...] = ()) -> str:
        """``components`` (unescaped) joined with ``^``, within the length of ``location``.

        Components whose index is in ``cuttable`` may be shortened; if the field
        still does not fit, ``RenderError`` names it.
        """
        parts = list(components)
        limit = FIELD_LENGTHS.get(location)
        text = "^".join(escape(p) for p in parts)
        cut = False
        while limit is not None and len(text) > limit:
            longest = max(cuttable, key=lambda i: len(parts[i]), default=None)
            if longest is None or not parts[longest]:
                raise RenderError(f"{location} would be longer than HL7 v{VERSION} allows ({limit} characters)")
            parts[longest] = parts[longest][: max(0, len(parts[longest]) - max(1, len(text) - limit))].rstrip()
            text, cut = "^".join(escape(p) for p in parts), True
        if cut:
            self.notes.append(f"{location} shortened to the {limit} characters HL7 v{VERSION} allows")
        return text


def split_name(name: str) -> tuple[str, str, str]:
    """A full name as (prefix, given, family): a title first is the prefix, the last word the family name."""
    words = name.split()
    prefix = words.pop(0) if len(words) > 1 and words[0].lower().rstrip(".") in _PREFIXES else ""
    family = words.pop() if words else ""
    return prefix, " ".join(words), family


def render_discharge(message: dict[str, Any], *, receiving_facility: str, now: datetime) -> tuple[bytes, list[str]]:
    """The ADT^A03 for ``message`` and notes on any field shortened to fit."""
    e, fit = escape, _Fitter()
    payload = message["payload"]
    person = payload["person"]
    sender = message.get("sender", {})
    ods = payload.get("discharging_org", {}).get("ods_code") or sender.get("ods_code", "")
    ids = []
    if person.get("nhs_number"):
        ids.append(f"{e(person['nhs_number'])}^^^NHS^NH")
    if person.get("local_id"):
        ids.append(f"{e(person['local_id'])}^^^{e(ods)}^MR")
    address = person.get("address")
    if address:
        lines = (address["lines"][:4] + [""] * 4)[:4]
        xad = fit.field("PID-11", [*lines, address["postcode"]], cuttable=(0, 1, 2, 3))
    elif person.get("no_fixed_abode"):
        xad = "^^^^" + NO_FIXED_ABODE_POSTCODE[:4] + " " + NO_FIXED_ABODE_POSTCODE[4:]
    else:
        xad = ""
    pid = {1: "1", 3: _check("PID-3", "~".join(ids)), 5: fit.field("PID-5", [person["family_name"],
           person["given_name"]]), 7: person["birth_date"].replace("-", ""), 8: _GENDER.get(person.get("gender", ""),
           ""), 11: xad, 13: fit.field("PID-13", [person.get("phone", "")]),
           32: e(person.get("nhs_number_status", ""))}  # fmt: skip
    discharge = payload.get("discharge", {})
    contact = payload.get("contact", {})
    prefix, given, family = split_name(contact.get("name", ""))
    destination = discharge.get("destination", "")
    text = discharge.get("destination_text", "")
    if text and destination == NOT_KNOWN_DESTINATION:  # a destination known only as text goes out as that text
        destination = fit.field("PV1-37", [fit.cut("PV1-37.1", text, CODED_VALUE)])
    ward = payload.get("ward", "")
    # PL.1 (point of care) is an IS of 20 characters; a longer name goes whole in PL.9 (location description)
    place = [ward[:POINT_OF_CARE].rstrip(), *[""] * 7, ward if len(ward) > POINT_OF_CARE else ""]
    pv1 = {1: "1", 2: "I", 3: fit.field("PV1-3", place, cuttable=(8,)),
           7: fit.field("PV1-7", ["", family, given, "", "", prefix]) if family else "",
           36: discharge.get("method", ""),
           37: destination,
           44: payload.get("admission_date", "").replace("-", ""), 45: _ts(discharge.get("date_time"))}  # fmt: skip
    segments = [_fields("PID", pid), _fields("PV1", pv1), *_z_segments(message, payload, contact)]
    charset = "" if all(ord(c) < 128 for c in "".join(segments)) else UTF8
    # key n is MSH-(n+1): MSH-1 is the "|" after the segment name
    msh = {1: "^~\\&", 2: "PARTNER-HUB", 3: fit.field("MSH-4", [ods]), 5: fit.field("MSH-6", [receiving_facility]),
           6: hl7_timestamp(now), 8: "ADT^A03^ADT_A03", 9: e(message["message_id"].replace("-", "")[:20]), 10: "P",
           11: VERSION, 17: charset}  # fmt: skip
    head = "MSH|" + "|".join(msh.get(n, "") for n in range(1, max(msh) + 1)).rstrip("|")
    body = "\r".join([head, _fields("EVN", {1: "A03", 2: hl7_timestamp(now)}), *segments]) + "\r"
    return body.encode("utf-8"), fit.notes


def _check(location: str, value: str) -> str:
    limit = FIELD_LENGTHS[location]
    if len(value) > limit:
        raise RenderError(f"{location} would be longer than HL7 v{VERSION} allows ({limit} characters)")
    return value


def _z_segments(message: dict[str, Any], payload: dict[str, Any], contact: dict[str, Any]) -> list[str]:
    """ZMH (legal status), ZHS (housing) and ZDR (consent 1-5, the referrer's phone, e-mail, organisation 6-8)."""
    e, out = escape, []
    legal = payload.get("legal_status")
    if legal:
        out.append(_fields("ZMH", {1: e(legal.get("mha_section", "")), 2: _yn(legal.get("cto")),
                                   3: _yn(legal.get("s117"))}))  # fmt: skip
    housing = payload.get("housing")
    if housing:
        out.append(_fields("ZHS", {1: housing["situation"], 2: housing.get("chosen_authority_gss", ""),
                                   3: e(housing.get("details", "")),
                                   4: "~".join(e(n) for n in housing.get("support_needs", [])),
                                   5: _yn(housing.get("urgent"))}))  # fmt: skip
    consent = message.get("consent") or {}
    zdr = {6: e(contact.get("phone", "")), 7: e(contact.get("email", "")), 8: e(contact.get("organisation", ""))}
    if consent:
        zdr.update({1: _yn(consent["referral"]), 2: _yn(consent["share_contact"]), 3: consent["method"][:1].upper(),
                    4: _ts(consent["recorded_at"]), 5: e(consent["recorded_by"])})  # fmt: skip
    zdr = {n: v for n, v in zdr.items() if v}
    if zdr:
        out.append(_fields("ZDR", zdr))
    return out
