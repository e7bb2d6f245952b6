"""A canonical DischargeNotice written as an HL7 v2.4 ADT^A03 (the inverse of ``adt``).

Contract: ``render_discharge(message, receiving_facility=..., now=...)``
returns the message bytes (segments separated by ``\\r``), every value escaped.
Fields the canonical message lacks are left empty.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub_nhs.hl7v2.adt import NO_FIXED_ABODE_POSTCODE
from hub_nhs.hl7v2.datatypes import hl7_timestamp
from hub_nhs.hl7v2.parser import escape

_GENDER = {"male": "M", "female": "F", "other": "O", "unknown": "U"}


def _ts(value: str | None) -> str:
    if not value:
        return ""
    return hl7_timestamp(datetime.fromisoformat(value.replace("Z", "+00:00")))


def _yn(value: Any) -> str:
    return "" if value is None else ("Y" if value else "N")


def _fields(name: str, values: dict[int, str]) -> str:
    size = max(values) if values else 0
    return "|".join([name, *(values.get(n, "") for n in range(1, size + 1))])


def render_discharge(message: dict[str, Any], *, receiving_facility: str, now: datetime) -> bytes:
    """The ADT^A03 for ``message``."""
    e = escape
    payload = message["payload"]
    person = payload["person"]
    sender = message.get("sender", {})
    ods = payload.get("discharging_org", {}).get("ods_code") or sender.get("ods_code", "")
    segments = [
        "MSH|^~\\&|PARTNER-HUB|" + e(ods) + "||" + e(receiving_facility) + "|" + hl7_timestamp(now)
        + "||ADT^A03^ADT_A03|" + e(message["message_id"].replace("-", "")[:20]) + "|P|2.4",
        _fields("EVN", {1: "A03", 2: hl7_timestamp(now)}),
    ]  # fmt: skip
    ids = []
    if person.get("nhs_number"):
        ids.append(f"{e(person['nhs_number'])}^^^NHS^NH")
    if person.get("local_id"):
        ids.append(f"{e(person['local_id'])}^^^{e(ods)}^MR")
    address = person.get("address")
    if address:
        lines = [e(line) for line in address["lines"][:4]] + [""] * (4 - min(len(address["lines"]), 4))
        xad = "^".join([*lines, e(address["postcode"])])
    elif person.get("no_fixed_abode"):
        xad = "^^^^" + NO_FIXED_ABODE_POSTCODE[:4] + " " + NO_FIXED_ABODE_POSTCODE[4:]
    else:
        xad = ""
    name = f"{e(person['family_name'])}^{e(person['given_name'])}"
    gender = _GENDER.get(person.get("gender", ""), "")
    pid = {1: "1", 3: "~".join(ids), 5: name, 7: person["birth_date"].replace("-", ""), 8: gender, 11: xad,
           13: e(person.get("phone", "")), 32: e(person.get("nhs_number_status", ""))}  # fmt: skip
    segments.append(_fields("PID", pid))
    discharge = payload.get("discharge", {})
    contact = payload.get("contact", {})
    segments.append(_fields("PV1", {1: "1", 2: "I", 3: e(payload.get("ward", "")), 7: "^" + e(contact.get("name", "")),
                                    36: discharge.get("method", ""), 37: discharge.get("destination", ""),
                                    44: payload.get("admission_date", "").replace("-", ""),
                                    45: _ts(discharge.get("date_time"))}))  # fmt: skip
    legal = payload.get("legal_status")
    if legal:
        segments.append(_fields("ZMH", {1: e(legal.get("mha_section", "")), 2: _yn(legal.get("cto")),
                                        3: _yn(legal.get("s117"))}))  # fmt: skip
    housing = payload.get("housing")
    if housing:
        segments.append(_fields("ZHS", {1: housing["situation"], 2: housing.get("chosen_authority_gss", ""),
                                        3: e(housing.get("details", "")),
                                        4: "~".join(e(n) for n in housing.get("support_needs", [])),
                                        5: _yn(housing.get("urgent"))}))  # fmt: skip
    consent = message.get("consent")
    if consent:
        segments.append(_fields("ZDR", {1: _yn(consent["referral"]), 2: _yn(consent["share_contact"]),
                                        3: consent["method"][:1].upper(), 4: _ts(consent["recorded_at"]),
                                        5: e(consent["recorded_by"])}))  # fmt: skip
    return ("\r".join(segments) + "\r").encode("utf-8")
