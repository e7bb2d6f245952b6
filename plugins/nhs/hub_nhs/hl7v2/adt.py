"""ADT^A03 (discharge) to a canonical DischargeNotice.

Contract: ``discharge_notice(message, sender_id)`` returns the canonical
message or raises ``InvalidMessage`` listing every problem by HL7 location
(``PID-3``, ``PV1-45``), or ``UnparseableInput`` for a message that is not an
ADT^A03 at all. Where the fields come from:

==============================  ==============================================
canonical                       HL7 v2
==============================  ==============================================
message_id                      UUID 5 of sending facility + MSH-10, so a resent
                                message is recognised as a duplicate
created_at                      MSH-7
sender.ods_code, discharging    MSH-4 (sending facility, an ODS code)
person.nhs_number (+ status)    PID-3 repetition with CX.5 = ``NH`` (+ PID-32)
person.local_id                 first other PID-3 repetition (CX.1)
person names, birth, gender     PID-5 (family ^ given), PID-7, PID-8
person.address / no fixed abode PID-11 (postcode ``ZZ99 3VZ`` or none = NFA)
person.phone                    PID-13
ward                            PV1-3.1 (point of care)
contact                         PV1-7 (attending doctor, XCN)
admission_date                  PV1-44
discharge.date_time             PV1-45 (an A03 reports a discharge that
                                happened, so ``planned`` is false)
discharge.method                PV1-36 (NHS discharge method 1-9)
discharge.destination           PV1-37.1 (NHS discharge destination, 2 digits)
legal_status                    ZMH-1 MHA section, ZMH-2 CTO, ZMH-3 s117 (Y/N)
housing                         ZHS-1 situation, ZHS-2 chosen authority GSS,
                                ZHS-3 details, ZHS-4 support needs (~), ZHS-5 urgent
consent                         ZDR-1 referral, ZDR-2 share contact (Y/N),
                                ZDR-3 method (O/W), ZDR-4 recorded at, ZDR-5 by
contact phone, email, org       ZDR-6 phone, ZDR-7 email, ZDR-8 organisation of
                                the clinician or liaison making the referral
                                (a Duty to Refer needs the referrer's contact)
==============================  ==============================================
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from hub import InvalidMessage, Problem, UnparseableInput
from hub.identifiers import nhs_number_problem, normalise_nhs_number
from hub_nhs.hl7v2.datatypes import read_date, read_timestamp, rfc3339
from hub_nhs.hl7v2.parser import Hl7Message, Segment

HL7_NAMESPACE = uuid.UUID("2f0c6f55-5f7b-4c1e-9f4e-6f1f0b8f2a03")
NO_FIXED_ABODE_POSTCODE = "ZZ993VZ"
_ODS = re.compile(r"^[A-Z0-9]{3,10}$")
_POSTCODE = re.compile(r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}$")
_GENDERS = {"M": "male", "F": "female", "O": "other", "U": "unknown", "A": "other", "N": "unknown"}
_YES_NO = {"Y": True, "N": False}
_HOUSING = ("no_fixed_abode", "threatened_within_56_days", "housed", "temporary_accommodation", "unknown")


def message_type(message: Hl7Message) -> tuple[str, str]:
    """MSH-9 as (message code, trigger event), e.g. ("ADT", "A03")."""
    return message.value("MSH", 9, 1), message.value("MSH", 9, 2)


def sending_facility(message: Hl7Message) -> str:
    """MSH-4.1, the sending facility (an ODS code for NHS senders)."""
    return message.value("MSH", 4, 1)


def control_id(message: Hl7Message) -> str:
    """MSH-10, the sender's message control id."""
    return message.value("MSH", 10)


def hub_message_id(facility: str, control: str) -> str:
    """The canonical message_id for a sender's control id: stable, so resending is a duplicate."""
    return str(uuid.uuid5(HL7_NAMESPACE, f"hl7v2|{facility}|{control}"))


