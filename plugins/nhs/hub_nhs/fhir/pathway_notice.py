"""A canonical PathwayNotice (a care-pathway reminder or due notice) as a FHIR R4 message Bundle with a Communication.

The hub sends a PathwayNotice when a milestone of ``pathways.toml`` falls due soon (``reminder``) or fell due
unmet (``due``: breached). It is a notification from the hub to an organisation about its own work, so its
FHIR form is a **Communication** (event ``pathway-notice``), not a Task: the hub asks nothing new of the
partner, it tells it where a deadline stands.

- ``Communication.identifier``: the timer that fired (``<milestone_id>.remind`` / ``.due``), so a resend is
  recognised; ``status`` ``completed`` (the notice was sent);
- ``category``: hub code system ``hub-pathway-notice``, ``reminder`` or ``due``; ``priority`` ``routine`` for a
  reminder, ``urgent`` for a due notice;
- ``reasonCode``: the milestone's name (hub code system ``hub-pathway-milestone``);
- ``recipient``: the partner the notice is delivered to, ``sender`` the hub; the responsible partner and the due
  time are in the extension ``Extension-Hub-PathwayMilestone`` (``milestone``, ``milestoneId``, ``dueAt``,
  ``responsible``) and, for people, in ``payload.contentString``;
- ``MessageHeader`` extension ``Extension-Hub-Correlation``: the pathway's correlation id.

No personal data: a notice carries ids, names and times only.
"""

from __future__ import annotations

from typing import Any

from hub import Partner
from hub_nhs.fhir import codes
from hub_nhs.fhir.render import _bundle, _child_id, _correlation, _header, _party

NOTICE_DISPLAY = {"reminder": "Milestone due soon", "due": "Milestone breached (due without the closing message)"}


def _text(payload: dict[str, Any]) -> str:
    if payload["notice"] == "reminder":
        return f"Reminder: milestone {payload['milestone']} for {payload['responsible']} is due at {payload['due_at']}."
    return (f"Breached: milestone {payload['milestone']} for {payload['responsible']} fell due at "
            f"{payload['due_at']} without the message that meets it.")  # fmt: skip


def notice_bundle(message: dict[str, Any], *, partner: Partner) -> dict[str, Any]:
    """A FHIR message (event ``pathway-notice``) with a Communication for a PathwayNotice delivered to ``partner``."""
    payload = message["payload"]
    notice = payload["notice"]
    communication_id = _child_id(message["message_id"], "communication")
    milestone = {"url": codes.EXT_PATHWAY_MILESTONE, "extension": [
        {"url": "milestone", "valueString": payload["milestone"]},
        {"url": "milestoneId", "valueString": payload["milestone_id"]},
        {"url": "dueAt", "valueDateTime": payload["due_at"]},
        {"url": "responsible", "valueString": payload["responsible"]},
    ]}  # fmt: skip
    category = {"system": codes.CS_PATHWAY_NOTICE, "code": notice, "display": NOTICE_DISPLAY[notice]}
    communication: dict[str, Any] = {
        "resourceType": "Communication",
        "id": communication_id,
        "extension": [milestone],
        "identifier": [{"system": codes.ID_PATHWAY_TIMER, "value": payload["timer_id"]}],
        "status": "completed",
        "category": [{"coding": [category]}],
        "priority": "routine" if notice == "reminder" else "urgent",
        "sent": message["created_at"],
        "recipient": [{**_party(partner.party()), "display": partner.name}],
        "sender": _party(message["sender"]),
        "reasonCode": [{"coding": [{"system": codes.CS_PATHWAY_MILESTONE, "code": payload["milestone"]}]}],
        "payload": [{"contentString": _text(payload)}],
    }
    header = _header(message, partner, "pathway-notice", "Care pathway notice", extension=_correlation(message),
                     focus=[{"reference": f"urn:uuid:{communication_id}"}])  # fmt: skip
    return _bundle(message, [header, communication])
