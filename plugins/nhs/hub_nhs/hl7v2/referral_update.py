"""A canonical ReferralUpdate (a step of a referral's offer chain) written as an HL7 v2.4 ORM^O01 status change.

The referrer's referral is the order; each step the hub tells the referrer is an unsolicited change of that
order's status, which HL7 v2 sends as an ORM^O01 whose ORC-1 order control is ``SC`` (status changed). Chapter 11's
referral response, RRI^I12, would be the closer name, but it requires a PID with the patient's identifiers and
name and a PRD: a ReferralUpdate names no person (by design: docs/partners/hostels.md), so an RRI^I12 could only
be sent with invented or added personal data. ORM^O01's patient group is optional.

- MSH as in the hub's ADT^A03 (``render``): MSH-6 the referrer's ODS code, MSH-7 the update's ``created_at``
  (a retry renders the same bytes), MSH-10 the update's message id (hex, first 20 characters);
- ORC-1 ``SC``; ORC-2 the placer order number: the message id of the referrer's Referral, whole (``EI``:
  ``id^PARTNER-HUB``), even where it is longer than v2.4's 22 characters (a shortened id could name another
  referral; ``Rendered.notes`` says so); ORC-5 the order status (HL7 table 0038, ``ORDER_STATUS``): ``IP`` while
  services are offered and after a decline, a lapsed or a withdrawn offer, ``HD`` while a service asks for more
  information or the referral waits for a navigator, ``SC`` once a service accepted (a place is held for the
  person), ``CM`` once the person is placed, ``CA`` once a navigator closed the referral without a place;
  ORC-9 when the step happened; ORC-16 (order control code reason) a
  decline's reason category (coding system ``99HDR``), why the referral waits (``99HNQ``) or why a navigator
  closed it (``99HCR``); ORC-25 (order status
  modifier) the step exactly (coding system ``99HRS``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub_nhs.hl7v2.datatypes import hl7_timestamp
from hub_nhs.hl7v2.parser import escape
from hub_nhs.hl7v2.render import VERSION, _fields, _ts
from hub_nhs.referral_steps import CLOSE_REASONS, DECLINE_REASONS, WAITING_REASONS

PLACER_ORDER_LENGTH = 22  # ORC-2 in v2.4
ORDER_STATUS = {"offered": "IP", "info_requested": "HD", "accepted": "SC", "declined": "IP", "expired": "IP",
                "waiting_for_navigator": "HD", "placed": "CM", "withdrawn": "IP", "closed": "CA"}  # fmt: skip
"""Canonical step -> ORC-5 (HL7 table 0038)."""
STEP_DISPLAY = {"offered": "Offered to a service", "info_requested": "Service asked for more information",
                "accepted": "Accepted by a service", "declined": "Declined by a service",
                "expired": "Offer lapsed unanswered", "waiting_for_navigator": "Waiting for a navigator",
                "placed": "Placed", "withdrawn": "Offer withdrawn",
                "closed": "Closed by a navigator"}  # fmt: skip


def render_referral_update(
    message: dict[str, Any], *, receiving_facility: str, now: datetime
) -> tuple[bytes, list[str]]:
    """The ORM^O01 for a ReferralUpdate and notes (ORC-2 longer than v2.4 allows)."""
    e = escape
    payload = message["payload"]
    step = payload["step"]
    referral = payload["referral_message_id"]
    notes = []
    if len(referral) + len("^PARTNER-HUB") > PLACER_ORDER_LENGTH:
        notes.append(f"ORC-2 is longer than HL7 v{VERSION}'s {PLACER_ORDER_LENGTH} characters: the referral's "
                     "message id is kept whole")  # fmt: skip
    orc = {1: "SC", 2: f"{e(referral)}^PARTNER-HUB", 5: ORDER_STATUS[step], 9: _ts(payload["at"]),
           25: f"{step}^{STEP_DISPLAY[step]}^99HRS"}  # fmt: skip
    if payload.get("reason_code"):
        orc[16] = f"{payload['reason_code']}^{DECLINE_REASONS[payload['reason_code']]}^99HDR"
    elif payload.get("waiting_because"):
        orc[16] = f"{payload['waiting_because']}^{WAITING_REASONS[payload['waiting_because']]}^99HNQ"
    elif payload.get("closed_because"):
        orc[16] = f"{payload['closed_because']}^{CLOSE_REASONS[payload['closed_because']]}^99HCR"
    msh = {1: "^~\\&", 2: "PARTNER-HUB", 5: e(receiving_facility), 6: hl7_timestamp(now), 8: "ORM^O01^ORM_O01",
           9: e(message["message_id"].replace("-", "")[:20]), 10: "P", 11: VERSION}  # fmt: skip
    head = "MSH|" + "|".join(msh.get(n, "") for n in range(1, max(msh) + 1))
    return ("\r".join([head, _fields("ORC", orc)]) + "\r").encode("utf-8"), notes
