"""Canonical messages to FHIR R4 message Bundles (as FHIR JSON dicts, keys in FHIR element order).

- ``acknowledgement_bundle``: a response message. ``MessageHeader.response``
  names the acknowledged message (``identifier`` = the canonical
  ``in_reply_to``) with ``code`` ok (received, accepted), transient-error
  (error) or fatal-error (rejected); an OperationOutcome carries the reason.
- ``appointment_bundle``: a HousingAppointment as an Appointment with the
  housing officer (Practitioner) and the housing authority (Organization).

Both take the partner the Bundle is delivered to: ``MessageHeader.destination``
names it (``name``, an endpoint under the hub's namespace, and ``receiver`` by
its ODS code, else its GSS code, else its hub id), whatever the canonical
``recipient`` says or whether it is there at all.

Ids inside a Bundle are derived from the canonical message id, so rendering the
same message twice gives the same Bundle (deliveries may be retried).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from hub import Partner
from hub_nhs.fhir import codes

_APPOINTMENT_STATUS = {
    "offered": "proposed",
    "confirmed": "booked",
    "rescheduled": "booked",
    "cancelled": "cancelled",
    "contact_failed": "noshow",
    "closed_no_contact": "cancelled",
}
_ISSUE = {  # ack status -> (severity, OperationOutcome issue code)
    "received": ("information", "informational"),
    "accepted": ("information", "informational"),
    "error": ("error", "transient"),
    "rejected": ("error", "processing"),
}


def _child_id(message_id: str, name: str) -> str:
    return str(uuid.uuid5(uuid.UUID(message_id), name)) if _is_uuid(message_id) else f"{message_id}-{name}"


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _party(party: dict[str, Any]) -> dict[str, Any]:
    """A Reference to a canonical party (``org_id`` and codes): by ODS code, else GSS code, else the hub's org id."""
    if party.get("ods_code"):
        return {"identifier": {"system": codes.ODS_ORGANIZATION, "value": party["ods_code"]}}
    if party.get("gss_code"):
        return {"identifier": {"system": codes.ID_GSS, "value": party["gss_code"]}}
    return {"identifier": {"system": codes.ID_ORG, "value": party["org_id"]}}


def _endpoint(org_id: str) -> str:
    return f"{codes.HUB_BASE}Endpoint/{org_id}"


def _header(message: dict[str, Any], partner: Partner, event: str, display: str, **rest: Any) -> dict[str, Any]:
    header: dict[str, Any] = {"resourceType": "MessageHeader", "id": message["message_id"]}
    if rest.get("extension"):
        header["extension"] = rest.pop("extension")
    header["eventCoding"] = {"system": codes.CS_MESSAGE_EVENT, "code": event, "display": display}
    receiver = {**_party(partner.party()), "display": partner.name}
    header["destination"] = [{"name": partner.name, "endpoint": _endpoint(partner.id), "receiver": receiver}]
    header["sender"] = _party(message["sender"])
    header["source"] = {"name": "partner hub", "endpoint": _endpoint(message["sender"]["org_id"])}
    header.update({k: v for k, v in rest.items() if v is not None})
    return header


