"""A canonical HousingStatus (a council's Duty to Refer status) as a FHIR R4 message Bundle with a Task.

The Task stands for the council's work on the Duty to Refer; the ward's system
reads where it is from three elements:

- ``Task.businessStatus``: the council's status exactly (hub code system
  ``hub-housing-status``: received, contact_made, ... closed, with a display);
- ``Task.status`` (FHIR task-status, ``TASK_STATUS``): received; in-progress
  while the council tries to reach the person; completed once it has decided
  (a duty owed, not eligible, not homeless) or closed the case; failed when it
  closed for no contact; cancelled when the person withdrew;
- ``Task.statusReason``: why, for the statuses that end or stall the work
  (contact failed, not eligible, not homeless, no contact, withdrawn): the
  council's note, else the status's display.

``Task.lastModified`` is the council's own ``status_at``: the ward orders a
referral's statuses by it (the latest is current), whatever order they arrive in.
``Task.basedOn`` names the Duty to Refer (the HousingRequest's message id),
``Task.identifier`` the council's case reference, ``Task.owner`` the housing
authority (Organization, by GSS code); the housing officer, when given, is the
MessageHeader's ``author`` (Practitioner). Contact attempts are a ``Task.output``.
"""

from __future__ import annotations

from typing import Any

from hub import Partner
from hub_nhs.fhir import codes
from hub_nhs.fhir.render import _bundle, _child_id, _correlation, _header, _is_uuid

DISPLAY = {
    "received": "Referral received",
    "contact_made": "Contact made",
    "contact_failed": "Contact attempt failed",
    "prevention_duty": "Owed the prevention duty",
    "relief_duty": "Owed the relief duty",
    "not_eligible": "Not eligible for assistance",
    "not_homeless": "Not homeless or threatened with homelessness",
    "no_contact": "Closed: no contact after attempts",
    "withdrawn": "Withdrawn",
    "closed": "Closed",
}
TASK_STATUS = {
    "received": "received",
    "contact_made": "in-progress",
    "contact_failed": "in-progress",
    "prevention_duty": "completed",
    "relief_duty": "completed",
    "not_eligible": "completed",
    "not_homeless": "completed",
    "no_contact": "failed",
    "withdrawn": "cancelled",
    "closed": "completed",
}
"""Canonical status -> FHIR R4 task-status (required binding)."""
WITH_REASON = frozenset({"contact_failed", "not_eligible", "not_homeless", "no_contact", "withdrawn"})


def _referral(in_reply_to: str) -> dict[str, Any]:
    """A Reference to the Duty to Refer by its message id (a URN when it is a UUID)."""
    if _is_uuid(in_reply_to):
        identifier = {"system": codes.RFC3986, "value": f"urn:uuid:{in_reply_to}"}
    else:
        identifier = {"system": codes.ID_MESSAGE, "value": in_reply_to}
    return {"identifier": identifier, "display": "Duty to Refer (Homelessness Reduction Act 2017 s.213B)"}


def status_bundle(message: dict[str, Any], *, partner: Partner) -> dict[str, Any]:
    """A FHIR message (event ``housing-status``) with a Task for a canonical HousingStatus delivered to ``partner``."""
    payload = message["payload"]
    mid = message["message_id"]
    status = payload["status"]
    task_id, authority_id, officer_id = (_child_id(mid, n) for n in ("task", "authority", "officer"))
    coding = {"system": codes.CS_HOUSING_STATUS, "code": status, "display": DISPLAY[status]}
    task: dict[str, Any] = {"resourceType": "Task", "id": task_id}
    if payload.get("case_ref"):
        task["identifier"] = [{"system": codes.ID_CASE_REF, "value": payload["case_ref"]}]
    if message.get("in_reply_to"):
        task["basedOn"] = [_referral(message["in_reply_to"])]
    task["status"] = TASK_STATUS[status]
    if status in WITH_REASON:
        task["statusReason"] = {"coding": [coding], "text": payload.get("note") or DISPLAY[status]}
    task["businessStatus"] = {"coding": [coding], "text": DISPLAY[status]}
    task["intent"] = "order"
    task["code"] = {"coding": [{"system": codes.CS_MESSAGE_EVENT, "code": "duty-to-refer",
                                "display": "Duty to Refer"}]}  # fmt: skip
    task["description"] = f"Duty to Refer: {DISPLAY[status].lower()}"
    task["lastModified"] = payload["status_at"]
    task["owner"] = {"reference": f"urn:uuid:{authority_id}"}
    if payload.get("note"):
        task["note"] = [{"text": payload["note"]}]
    if payload.get("attempts"):
        task["output"] = [{"type": {"text": "contact attempts"}, "valueUnsignedInt": payload["attempts"]}]
    officer = payload.get("officer") or {}
    organization: dict[str, Any] = {
        "resourceType": "Organization",
        "id": authority_id,
        "identifier": [{"system": codes.ID_GSS, "value": payload["authority_gss"]}],
    }
    if officer.get("organisation"):
        organization["name"] = officer["organisation"]
    resources = [task, organization]
    author = None
    if officer.get("name"):
        practitioner: dict[str, Any] = {"resourceType": "Practitioner", "id": officer_id,
                                        "name": [{"text": officer["name"]}]}  # fmt: skip
        telecom = [{"system": s, "value": officer[s], "use": "work"} for s in ("phone", "email") if officer.get(s)]
        if telecom:
            practitioner["telecom"] = telecom
        resources.append(practitioner)
        author = {"reference": f"urn:uuid:{officer_id}", "display": officer["name"]}
    header = _header(message, partner, "housing-status", "Duty to Refer status", extension=_correlation(message),
                     author=author, focus=[{"reference": f"urn:uuid:{task_id}"}])  # fmt: skip
    return _bundle(message, [header, *resources])
