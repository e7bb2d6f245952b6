"""ADT^A03 (discharge) to a canonical DischargeNotice.

Contract: ``discharge_notice(message, sender_id)`` returns the canonical
message as ``Parsed`` with a warning for each element that was empty or not
recognised and is recorded as not known (ward and lead clinician left out,
discharge method ``9``, destination ``99``), or raises ``InvalidMessage``
listing every problem by HL7 location (``PID-3``, ``PV1-45``) for what makes
the message unusable (no identifiable person, an NHS number failing Modulus
11, no discharge date, malformed Z-segments), or ``UnparseableInput`` for a
message that is not an ADT^A03 at all. Problems and warnings carry their HL7
table 0357 condition (``conditions``). Where the fields come from:

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
ward                            PV1-3.9 (location description), else PV1-3.1
                                (point of care)
contact                         PV1-7 (attending doctor, XCN)
admission_date                  PV1-44
discharge.date_time             PV1-45 (an A03 reports a discharge that
                                happened, so ``planned`` is false)
discharge.method                PV1-36 (NHS discharge method 1-9), else 9
discharge.destination           PV1-37.1 (NHS discharge destination, 2 digits;
                                or a 2-digit PV1-36), else 99
discharge.destination_text      PV1-37.1 when it is text rather than a code
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

from hub import InvalidMessage, Parsed, Problem, UnparseableInput, nhs_number_problem, normalise_nhs_number
from hub_nhs.fhir.codes import DISCHARGE_DESTINATIONS
from hub_nhs.hl7v2.conditions import (
    UNSUPPORTED_EVENT_CODE,
    UNSUPPORTED_MESSAGE_TYPE,
    Hl7Problem,
    malformed,
    missing,
    not_in_table,
    not_known,
    unrecognised,
)
from hub_nhs.hl7v2.datatypes import read_date, read_timestamp, rfc3339
from hub_nhs.hl7v2.parser import Hl7Message, Segment

HL7_NAMESPACE = uuid.UUID("2f0c6f55-5f7b-4c1e-9f4e-6f1f0b8f2a03")
NO_FIXED_ABODE_POSTCODE = "ZZ993VZ"
_ODS = re.compile(r"^[A-Z0-9]{3,10}$")
_POSTCODE = re.compile(r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}$")
_GENDERS = {"M": "male", "F": "female", "O": "other", "U": "unknown", "A": "other", "N": "unknown"}
_YES_NO = {"Y": True, "N": False}
_METHOD = re.compile(r"[1-9]")
_DESTINATION = re.compile(r"[0-9]{2}")
NOT_KNOWN_METHOD = "9"  # NHS Data Dictionary: discharge method not known
NOT_KNOWN_DESTINATION = "99"  # NHS Data Dictionary: discharge destination not known
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


def discharge_notice(message: Hl7Message, sender_id: str) -> Parsed:
    """Build the DischargeNotice for an ADT^A03 with its warnings, or raise with every problem found."""
    code, event = message_type(message)
    if code != "ADT":
        why = Hl7Problem("MSH-9", "the hub reads ADT^A03 (discharge) only", UNSUPPORTED_MESSAGE_TYPE)
        raise UnparseableInput("MSH-9: the hub reads ADT^A03 (discharge) only.", [why])
    if event != "A03":
        why = Hl7Problem("MSH-9.2", "the hub reads the ADT event A03 (discharge) only", UNSUPPORTED_EVENT_CODE)
        raise UnparseableInput("MSH-9.2: the hub reads ADT^A03 (discharge) only.", [why])
    problems: list[Problem] = []
    warnings: list[Problem] = []
    facility = sending_facility(message)
    control = control_id(message)
    if not facility:
        problems.append(missing("MSH-4", "the sending facility, the trust's ODS code (e.g. RWK)"))
    elif not _ODS.match(facility):
        problems.append(malformed("MSH-4", "the sending facility must be the trust's ODS code (e.g. RWK)"))
    if not control:
        problems.append(missing("MSH-10", "the message control id"))
    created = _timestamp(message, "MSH", 7, "the message date/time", problems)
    pid, pv1 = message.segment("PID"), message.segment("PV1")
    if pid is None:
        problems.append(missing("PID", "the PID segment (the person)"))
    if pv1 is None:
        problems.append(missing("PV1", "the PV1 segment (the visit and its discharge)"))
    person = _person(message, pid, problems) if pid else {}
    payload = _payload(message, pv1, facility, problems, warnings) if pv1 else {}
    consent = _consent(message, problems)
    if problems:
        raise InvalidMessage("The ADT^A03 cannot become a DischargeNotice.", problems)
    payload = {"person": person, **payload}
    canonical: dict[str, Any] = {
        "message_id": hub_message_id(facility, control),
        "type": "DischargeNotice",
        "schema_version": "1",
        "created_at": rfc3339(created),
        "sender": {"org_id": sender_id, "ods_code": facility},
        "payload": payload,
    }
    if consent:
        canonical["consent"] = consent
    return Parsed(canonical, tuple(warnings))


def _timestamp(message: Hl7Message, segment: str | Segment, number: int, what: str, problems: list[Problem]) -> Any:
    """A required DTM at SEG-number, or None with a problem (101 when empty, 102 when malformed)."""
    raw = message.value(segment, number)
    name = segment if isinstance(segment, str) else segment.name
    moment = read_timestamp(raw)
    if moment is None:
        maker = malformed if raw else missing
        problems.append(maker(f"{name}-{number}", f"{what} as YYYYMMDDHHMM[SS][+ZZZZ]"))
    return moment


def _person(message: Hl7Message, pid: Segment, problems: list[Problem]) -> dict[str, Any]:
    person: dict[str, Any] = {}
    for raw in message.repetitions(pid, 3):
        number, kind = message.component_of(raw, 1), message.component_of(raw, 5).upper()
        if kind == "NH" and "nhs_number" not in person:
            digits = normalise_nhs_number(number)
            why = nhs_number_problem(digits)
            if why:
                problems.append(malformed("PID-3", why))
            person["nhs_number"] = digits
        elif kind != "NH" and number and "local_id" not in person:
            person["local_id"] = number[:64]
    status = message.value(pid, 32)
    if "nhs_number" in person and re.fullmatch(r"0[1-8]", status):
        person["nhs_number_status"] = status
    family, given = message.value(pid, 5, 1), message.value(pid, 5, 2)
    if not family:
        problems.append(missing("PID-5.1", "the family name"))
    if not given:
        problems.append(missing("PID-5.2", "the given name"))
    person.update(family_name=family[:100], given_name=given[:100])
    birth = read_date(message.value(pid, 7))
    if birth is None:
        maker = malformed if message.value(pid, 7) else missing
        problems.append(maker("PID-7", "the date of birth as YYYYMMDD"))
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
        problems.append(malformed("PID-11.5", "the postcode is not a UK postcode (use ZZ99 3VZ for no fixed abode)"))
    elif not lines:
        problems.append(missing("PID-11.1", "an address with a postcode needs at least its first line"))
    else:
        person["address"] = {"lines": lines[:6], "postcode": postcode}
    return False


def _payload(
    message: Hl7Message, pv1: Segment, facility: str, problems: list[Problem], warnings: list[Problem]
) -> dict[str, Any]:
    payload: dict[str, Any] = {"discharging_org": {"ods_code": facility}}
    ward = message.value(pv1, 3, 9) or message.value(pv1, 3, 1)  # the location description, else the point of care
    if ward:
        payload["ward"] = ward[:100]
    else:
        warnings.append(not_known("PV1-3.1", "empty: the ward is not known, so the notice names none"))
    admitted = read_date(message.value(pv1, 44))
    if admitted is None and message.value(pv1, 44):
        problems.append(malformed("PV1-44", "the admission date/time (YYYYMMDD[HHMM])"))
    elif admitted is None:  # no purpose of the hub needs it: carry the notice without it
        warnings.append(not_known("PV1-44", "empty: the admission date is not known, so the notice gives none"))
    else:
        payload["admission_date"] = admitted.isoformat()
    discharged = _timestamp(message, pv1, 45, "the discharge date/time", problems)
    if discharged is not None:
        discharge = {"date_time": rfc3339(discharged), "planned": False, **_disposition(message, pv1, warnings)}
        payload["discharge"] = discharge
    contact = _contact(message, pv1, warnings)
    if contact:
        payload["contact"] = contact
    legal = _legal_status(message, problems)
    if legal:
        payload["legal_status"] = legal
    housing = _housing(message, problems)
    if housing:
        payload["housing"] = housing
    return payload


def _disposition(message: Hl7Message, pv1: Segment, warnings: list[Problem]) -> dict[str, str]:
    """Discharge method (PV1-36) and destination (PV1-37), each ``9``/``99`` (not known) when absent or unrecognised.

    A two-digit code in PV1-36 is a destination sent where some engines put it:
    it is read as the destination when PV1-37 has no code. Text in PV1-37 (a
    place, not a code) is carried as ``destination_text``.
    """
    method = message.value(pv1, 36)
    code, text = message.value(pv1, 37, 1), message.value(pv1, 37, 1, 2)
    if not _DESTINATION.fullmatch(code):
        code, text = "", text or code
    out: dict[str, str] = {"method": NOT_KNOWN_METHOD, "destination": NOT_KNOWN_DESTINATION}
    where = "PV1-37.1"
    if _METHOD.fullmatch(method):
        out["method"] = method
    elif _DESTINATION.fullmatch(method) and not code:
        code, where = method, "PV1-36"
        why = "holds a 2-digit discharge destination: read as the destination (PV1-37); the discharge method is"
        warnings.append(unrecognised("PV1-36", f"{why} recorded as not known ({NOT_KNOWN_METHOD})"))
    elif method:
        why = "is not an NHS discharge method (1-9): recorded as not known"
        warnings.append(unrecognised("PV1-36", f"{why} ({NOT_KNOWN_METHOD})"))
    else:
        why = "empty: the discharge method is recorded as not known"
        warnings.append(not_known("PV1-36", f"{why} ({NOT_KNOWN_METHOD})"))
    if code in DISCHARGE_DESTINATIONS:
        out["destination"] = code
    elif code:
        warnings.append(unrecognised(where, "is not an NHS discharge destination code: recorded as not known "
                                            f"({NOT_KNOWN_DESTINATION})"))  # fmt: skip
    elif text:
        warnings.append(unrecognised("PV1-37.1", "gives the destination as text only: the text is carried and the code "
                                            f"recorded as not known ({NOT_KNOWN_DESTINATION})"))  # fmt: skip
    else:
        warnings.append(not_known("PV1-37.1", "empty: the discharge destination is recorded as not known "
                                            f"({NOT_KNOWN_DESTINATION})"))  # fmt: skip
    if text:
        out["destination_text"] = text[:200]
    return out


def _contact(message: Hl7Message, pv1: Segment, warnings: list[Problem]) -> dict[str, Any]:
    """The lead clinician (PV1-7, XCN ``ID^family^given^^^prefix``) with the referrer's details from ZDR-6..8."""
    family, given, prefix = (message.value(pv1, 7, n) for n in (2, 3, 6))
    zdr = message.segment("ZDR")
    details = {key: message.value(zdr, number)[:200] for number, key in ((6, "phone"), (7, "email"),
               (8, "organisation"))} if zdr is not None else {}  # fmt: skip
    details = {key: value for key, value in details.items() if value}
    if not family:
        why = "empty: no lead clinician is known"
        if details:
            why += "; the referrer's details in ZDR-6..8 need a named clinician here and were not carried"
        warnings.append(not_known("PV1-7", why))
        return {}
    name = " ".join(part for part in (prefix, given, family) if part)
    return {"name": name[:200], "role": "Attending clinician", **details}


