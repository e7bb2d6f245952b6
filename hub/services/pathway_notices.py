"""The pathway's notices: the ``PathwayNotice`` a timer sends, to whom, and the intake that stores it.

A reminder goes to the partner responsible for the milestone; a due notice to those its spec names
(``notify_on_breach``: ``responsible``, ``starter`` or a partner id), each in its own format and transport,
sealed and minimised by the worker like every message. The message holds ids, names and times only, no personal
data; its id is derived from the timer's, so one timer's notice is stored once.

With the embedded scheduler the intake is built when the milestone opens, its deliveries scheduled until the
timer's time (``not_before``); with an external scheduler when the timer fires (``not_before`` None).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from hub.partners import PartnerDirectory
from hub.pathway.spec import MilestoneSpec
from hub.plugin_api.events import HubEvent
from hub.store.records import Intake, NewDelivery, NewMessage

log = logging.getLogger("hub.pathway")

NOTICE_TYPE = "PathwayNotice"
NOTICE_ROUTE = "pathway"
NOTICE_NAMESPACE = uuid.UUID("6f1d8a52-5c1e-4b8e-9d3f-2a7c0b9e4d11")


def recipients(spec: MilestoneSpec | None, action: str, responsible: str, starter: str | None,
               partners: PartnerDirectory) -> list[str]:  # fmt: skip
    """Who a timer's notice goes to: the responsible partner for a reminder, ``spec.notify_on_breach`` for a due
    notice (partners of this hub only, each once)."""
    if action != "due" or spec is None:
        return [responsible]
    out: list[str] = []
    for who in spec.notify_on_breach:
        partner = {"responsible": responsible, "starter": starter}.get(who, who)
        if partner and partners.get(partner) is not None and partner not in out:
            out.append(partner)
    return out


def notice_intake(timer_id: str, milestone: dict[str, Any], action: str, hub_id: str, to: list[str],
                  partners: PartnerDirectory, now: float, not_before: float | None = None) -> Intake:  # fmt: skip
    """The intake storing ``timer_id``'s notice with a delivery to each of ``to`` its agreement allows (a
    ``refused`` event for the others), due at ``not_before`` (None: at once). ``milestone`` has ``id``,
    ``name``, ``partner``, ``due_at`` and ``correlation_id``."""
    message = notice_message(timer_id, milestone, action, hub_id, now)
    body = json.dumps(message, sort_keys=True).encode()
    record_id = str(uuid.uuid4())
    intake = Intake([NewMessage(record_id, message["message_id"], hub_id, NOTICE_TYPE, body, now,
                                milestone.get("correlation_id"))])  # fmt: skip
    intake.events.append(HubEvent("received", record_id, now, detail={"type": NOTICE_TYPE, "sender": hub_id}))
    for partner_id in to:
        partner = partners.get(partner_id)
        if partner is None:  # no longer in partners.toml: the notice is stored, sent to nobody
            log.warning("pathway: notice of %s: %s is not a partner of this hub", timer_id, partner_id)
            continue
        if partner.agreement is not None and not partner.agreement.allows_type(NOTICE_TYPE):
            why = f"the data-sharing agreement with {partner_id} does not cover {NOTICE_TYPE}"
            log.warning("pathway: notice of %s not sent: %s", timer_id, why)
            intake.events.append(HubEvent("refused", record_id, now, partner=partner_id,
                                          detail={"route": NOTICE_ROUTE, "reason": why}))  # fmt: skip
            continue
        delivery = str(uuid.uuid4())
        intake.deliveries.append(NewDelivery(delivery, record_id, partner_id, NOTICE_ROUTE, partner.receive.mode,
                                             not_before=not_before))  # fmt: skip
        intake.events.append(HubEvent("routed", record_id, now, delivery, partner_id, {"route": NOTICE_ROUTE}))
    return intake


def notice_message(timer_id: str, milestone: dict[str, Any], action: str, hub_id: str, now: float) -> dict[str, Any]:
    """The canonical ``PathwayNotice`` a fired timer sends: ids, names and times only, no personal data."""
    message: dict[str, Any] = {
        "message_id": str(uuid.uuid5(NOTICE_NAMESPACE, timer_id)),
        "type": NOTICE_TYPE,
        "schema_version": "1",
        "created_at": iso(now),
        "sender": {"org_id": hub_id},
        "payload": {
            "notice": "reminder" if action == "remind" else "due",
            "milestone": milestone["name"],
            "milestone_id": milestone["id"],
            "timer_id": timer_id,
            "due_at": iso(milestone["due_at"]),
            "responsible": milestone["partner"],
        },
    }
    if milestone.get("correlation_id"):
        message["correlation_id"] = milestone["correlation_id"]
    return message


def iso(seconds: float) -> str:
    """POSIX seconds as an ISO date-time in UTC (``Z``)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
