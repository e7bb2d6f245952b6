"""Messages and XML documents for the council tests."""

from __future__ import annotations

import uuid
from typing import Any

from hub.testing.messages import discharge_notice

NS = "https://hub.invalid/schemas/council/1"


def notice_by_postcode(postcode: str, sender: str = "trust-a") -> dict[str, Any]:
    """A DischargeNotice with no chosen authority and an address with ``postcode``; only the Duty to Refer route."""
    notice = _plain_notice(sender)
    del notice["payload"]["housing"]["chosen_authority_gss"]
    notice["payload"]["person"]["address"] = {"lines": ["Flat 2", "1 Example Street"], "postcode": postcode}
    return notice


def _plain_notice(sender: str) -> dict[str, Any]:
    notice = discharge_notice(sender)
    notice["payload"].pop("support", None)
    notice["payload"].pop("employment", None)
    return notice


def notice_for(authority: str, sender: str = "trust-a") -> dict[str, Any]:
    """A DischargeNotice whose person chose ``authority``; only the Duty to Refer route applies."""
    notice = _plain_notice(sender)
    notice["payload"]["housing"]["chosen_authority_gss"] = authority
    return notice


def appointment_xml(in_reply_to: str, *, status: str = "offered", authority: str = "E06000023",
                    message_id: str | None = None, extra: str = "") -> bytes:  # fmt: skip
    """A HousingAppointment document as a council would post it."""
    timed = "<Start>2026-11-26T10:30:00Z</Start><Mode>phone</Mode>" if status in (
        "offered", "confirmed", "rescheduled") else ""  # fmt: skip
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<HousingAppointment xmlns="{NS}" version="1">
  <MessageId>{message_id or uuid.uuid4()}</MessageId>
  <InReplyTo>{in_reply_to}</InReplyTo>
  <CreatedAt>2026-11-25T14:10:00Z</CreatedAt>
  <Authority gss="{authority}"/>
  <CaseRef>HOM/2026/04567</CaseRef>
  <Status>{status}</Status>
  {timed}{extra}
  <Officer><Name>Pat Officer</Name><Role>Housing Options Officer</Role><Phone>0117 500600</Phone></Officer>
</HousingAppointment>
""".encode()


def json_appointment(sender: str, gss: str, in_reply_to: str, status: str = "offered") -> dict[str, Any]:
    """A canonical HousingAppointment from council ``sender``."""
    from hub.testing.messages import example

    message = example("housing-appointment", sender={"org_id": sender, "gss_code": gss}, in_reply_to=in_reply_to)
    message.pop("recipient", None)
    message["payload"]["authority_gss"] = gss
    message["payload"]["status"] = status
    if status not in ("offered", "confirmed", "rescheduled"):
        for key in ("start", "mode", "location"):
            message["payload"].pop(key, None)
    return message


def status_xml(in_reply_to: str, status: str, status_at: str, *, authority: str = "E06000023",
               message_id: str | None = None, extra: str = "") -> bytes:  # fmt: skip
    """A HousingStatus document as a council would post it."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<HousingStatus xmlns="{NS}" version="1">
  <MessageId>{message_id or uuid.uuid4()}</MessageId>
  <InReplyTo>{in_reply_to}</InReplyTo>
  <CreatedAt>2026-11-25T14:10:00Z</CreatedAt>
  <Authority gss="{authority}"/>
  <CaseRef>HOM/2026/04567</CaseRef>
  <Status>{status}</Status>
  <StatusAt>{status_at}</StatusAt>{extra}
  <Officer><Name>Pat Officer</Name><Phone>0117 500600</Phone></Officer>
</HousingStatus>
""".encode()


def json_status(sender: str, gss: str, in_reply_to: str, status: str, status_at: str) -> dict[str, Any]:
    """A canonical HousingStatus from council ``sender``."""
    from hub.testing.messages import example

    message = example("housing-status", sender={"org_id": sender, "gss_code": gss}, in_reply_to=in_reply_to)
    message["payload"].update(authority_gss=gss, status=status, status_at=status_at)
    return message