def discharge_notice(message: Hl7Message, sender_id: str) -> dict[str, Any]:
    """Build the DischargeNotice for an ADT^A03, or raise with every problem found."""
    code, event = message_type(message)
    if (code, event) != ("ADT", "A03"):
        raise UnparseableInput(f"MSH-9: the hub reads ADT^A03 (discharge) only, not {code or '?'}^{event or '?'}.")
    problems: list[Problem] = []
    facility = sending_facility(message)
    control = control_id(message)
    if not _ODS.match(facility):
        problems.append(Problem("MSH-4", "the sending facility must be the trust's ODS code (e.g. RWK)"))
    if not control:
        problems.append(Problem("MSH-10", "required: the message control id"))
    created = read_timestamp(message.value("MSH", 7))
    if created is None:
        problems.append(Problem("MSH-7", "required: the message date/time as YYYYMMDDHHMM[SS][+ZZZZ]"))
    pid, pv1 = message.segment("PID"), message.segment("PV1")
    if pid is None:
        problems.append(Problem("PID", "required: the PID segment (the person)"))
    if pv1 is None:
        problems.append(Problem("PV1", "required: the PV1 segment (the visit and its discharge)"))
    person = _person(message, pid, problems) if pid else {}
    payload = _payload(message, pv1, facility, problems) if pv1 else {}
    consent = _consent(message, problems)
    if problems:
        raise InvalidMessage("The ADT^A03 cannot become a DischargeNotice.", problems)
    payload = {"person": person, **payload}
    canonical: dict[str, Any] = {
        "message_id": hub_message_id(facility, control),
        "type": "DischargeNotice",
        "schema_version": "1",
        "created_at": rfc3339(created),  # type: ignore[arg-type]
        "sender": {"org_id": sender_id, "ods_code": facility},
        "payload": payload,
    }
    if consent:
        canonical["consent"] = consent
    return canonical


def _person(message: Hl7Message, pid: Segment, problems: list[Problem]) -> dict[str, Any]:
    person: dict[str, Any] = {}
    for raw in message.repetitions(pid, 3):
        number, kind = message.component_of(raw, 1), message.component_of(raw, 5).upper()
        if kind == "NH" and "nhs_number" not in person:
            digits = normalise_nhs_number(number)
            why = nhs_number_problem(digits)
            if why:
                problems.append(Problem("PID-3", why))
            person["nhs_number"] = digits
        elif kind != "NH" and number and "local_id" not in person:
            person["local_id"] = number[:64]
    status = message.value(pid, 32)
    if "nhs_number" in person and re.fullmatch(r"0[1-8]", status):
        person["nhs_number_status"] = status
    family, given = message.value(pid, 5, 1), message.value(pid, 5, 2)
    if not family:
        problems.append(Problem("PID-5.1", "required: the family name"))
    if not given:
        problems.append(Problem("PID-5.2", "required: the given name"))
    person.update(family_name=family[:100], given_name=given[:100])
    birth = read_date(message.value(pid, 7))
    if birth is None:
        problems.append(Problem("PID-7", "required: the date of birth as YYYYMMDD"))
    else:
        person["birth_date"] = birth.isoformat()
    gender = _GENDERS.get(message.value(pid, 8).upper())
    if gender:
        person["gender"] = gender
    person["no_fixed_abode"] = _address(message, pid, person, problems)
    phone = message.value(pid, 13, 1) or message.value(pid, 13, 12)
    if phone and re.fullmatch(r"\+?[0-9][0-9 ()-]{5,29}", phone):
        person["phone"] = phone
    return person


def _address(message: Hl7Message, pid: Segment, person: dict[str, Any], problems: list[Problem]) -> bool:
    """Fill ``person.address`` from PID-11; return True for no fixed abode."""
    reps = message.repetitions(pid, 11)
    if not reps:
        return True
    raw = reps[0]
    postcode = message.component_of(raw, 5).upper()
    if postcode.replace(" ", "") == NO_FIXED_ABODE_POSTCODE:
        return True
    lines = [message.component_of(raw, n)[:100] for n in (1, 2, 3, 4)]
    lines = [line for line in lines if line]
    if not _POSTCODE.match(postcode):
        problems.append(Problem("PID-11.5", "the postcode is not a UK postcode (use ZZ99 3VZ for no fixed abode)"))
    elif not lines:
        problems.append(Problem("PID-11.1", "an address with a postcode needs at least its first line"))
    else:
        person["address"] = {"lines": lines[:6], "postcode": postcode}
    return False


def _payload(message: Hl7Message, pv1: Segment, facility: str, problems: list[Problem]) -> dict[str, Any]:
    payload: dict[str, Any] = {"discharging_org": {"ods_code": facility}}
    ward = message.value(pv1, 3, 1)
    if not ward:
        problems.append(Problem("PV1-3.1", "required: the ward (point of care)"))
    payload["ward"] = ward[:100]
    admitted = read_date(message.value(pv1, 44))
    if admitted is None:
        problems.append(Problem("PV1-44", "required: the admission date/time (YYYYMMDD[HHMM])"))
    else:
        payload["admission_date"] = admitted.isoformat()
    discharged = read_timestamp(message.value(pv1, 45))
    if discharged is None:
        problems.append(Problem("PV1-45", "required: the discharge date/time as YYYYMMDDHHMM[SS][+ZZZZ]"))
    method = message.value(pv1, 36)
    if not re.fullmatch(r"[1-9]", method):
        problems.append(Problem("PV1-36", "required: the discharge method, an NHS code 1-9 (9 = not known)"))
    destination = message.value(pv1, 37, 1)
    if not re.fullmatch(r"\d{2}", destination):
        problems.append(Problem("PV1-37", "required: the discharge destination, a 2-digit NHS code (99 = not known)"))
    if discharged is not None:
        payload["discharge"] = {"date_time": rfc3339(discharged), "planned": False, "method": method,
                                "destination": destination}  # fmt: skip
    payload["contact"] = _contact(message, pv1, problems)
    legal = _legal_status(message, problems)
    if legal:
        payload["legal_status"] = legal
    housing = _housing(message, problems)
    if housing:
        payload["housing"] = housing
    return payload


