"""A FHIR message Bundle about a discharge to one canonical DischargeNotice.

``discharge_notice(bundle, sender_id=..., now=...)`` reads the MessageHeader
(message id, sender ODS code), the Encounter it focuses on (period, status,
discharge method and destination, ward Location, serviceProvider, attending
Practitioner, the hub's extensions), the Patient the Encounter is about, and
any Consent resources. It returns the canonical message with the warnings
reading raised (``Parsed``), or raises ``InvalidMessage`` listing every problem
with its FHIR path.

Refused: what makes the message unusable or unlawful to carry (no Bundle shape,
no message id or sender, no identifiable Patient, an NHS number failing
Modulus 11, no discharge date-time, malformed consent or hub extensions).
Accepted with a warning, recorded as not known: the lead clinician, the ward
(its name may come from ``location.display`` alone), the admission date, the
discharge method (9) and destination (99, with the sender's text).
``docs/partners/nhs-fhir.md`` publishes the list; a test holds code and docs to it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from hub import InvalidMessage, Parsed
from hub_nhs.fhir import codes, hub_extensions, people
from hub_nhs.fhir.bundle import Entry, MessageBundle
from hub_nhs.fhir.reading import Reader

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
METHOD_NOT_KNOWN = "9"  # NHS Data Dictionary discharge method: not known
DESTINATION_NOT_KNOWN = "99"  # NHS Data Dictionary discharge destination: not known
WARD_MAX, TEXT_MAX = 100, 200  # canonical maxLength of payload.ward and discharge.destination_text


def discharge_notice(bundle: MessageBundle, *, sender_id: str, now: datetime) -> Parsed:
    """The canonical DischargeNotice for ``bundle`` sent by partner ``sender_id``, with the warnings raised."""
    reader = Reader()
    header = bundle.header
    message_id = _message_id(reader, bundle)
    created_at = reader.instant(bundle.document, "timestamp", "Bundle") if "timestamp" in bundle.document else None
    sender: dict[str, Any] = {"org_id": sender_id}
    sender_ods = _sender_ods(reader, bundle, header)
    if sender_ods is not None:
        sender["ods_code"] = sender_ods
    if header.resource.get("eventCoding") is None and header.resource.get("eventUri") is None:
        reader.add(f"{header.path}.eventCoding", "required: the message event (eventCoding or eventUri)")

    encounter = _focus(reader, bundle, header)
    payload: dict[str, Any] = {}
    if encounter is not None:
        payload = _encounter(reader, bundle, encounter, sender_ods)
    message: dict[str, Any] = {
        "message_id": message_id,
        "type": "DischargeNotice",
        "schema_version": "1",
        "created_at": created_at or now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "sender": sender,
    }
    consent = hub_extensions.consent(reader, bundle)
    if consent is not None:
        message["consent"] = consent
    message["payload"] = payload
    if reader.problems:
        raise InvalidMessage("The FHIR discharge message cannot become a DischargeNotice.", reader.problems)
    return Parsed(message, tuple(reader.warnings))


def _message_id(reader: Reader, bundle: MessageBundle) -> str | None:
    header_id = bundle.header.resource.get("id")
    if isinstance(header_id, str) and _UUID.match(header_id.lower()):
        return header_id.lower()
    identifier = reader.obj(bundle.document, "identifier", "Bundle")
    value = reader.string(identifier, "value", "Bundle.identifier") if identifier else None
    if value is not None:
        bare = value.lower().removeprefix("urn:uuid:")
        if _UUID.match(bare):
            return bare
        reader.add("Bundle.identifier.value", "must be a UUID (urn:uuid:...): it becomes the hub's message id")
        return None
    reader.add(f"{bundle.header.path}.id", "must be a UUID, or Bundle.identifier must carry one (urn:uuid:...): "
                                           "it is the message id the hub acknowledges")  # fmt: skip
    return None


def _sender_ods(reader: Reader, bundle: MessageBundle, header: Entry) -> str | None:
    where = f"{header.path}.sender"
    sender = reader.obj(header.resource, "sender", header.path)
    if sender is None:
        reader.add(where, "required: the sending organisation (identifier with its ODS code, or a reference)")
        return None
    identifier = reader.obj(sender, "identifier", where)
    if identifier is not None and identifier.get("system") == codes.ODS_ORGANIZATION:
        return people.checked_ods(reader, reader.string(identifier, "value", f"{where}.identifier", required=True),
                                  f"{where}.identifier.value")  # fmt: skip
    target = sender.get("reference")
    if isinstance(target, str) and target.startswith(codes.SPINE_DIRECTORY_ORGANIZATION):
        return people.checked_ods(reader, target.removeprefix(codes.SPINE_DIRECTORY_ORGANIZATION),
                                  f"{where}.reference")  # fmt: skip
    organisation = bundle.resolve(sender, where, reader, expected=("Organization",))
    if organisation is not None:
        code = people.ods_code(reader, organisation.resource, organisation.path, systems=(codes.ODS_ORGANIZATION,))
        if code is None:
            reader.add(
                f"{organisation.path}.identifier", f"required: an identifier with system {codes.ODS_ORGANIZATION}"
            )
        return code
    if "reference" not in sender:
        reader.add(where, f"must name the sender's ODS code (identifier.system {codes.ODS_ORGANIZATION})")
    return None


def _focus(reader: Reader, bundle: MessageBundle, header: Entry) -> Entry | None:
    for focus, where in reader.many(header.resource, "focus", header.path):
        target = bundle.resolve(focus, where, reader, expected=tuple({e.type for e in bundle.entries}))
        if target is not None and target.type == "Encounter":
            return target
    encounters = bundle.of_type("Encounter")
    if len(encounters) == 1:
        return encounters[0]
    if not encounters:
        reader.add("Bundle.entry", "required: an Encounter (the hospital stay being discharged from)")
    else:
        reader.add(f"{header.path}.focus", "required: several Encounters are present; focus names the one discharged")
    return None


def _encounter(reader: Reader, bundle: MessageBundle, encounter: Entry, sender_ods: str | None) -> dict[str, Any]:
    resource, path = encounter.resource, encounter.path
    payload: dict[str, Any] = {}
    patient = _subject(reader, bundle, encounter)
    if patient is not None:
        payload["person"] = people.person(reader, patient)

    org: dict[str, Any] = {}
    with reader.lenient("the discharging organisation is recorded as the sender"):
        provider = bundle.resolve(reader.one(resource, "serviceProvider", path), f"{path}.serviceProvider", reader,
                                  expected=("Organization",))  # fmt: skip
        if provider is not None:
            ods = people.ods_code(reader, provider.resource, provider.path, systems=(codes.ODS_ORGANIZATION,))
            name = reader.string(provider.resource, "name", provider.path, max_length=200)
            org = {k: v for k, v in {"ods_code": ods, "name": name}.items() if v}
    if "ods_code" not in org and sender_ods is not None:
        org["ods_code"] = sender_ods
    if "ods_code" not in org:
        reader.add(f"{path}.serviceProvider", "required: the discharging organisation with its ODS code")
    payload["discharging_org"] = org

    ward = _ward(reader, bundle, encounter)
    if ward is not None:
        payload["ward"] = ward
    period = reader.obj(resource, "period", path, required=True)
    if period is not None:
        with reader.lenient("the admission date is recorded as not known"):
            admitted = reader.date(period, "start", f"{path}.period", required=True)
        if admitted is not None:
            payload["admission_date"] = admitted
    payload["discharge"] = _discharge(reader, resource, path, period)
    legal = hub_extensions.legal_status(reader, encounter)
    if legal:
        payload["legal_status"] = legal
    contact = _attending(reader, bundle, encounter, org.get("name"))
    if contact is not None:
        payload["contact"] = contact
    housing = hub_extensions.housing(reader, encounter)
    if housing is not None:
        payload["housing"] = housing
    support = hub_extensions.support(reader, encounter)
    if support is not None:
        payload["support"] = support
    employment = hub_extensions.employment(reader, encounter, bundle,
                                           lambda p: people.contact(reader, p, org.get("name")))  # fmt: skip
    if employment is not None:
        payload["employment"] = employment
    if "person" in payload:
        situation = (housing or {}).get("situation")
        payload["person"]["no_fixed_abode"] = situation == "no_fixed_abode"
    return payload


def _subject(reader: Reader, bundle: MessageBundle, encounter: Entry) -> Entry | None:
    subject = reader.one(encounter.resource, "subject", encounter.path)
    if subject is not None:
        return bundle.resolve(subject, f"{encounter.path}.subject", reader, expected=("Patient",))
    patients = bundle.of_type("Patient")
    if len(patients) == 1:
        return patients[0]
    reader.add(f"{encounter.path}.subject", "required: the Patient being discharged (a reference into the Bundle)")
    return None


def _ward(reader: Reader, bundle: MessageBundle, encounter: Entry) -> str | None:
    """The ward's name: the named Location's ``name``, else the Reference's ``display``; warned when neither."""
    resource, path = encounter.resource, encounter.path
    not_known = "the ward is recorded as not known"
    before = len(reader.warnings)
    with reader.lenient(not_known):
        for item, where in reader.many(resource, "location", path, required=True):
            reference = reader.obj(item, "location", where, required=True)
            if reference is None:
                continue
            rpath = f"{where}.location"
            display = reader.string(reference, "display", rpath)
            name = None
            if "reference" in reference:
                with reader.lenient("the ward's name is taken from location.display" if display else not_known):
                    target = bundle.resolve(reference, rpath, reader, expected=("Location",))
                    if target is not None:
                        name = reader.string(target.resource, "name", target.path, required=not display)
            name = name or display
            if name is not None:
                if len(name) > WARD_MAX:
                    reader.warn(rpath, f"the ward's name is longer than the hub keeps; its first {WARD_MAX} "
                                       "characters are carried")  # fmt: skip
                return name[:WARD_MAX]
    if len(reader.warnings) == before:
        reader.warn(f"{path}.location", f"not given: a Location, or the ward's name in location.display; {not_known}")
    return None