def _flag(message: Hl7Message, segment: Segment, number: int, problems: list[Problem]) -> bool | None:
    value = message.value(segment, number).upper()
    if not value:
        return None
    if value not in _YES_NO:
        problems.append(not_in_table(f"{segment.name}-{number}", "must be Y or N"))
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
        maker = not_in_table if situation else missing
        problems.append(maker("ZHS-1", f"the housing situation, one of {', '.join(_HOUSING)}"))
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
    """Consent from ZDR-1..5: all five, or none (a ZDR may carry only the referrer's details, ZDR-6..8)."""
    zdr = message.segment("ZDR")
    if zdr is None or not any(message.value(zdr, number) for number in range(1, 6)):
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
        if not ok and not message.value(zdr, int(where[-1])):
            problems.append(missing(where, what))
        elif not ok and where in ("ZDR-3", "ZDR-4"):  # ZDR-1 and ZDR-2 were reported by _flag
            problems.append(not_in_table(where, what) if where == "ZDR-3" else malformed(where, what))
    if referral is None or share is None or method is None or recorded_at is None or not recorded_by:
        return {}
    return {"referral": referral, "share_contact": share, "method": method, "recorded_at": rfc3339(recorded_at),
            "recorded_by": recorded_by[:200]}  # fmt: skip