def _contact(message: Hl7Message, pv1: Segment, problems: list[Problem]) -> dict[str, Any]:
    family, given, prefix = (message.value(pv1, 7, n) for n in (2, 3, 6))
    name = " ".join(part for part in (prefix, given, family) if part)
    if not family:
        problems.append(Problem("PV1-7", "required: the attending (lead) clinician as ID^family^given^^^prefix"))
        return {}
    contact: dict[str, Any] = {"name": name[:200], "role": "Attending clinician"}
    zdr = message.segment("ZDR")
    if zdr is not None:  # how the council reaches whoever made the referral
        for number, key in ((6, "phone"), (7, "email"), (8, "organisation")):
            value = message.value(zdr, number)
            if value:
                contact[key] = value[:200]
    return contact


def _flag(message: Hl7Message, segment: Segment, number: int, problems: list[Problem]) -> bool | None:
    value = message.value(segment, number).upper()
    if not value:
        return None
    if value not in _YES_NO:
        problems.append(Problem(f"{segment.name}-{number}", "must be Y or N"))
        return None
    return _YES_NO[value]


def _legal_status(message: Hl7Message, problems: list[Problem]) -> dict[str, Any]:
    zmh = message.segment("ZMH")
    if zmh is None:
        return {}
    legal: dict[str, Any] = {}
    section = message.value(zmh, 1)
    if section:
        legal["mha_section"] = section[:20]
    for key, number in (("cto", 2), ("s117", 3)):
        flag = _flag(message, zmh, number, problems)
        if flag is not None:
            legal[key] = flag
    return legal


def _housing(message: Hl7Message, problems: list[Problem]) -> dict[str, Any]:
    zhs = message.segment("ZHS")
    if zhs is None:
        return {}
    situation = message.value(zhs, 1).lower()
    if situation not in _HOUSING:
        problems.append(Problem("ZHS-1", f"the housing situation must be one of {', '.join(_HOUSING)}"))
    housing: dict[str, Any] = {"situation": situation}
    authority = message.value(zhs, 2).upper()
    if authority:
        housing["chosen_authority_gss"] = authority
    details = message.value(zhs, 3)
    if details:
        housing["details"] = details[:2000]
    needs = [message.component_of(rep, 1)[:500] for rep in message.repetitions(zhs, 4)]
    if any(needs):
        housing["support_needs"] = [n for n in needs if n][:50]
    urgent = _flag(message, zhs, 5, problems)
    if urgent is not None:
        housing["urgent"] = urgent
    return housing


def _consent(message: Hl7Message, problems: list[Problem]) -> dict[str, Any]:
    zdr = message.segment("ZDR")
    if zdr is None:
        return {}
    referral, share = _flag(message, zdr, 1, problems), _flag(message, zdr, 2, problems)
    method = {"O": "oral", "W": "written"}.get(message.value(zdr, 3).upper())
    recorded_at = read_timestamp(message.value(zdr, 4))
    recorded_by = message.value(zdr, 5)
    for ok, where, what in (
        (referral is not None, "ZDR-1", "consent to the referral, Y or N"),
        (share is not None, "ZDR-2", "consent to sharing contact details, Y or N"),
        (method is not None, "ZDR-3", "how consent was given, O (oral) or W (written)"),
        (recorded_at is not None, "ZDR-4", "when consent was recorded, YYYYMMDDHHMM[SS][+ZZZZ]"),
        (bool(recorded_by), "ZDR-5", "who recorded consent (name and role)"),
    ):
        if not ok:
            problems.append(Problem(where, f"required: {what}"))
    if referral is None or share is None or method is None or recorded_at is None or not recorded_by:
        return {}
    return {"referral": referral, "share_contact": share, "method": method, "recorded_at": rfc3339(recorded_at),
            "recorded_by": recorded_by[:200]}  # fmt: skip
