"""The ``hl7v2`` adapter: ADT^A03 bodies (``application/hl7-v2``) in, DischargeNotice (ADT^A03) and ReferralUpdate
(ORM^O01) out.

Contract: ``parse`` returns one ``Parsed`` DischargeNotice per message in the
body, with warnings for what was absent or unrecognised and is recorded as not
known, or raises ``UnparseableInput``/``InvalidMessage`` with every problem of
every message (never any other exception); in a body of several messages each
location starts with ``message N``. ``render`` writes a DischargeNotice as an ADT^A03 with the
same segments and custom Z-segments ``parse`` reads (MSH-7 and EVN-2 are the message's ``created_at``, so
the same message renders the same bytes each time; a field shortened to its
HL7 length is named in ``Rendered.notes``, which the hub records as a warning
on the delivery, and in an ``X-Hub-Note`` header; one that cannot be shortened
raises ``RenderError``); a ReferralUpdate is an ORM^O01 status change (``referral_update``); other types go
out as canonical JSON with an ``X-Hub-Note`` saying so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from hub import Parsed, Partner, Rendered, UnparseableInput, read_each
from hub_nhs.hl7v2.adt import discharge_notice
from hub_nhs.hl7v2.parser import parse_messages
from hub_nhs.hl7v2.referral_update import render_referral_update
from hub_nhs.hl7v2.render import render_discharge

CONTENT_TYPE = "application/hl7-v2"


def _created_at(message: dict[str, Any]) -> datetime:
    """When the canonical message was created (MSH-7 and EVN-2), so a retry renders the same bytes.

    The hub validated ``created_at`` at intake; a value without an offset is taken as UTC, and one that still
    cannot be read (a message built in code, not through intake) falls back to the present moment.
    """
    try:
        moment = datetime.fromisoformat(str(message["created_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Hl7v2Adapter:
    """Parses HL7 v2 ADT^A03 into DischargeNotice and renders DischargeNotice back (and ReferralUpdate as ORM^O01)."""

    name = "hl7v2"
    content_types = (CONTENT_TYPE,)

    def parse(self, body: bytes, *, content_type: str, sender_id: str) -> list[Parsed]:
        """Every ADT^A03 in ``body`` as a canonical DischargeNotice with its warnings, or raise with every problem."""
        try:
            return read_each(parse_messages(body), lambda message: discharge_notice(message, sender_id))
        except (RecursionError, MemoryError) as error:  # pathological input must still be a refusal
            raise UnparseableInput("The HL7 v2 body could not be read.") from error

    def render(self, message: dict[str, Any], *, partner: Partner) -> Rendered:
        """A DischargeNotice as an ADT^A03 and a ReferralUpdate as an ORM^O01 for ``partner``; other types as
        canonical JSON (with a note saying so)."""
        facility = partner.codes.get("ods_code", partner.id.upper())
        if message.get("type") == "ReferralUpdate":
            body, notes = render_referral_update(message, receiving_facility=facility, now=_created_at(message))
        elif message.get("type") == "DischargeNotice":
            body, notes = render_discharge(message, receiving_facility=facility, now=_created_at(message))
        else:
            note = f"HL7 v2 ADT has no form for {message.get('type')}; sent as canonical JSON"
            return Rendered("application/json", orjson.dumps(message), {"X-Hub-Note": note}, (note,))
        return Rendered(CONTENT_TYPE, body, {"X-Hub-Note": "; ".join(notes)} if notes else {}, tuple(notes))
