"""A canonical ReferralUpdate (a step of a referral's offer chain) as a FHIR R4 message Bundle with a Task.

The hub matches a referral for accommodation and support to a service and tells the referrer each step (the
hostels plugin's ``ReferralUpdate``). In FHIR the referral is a request (``ServiceRequest``) and the work of
fulfilling it a **Task** based on it: its ``status``, ``businessStatus`` and ``statusReason`` are where FHIR
workflow puts "where the fulfilment of this request stands", and the trust's system keeps the latest Task of a
referral (by ``lastModified``) as its current state. A Communication would leave the state in free text; the
ServiceRequest's own status (draft, active, on-hold, revoked, completed) is the requester's and too coarse.

- ``Task.basedOn``: the referral, by the message id of the referrer's Referral (``referral_message_id``);
- ``Task.businessStatus``: the step exactly (hub code system ``hub-referral-step``: offered, info_requested,
  accepted, declined, expired, waiting_for_navigator, placed, withdrawn, closed, with a display);
- ``Task.status`` (FHIR task-status, ``TASK_STATUS``): in-progress while services are offered (an offer
  declined, lapsed or withdrawn moves the chain on: the referral is not rejected), on-hold while a service
  waits for more information or the referral waits for a navigator, accepted once a service accepted,
  completed once the person is placed, cancelled once a navigator closed the referral without a place;
- ``Task.statusReason``: a decline's reason category (``hub-offer-decline-reason``), why the referral waits
  (``hub-navigator-queue-reason``) or why a navigator closed it (``hub-referral-close-reason``), the only detail a
  step carries;
- ``Task.lastModified``: when the step happened; ``Task.requester`` the referrer (the partner it is delivered
  to), by ODS code.

No personal data and no service or provider: the ReferralUpdate carries none (``Task.for`` is left out: the
trust finds the person from its own referral).
"""

from __future__ import annotations

from typing import Any

from hub import Partner
from hub_nhs.fhir import codes
from hub_nhs.fhir.render import _bundle, _child_id, _correlation, _header, _is_uuid, _party
from hub_nhs.referral_steps import CLOSE_REASONS, DECLINE_REASONS, WAITING_REASONS

STEPS = {
    "offered": ("Offered to a service", "in-progress"),
    "info_requested": ("The service asked for more information", "on-hold"),
    "accepted": ("Accepted by a service", "accepted"),
    "declined": ("Declined by a service", "in-progress"),
    "expired": ("The offer lapsed unanswered", "in-progress"),
    "waiting_for_navigator": ("Waiting for a navigator", "on-hold"),
    "placed": ("Placed: the person arrived", "completed"),
    "withdrawn": ("An offer was withdrawn", "in-progress"),
    "closed": ("Closed by a navigator without a place", "cancelled"),
}
"""Canonical step -> (display, FHIR R4 task-status)."""


def referral_reference(message_id: str) -> dict[str, Any]:
    """A Reference to the referral by the message id of the referrer's Referral (a URN when it is a UUID)."""
    if _is_uuid(message_id):
        identifier = {"system": codes.RFC3986, "value": f"urn:uuid:{message_id}"}
    else:
        identifier = {"system": codes.ID_MESSAGE, "value": message_id}
    return {"type": "ServiceRequest", "identifier": identifier, "display": "Referral for accommodation and support"}


def _reason(payload: dict[str, Any]) -> dict[str, Any] | None:
    if payload.get("reason_code") in DECLINE_REASONS:
        system, code, display = codes.CS_DECLINE_REASON, payload["reason_code"], DECLINE_REASONS[payload["reason_code"]]
    elif payload.get("waiting_because") in WAITING_REASONS:
        system, code = codes.CS_NAVIGATOR_QUEUE_REASON, payload["waiting_because"]
        display = WAITING_REASONS[code]
    elif payload.get("closed_because") in CLOSE_REASONS:
        system, code = codes.CS_REFERRAL_CLOSE_REASON, payload["closed_because"]
        display = CLOSE_REASONS[code]
    else:
        return None
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def referral_update_bundle(message: dict[str, Any], *, partner: Partner) -> dict[str, Any]:
    """A FHIR message (event ``referral-update``) with a Task for a ReferralUpdate delivered to ``partner``."""
    payload = message["payload"]
    step = payload["step"]
    display, status = STEPS[step]
    task_id = _child_id(message["message_id"], "task")
    coding = {"system": codes.CS_REFERRAL_STEP, "code": step, "display": display}
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": task_id,
        "basedOn": [referral_reference(payload["referral_message_id"])],
        "status": status,
    }
    reason = _reason(payload)
    if reason is not None:
        task["statusReason"] = reason
    task.update({
        "businessStatus": {"coding": [coding], "text": display},
        "intent": "order",
        "code": {"coding": [{"system": codes.CS_MESSAGE_EVENT, "code": "support-referral",
                             "display": "Referral for accommodation and support"}]},
        "description": f"Referral for accommodation and support: {display[0].lower()}{display[1:]}",
        "lastModified": payload["at"],
        "requester": {**_party(partner.party()), "display": partner.name},
    })  # fmt: skip
    header = _header(message, partner, "referral-update", "Referral step", extension=_correlation(message),
                     focus=[{"reference": f"urn:uuid:{task_id}"}])  # fmt: skip
    return _bundle(message, [header, task])
