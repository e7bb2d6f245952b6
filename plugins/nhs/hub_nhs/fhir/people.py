"""Patient, Practitioner and Organization resources to canonical person, contact and organisation blocks.

Each function reads one resource (an ``Entry`` with its FHIR path) and records
problems on the reader; none quotes a value in a problem.
"""

from __future__ import annotations

import re
from typing import Any

from hub import nhs_number_problem, normalise_nhs_number
from hub_nhs.fhir import codes
from hub_nhs.fhir.bundle import Entry
from hub_nhs.fhir.reading import Reader

PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,29}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
POSTCODE = re.compile(r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}$")
ODS = re.compile(r"^[A-Z0-9]{3,10}$")


def person(reader: Reader, patient: Entry) -> dict[str, Any]:
    """The canonical ``person`` (without ``no_fixed_abode``, which the caller decides)."""
    resource, path = patient.resource, patient.path
    out: dict[str, Any] = {}
    _nhs_number(reader, resource, path, out)
    name = _pick_name(reader, resource, path)
    if name is not None:
        node, where = name
        family = reader.string(node, "family", where, required=True, max_length=100)
        given = " ".join(reader.strings(node, "given", where))
        if not given:
            reader.add(f"{where}.given", "required: at least one given name")
        out["family_name"], out["given_name"] = family, given[:100] or None
    out["birth_date"] = reader.date(resource, "birthDate", path, required=True)
    gender = reader.string(resource, "gender", path)
    if gender is not None and gender not in codes.GENDERS:
        reader.add(f"{path}.gender", "must be male, female, other or unknown")
    elif gender is not None:
        out["gender"] = gender
    address = _address(reader, resource, path)
    if address is not None:
        out["address"] = address
    out.update(telecoms(reader, resource, path))
    preference = _preferred_contact(reader, resource, path)
    if preference is not None:
        out["preferred_contact"] = preference
    return {k: v for k, v in out.items() if v is not None}


def _nhs_number(reader: Reader, resource: dict[str, Any], path: str, out: dict[str, Any]) -> None:
    local_id = None
    for identifier, where in reader.many(resource, "identifier", path):
        if not isinstance(identifier, dict):
            reader.add(where, "must be an object")
            continue
        system = reader.string(identifier, "system", where)
        if system != codes.NHS_NUMBER:
            value = reader.string(identifier, "value", where)
            if local_id is None and value is not None and len(value) <= 64:
                local_id = value
            continue
        if "nhs_number" in out:
            continue
        value = reader.string(identifier, "value", where, required=True)
        if value is not None:
            why = nhs_number_problem(value)
            if why:
                reader.add(f"{where}.value", why)
            else:
                out["nhs_number"] = normalise_nhs_number(value)
        with reader.lenient("the NHS number's verification status is recorded as not known"):
            status = reader.extension(identifier, codes.EXT_NHS_NUMBER_VERIFICATION, where)
            concept = reader.obj(status[0], "valueCodeableConcept", status[1], required=True) if status else None
            for system_, code, cwhere in reader.codings(concept, f"{status[1]}.valueCodeableConcept" if status else ""):
                if system_ in codes.CS_NHS_NUMBER_VERIFICATION:
                    if code in codes.NHS_NUMBER_STATUSES:
                        out["nhs_number_status"] = code
                    else:
                        reader.add(f"{cwhere}.code", "is not an NHS number verification status (01 to 08)")
    if local_id is not None:
        out["local_id"] = local_id


def _pick_name(reader: Reader, resource: dict[str, Any], path: str) -> tuple[dict[str, Any], str] | None:
    names = [(n, w) for n, w in reader.many(resource, "name", path, required=True) if isinstance(n, dict)]
    for use in ("official", "usual", None):
        for node, where in names:
            if use is None or node.get("use") == use:
                return node, where
    return None