def _discharge(reader: Reader, resource: dict[str, Any], path: str, period: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if period is not None:
        if "end" not in period:
            reader.add(f"{path}.period.end", "required: the discharge date-time (planned or actual)")
        else:
            out["date_time"] = reader.instant(period, "end", f"{path}.period")
    status = reader.string(resource, "status", path, required=True)
    if status is not None:
        if status in codes.PLANNED_BY_STATUS:
            out["planned"] = codes.PLANNED_BY_STATUS[status]
        else:
            reader.add(f"{path}.status", "must be planned, in-progress or onleave (a planned discharge) or finished")
    with reader.lenient(f"the discharge method is recorded as {METHOD_NOT_KNOWN} (not known)"):
        out["method"] = _method(reader, resource, path)
    with reader.lenient(f"the discharge destination is recorded as {DESTINATION_NOT_KNOWN} (not known)"):
        out["destination"], out["destination_text"] = _destination(reader, resource, path)
    return {k: v for k, v in out.items() if v is not None}


def _method(reader: Reader, resource: dict[str, Any], path: str) -> str:
    """The discharge method code; 9 (not known) after recording why (the caller makes that a warning)."""
    found = reader.extension(resource, codes.EXT_DISCHARGE_METHOD, path)
    if found is None:
        reader.add(f"{path}.extension", f"required: the discharge method extension {codes.EXT_DISCHARGE_METHOD}")
        return METHOD_NOT_KNOWN
    concept = reader.obj(found[0], "valueCodeableConcept", found[1], required=True)
    for system, code, where in reader.codings(concept, f"{found[1]}.valueCodeableConcept"):
        if system in codes.DISCHARGE_METHODS:
            if code in codes.DISCHARGE_METHODS[system]:
                return code
            reader.add(f"{where}.code", f"is not a code of {system.rsplit('/', 1)[1]}")
            return METHOD_NOT_KNOWN
    if concept is not None:
        reader.add(f"{found[1]}.valueCodeableConcept.coding",
                   f"required: a coding from {codes.CS_DISCHARGE_METHOD_ENGLAND}")  # fmt: skip
    return METHOD_NOT_KNOWN


def _destination(reader: Reader, resource: dict[str, Any], path: str) -> tuple[str, str | None]:
    """The destination code and, when it is 99 (not known), the sender's words for it; records why it is 99."""
    where = f"{path}.hospitalization.dischargeDisposition"
    before = len(reader.problems)
    hospitalization = reader.obj(resource, "hospitalization", path)
    concept = reader.obj(hospitalization, "dischargeDisposition", f"{path}.hospitalization")
    if concept is None:
        if len(reader.problems) == before:
            reader.add(where, "required: the discharge destination (UKCore-DischargeDestinationEngland)")
        return DESTINATION_NOT_KNOWN, None
    text = _text(reader, concept, where)
    for system, code, cwhere in reader.codings(concept, where):
        if system == codes.CS_DISCHARGE_DESTINATION_ENGLAND:
            if code in codes.DISCHARGE_DESTINATIONS:
                return code, text if code == DESTINATION_NOT_KNOWN else None
            reader.add(f"{cwhere}.code", "is not a code of UKCore-DischargeDestinationEngland (e.g. 19, 29, 53, 99)")
            return DESTINATION_NOT_KNOWN, text
    reader.add(f"{where}.coding", f"required: a coding from {codes.CS_DISCHARGE_DESTINATION_ENGLAND}")
    return DESTINATION_NOT_KNOWN, text


def _text(reader: Reader, concept: dict[str, Any], path: str) -> str | None:
    """A CodeableConcept in words: its ``text``, else the first coding's ``display`` (cut to the canonical limit)."""
    text = reader.string(concept, "text", path)
    if text is None:
        for coding, _ in reader.many(concept, "coding", path):
            display = coding.get("display") if isinstance(coding, dict) else None
            if isinstance(display, str) and display.strip():
                text = display.strip()
                break
    return text[:TEXT_MAX] if text else None


def _attending(reader: Reader, bundle: MessageBundle, encounter: Entry, organisation: str | None) -> dict | None:
    """The lead clinician (the ``ATND`` participant first) as a canonical contact; warned and None when absent."""
    not_known = "no lead clinician is recorded (a Duty to Refer or a referral needs one)"
    candidates = []
    with reader.lenient(not_known):
        for participant, where in reader.many(encounter.resource, "participant", encounter.path):
            individual = reader.one(participant, "individual", where)
            if individual is None:
                continue
            target = bundle.resolve(
                individual, f"{where}.individual", reader, expected=("Practitioner", "PractitionerRole")
            )
            if target is not None and target.type == "Practitioner":
                types = [c for t, tw in reader.many(participant, "type", where) for _, c, _ in reader.codings(t, tw)]
                candidates.append((0 if "ATND" in types else 1, target))
        if not candidates:
            reader.add(f"{encounter.path}.participant",
                       "required: the lead clinician (a participant whose individual is a Practitioner)")  # fmt: skip
            return None
        candidates.sort(key=lambda c: c[0])
        contact = people.contact(reader, candidates[0][1], organisation)
    return contact if "name" in contact else None