def _correlation(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Extension-Hub-Correlation (inReplyTo, correlationId) when the message has either, else no extension."""
    parts = [{"url": "inReplyTo", "valueString": message["in_reply_to"]}] if message.get("in_reply_to") else []
    if message.get("correlation_id"):
        parts.append({"url": "correlationId", "valueString": message["correlation_id"]})
    return [{"url": codes.EXT_CORRELATION, "extension": parts}] if parts else []


def _bundle(message: dict[str, Any], resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": message["message_id"],
        "identifier": {"system": codes.RFC3986, "value": f"urn:uuid:{message['message_id']}"},
        "type": "message",
        "timestamp": message["created_at"],
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


def acknowledgement_bundle(message: dict[str, Any], *, partner: Partner) -> dict[str, Any]:
    """A FHIR response message for a canonical Acknowledgement delivered to ``partner``."""
    payload = message["payload"]
    status = payload.get("status", "rejected")
    extensions: list[dict[str, Any]] = [{"url": codes.EXT_ACK_LEVEL, "valueCode": payload.get("level", "business")}]
    if payload.get("receiver_ref"):
        extensions.append({"url": codes.EXT_RECEIVER_REF, "valueString": payload["receiver_ref"]})
    extensions.extend(_correlation(message))
    response: dict[str, Any] = {
        "identifier": message.get("in_reply_to", ""),
        "code": codes.RESPONSE_CODES.get(status, "fatal-error"),
    }
    resources: list[dict[str, Any]] = []
    outcome_id = _child_id(message["message_id"], "outcome")
    if status not in ("received", "accepted") or payload.get("reason") or payload.get("reason_code"):
        severity, issue_code = _ISSUE.get(status, ("error", "processing"))
        details: dict[str, Any] = {}
        if payload.get("reason_code"):
            details["coding"] = [{"system": codes.CS_REASON, "code": payload["reason_code"]}]
        details["text"] = payload.get("reason") or f"The message was {status} ({payload.get('level', 'business')})."
        issue = {"severity": severity, "code": issue_code, "details": details}
        resources.append({"resourceType": "OperationOutcome", "id": outcome_id, "issue": [issue]})
        response["details"] = {"reference": f"urn:uuid:{outcome_id}"}
    header = _header(message, partner, "acknowledgement", "Acknowledgement", extension=extensions,
                     response=response)  # fmt: skip
    return _bundle(message, [header, *resources])


def appointment_bundle(message: dict[str, Any], *, partner: Partner, minutes: int = 60) -> dict[str, Any]:
    """A FHIR message with an Appointment for a canonical HousingAppointment delivered to ``partner``.

    FHIR wants ``end`` with ``start``; the canonical appointment has no length,
    so ``end`` is ``start`` plus ``minutes`` (the partner option
    ``appointment_minutes``, 60 unless set).
    """
    payload = message["payload"]
    mid = message["message_id"]
    appointment_id, officer_id, authority_id = (_child_id(mid, n) for n in ("appointment", "officer", "authority"))
    officer = payload.get("officer") or {}
    practitioner: dict[str, Any] = {"resourceType": "Practitioner", "id": officer_id,
                                    "name": [{"text": officer.get("name", "Housing officer")}]}  # fmt: skip
    telecom = [{"system": s, "value": officer[s], "use": "work"} for s in ("phone", "email") if officer.get(s)]
    if telecom:
        practitioner["telecom"] = telecom
    organization: dict[str, Any] = {
        "resourceType": "Organization",
        "id": authority_id,
        "identifier": [{"system": codes.ID_GSS, "value": payload.get("authority_gss", "")}],
    }
    if officer.get("organisation"):
        organization["name"] = officer["organisation"]
    status = payload.get("status", "offered")
    appointment: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": appointment_id,
        "extension": [{"url": codes.EXT_APPOINTMENT_STATUS, "valueCode": status}],
        "identifier": [{"system": codes.ID_CASE_REF, "value": payload.get("case_ref", "")}],
        "status": _APPOINTMENT_STATUS.get(status, "proposed"),
    }
    if payload.get("mode"):
        appointment["extension"].append({"url": codes.EXT_APPOINTMENT_MODE, "valueCode": payload["mode"]})
    if _APPOINTMENT_STATUS.get(status) == "cancelled":
        appointment["cancelationReason"] = {"text": status.replace("_", " ")}
    appointment["description"] = "Housing options appointment" + (f" ({payload['mode'].replace('_', ' ')})"
                                                                  if payload.get("mode") else "")  # fmt: skip
    if payload.get("start"):
        start = datetime.fromisoformat(payload["start"].replace("Z", "+00:00"))
        appointment["start"] = payload["start"]
        end = start + timedelta(minutes=minutes)
        appointment["end"] = end.isoformat(timespec="seconds").replace("+00:00", "Z")
        appointment["minutesDuration"] = minutes
    if payload.get("location"):
        appointment["comment"] = payload["location"]
    appointment["participant"] = [
        {"actor": {"reference": f"urn:uuid:{officer_id}", "display": officer.get("name", "Housing officer")},
         "required": "required", "status": "accepted"},
        {"actor": {"reference": f"urn:uuid:{authority_id}"}, "required": "information-only", "status": "accepted"},
    ]  # fmt: skip
    header = _header(message, partner, "housing-appointment", "Housing appointment",
                     extension=_correlation(message),
                     focus=[{"reference": f"urn:uuid:{appointment_id}"}])  # fmt: skip
    return _bundle(message, [header, appointment, practitioner, organization])