def _address(reader: Reader, resource: dict[str, Any], path: str) -> dict[str, Any] | None:
    candidates = [(a, w) for a, w in reader.many(resource, "address", path) if isinstance(a, dict)]
    candidates = [(a, w) for a, w in candidates if a.get("use") != "old"]
    candidates.sort(key=lambda aw: aw[0].get("use") != "home")
    if not candidates:
        return None
    node, where = candidates[0]
    lines = reader.strings(node, "line", where)
    for key in ("city", "district"):
        value = reader.string(node, key, where)
        if value is not None:
            lines.append(value)
    postcode = reader.string(node, "postalCode", where)
    if postcode is None or not lines:
        return None
    if not POSTCODE.match(postcode):
        reader.add(f"{where}.postalCode", "is not a UK postcode (e.g. LU1 2AA)")
        return None
    return {"lines": [line[:100] for line in lines[:6]], "postcode": postcode.upper()}


def telecoms(reader: Reader, resource: dict[str, Any], path: str) -> dict[str, str]:
    """The first usable phone number and e-mail address (``phone``, ``email``) of a resource."""
    out: dict[str, str] = {}
    for telecom, where in reader.many(resource, "telecom", path):
        if not isinstance(telecom, dict):
            reader.add(where, "must be an object")
            continue
        system = reader.string(telecom, "system", where)
        value = reader.string(telecom, "value", where)
        if value is None or system not in ("phone", "email") or system in out or telecom.get("use") == "old":
            continue
        if system == "phone" and not PHONE.match(value):
            reader.add(f"{where}.value", "is not a telephone number (digits, spaces, brackets, hyphens, leading +)")
        elif system == "email" and not EMAIL.match(value):
            reader.add(f"{where}.value", "is not an e-mail address")
        else:
            out[system] = value
    return out


def _preferred_contact(reader: Reader, resource: dict[str, Any], path: str) -> str | None:
    found = reader.extension(resource, codes.EXT_CONTACT_PREFERENCE, path)
    if found is None:
        return None
    for item, where in reader.many(found[0], "extension", found[1]):
        if isinstance(item, dict) and item.get("url") == "PreferredContactMethod":
            concept = reader.obj(item, "valueCodeableConcept", where)
            for _system, code, _ in reader.codings(concept, f"{where}.valueCodeableConcept"):
                if code in codes.PREFERRED_CONTACT:
                    return codes.PREFERRED_CONTACT[code]
    return None


def contact(reader: Reader, practitioner: Entry, organisation: str | None) -> dict[str, Any]:
    """A canonical ``contact`` from a Practitioner (name, phone, e-mail) and an organisation name."""
    resource, path = practitioner.resource, practitioner.path
    names = [(n, w) for n, w in reader.many(resource, "name", path, required=True) if isinstance(n, dict)]
    out: dict[str, Any] = {}
    if names:
        node, where = names[0]
        text = reader.string(node, "text", where)
        parts = [*reader.strings(node, "prefix", where), *reader.strings(node, "given", where)]
        family = reader.string(node, "family", where)
        full = " ".join([*parts, family] if family else parts) or text
        if not full:
            reader.add(where, "required: the practitioner's name (family and given, or text)")
        else:
            out["name"] = full[:200]
    if organisation:
        out["organisation"] = organisation[:200]
    out.update(telecoms(reader, resource, path))
    return out


def ods_code(reader: Reader, resource: dict[str, Any], path: str, *, systems: tuple[str, ...]) -> str | None:
    """The ODS code among a resource's identifiers (``identifier`` is a list, as in Organization)."""
    for identifier, where in reader.many(resource, "identifier", path):
        if isinstance(identifier, dict) and identifier.get("system") in systems:
            return checked_ods(reader, reader.string(identifier, "value", where, required=True), f"{where}.value")
    return None


def checked_ods(reader: Reader, value: str | None, path: str) -> str | None:
    """``value`` upper-cased when it has the form of an ODS code, else a problem at ``path``."""
    if value is None:
        return None
    if not ODS.match(value.upper()):
        reader.add(path, "is not an ODS code (3 to 10 letters and digits)")
        return None
    return value.upper()
