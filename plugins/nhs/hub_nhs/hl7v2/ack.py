"""HL7 v2 acknowledgements (original mode): AA, AE and AR with MSA and ERR segments.

Contract: ``build_ack(original, code, text, problems)`` returns the bytes of an
ACK answering ``original`` (or a best-effort ACK when the original could not be
read at all). ``ack_for_error(original, error)`` chooses the code for a hub
error: ``AE`` when the message was read but its content is wrong (fix and
resend), ``AR`` when it was refused outright (unsupported type, unknown
sender, unreadable, too large, or the hub could not store it - resend later).
Texts carry locations and reasons, never the values from the message.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hub import InvalidMessage, Problem
from hub_nhs.hl7v2.datatypes import hl7_timestamp
from hub_nhs.hl7v2.parser import DEFAULT_DELIMITERS, Hl7Message, escape

MAX_ERR_SEGMENTS = 20
MAX_TEXT = 200
HUB_APPLICATION = "PARTNER-HUB"

# HL7 table 0357 (message error condition codes).
ERROR_CODES = {"AE": ("207", "Application internal error"), "AR": ("200", "Unsupported message type")}


def error_code_for(code: str, location: str) -> tuple[str, str]:
    """The table 0357 code for one problem: 101 required field missing, 102 data type error, else 207."""
    if code == "AE":
        return ("102", "Data type error") if "-" in location else ("100", "Segment sequence error")
    return ("207", "Application internal error")


def ack_for_error(original: Hl7Message | None, error: Exception, *, hub_facility: str = "HUB") -> bytes:
    """The ACK that reports ``error`` (a HubError, or anything else as a hub failure)."""
    problems = list(getattr(error, "problems", []) or [])
    detail = getattr(error, "detail", None) or "The hub could not store the message; resend it later."
    code = "AE" if isinstance(error, InvalidMessage) or getattr(error, "status", 0) == 409 else "AR"
    return build_ack(original, code, detail, problems, hub_facility=hub_facility)


def build_ack(
    original: Hl7Message | None,
    code: str,
    text: str = "",
    problems: list[Problem] | None = None,
    *,
    hub_facility: str = "HUB",
) -> bytes:
    """An ACK with MSA-1 ``code`` (AA/AE/AR), MSA-3 ``text`` and one ERR per problem."""
    d = original.delimiters if original is not None else DEFAULT_DELIMITERS
    f = d.field

    def v(segment: str, number: int, component: int = 1) -> str:
        return escape(original.value(segment, number, component), d) if original is not None else ""

    trigger = v("MSH", 9, 2)
    version = v("MSH", 12) or "2.4"
    msh = f.join(["MSH", d.encoding_characters, HUB_APPLICATION, escape(hub_facility, d), v("MSH", 3), v("MSH", 4),
                  hl7_timestamp(datetime.now(UTC)), "", f"ACK{d.component}{trigger}{d.component}ACK" if trigger
                  else "ACK", uuid.uuid4().hex[:20].upper(), v("MSH", 11) or "P", version])  # fmt: skip
    msa = f.join(["MSA", code, v("MSH", 10), escape(text[:MAX_TEXT], d)])
    segments = [msh, msa]
    if code != "AA":
        listed = (problems or [Problem("MSH", text)])[:MAX_ERR_SEGMENTS]
        for problem in listed:
            number, name = error_code_for(code, problem.location) if problems else ERROR_CODES[code]
            location = _location(problem.location, d.component)
            message = escape(f"{problem.location}: {problem.message}"[:MAX_TEXT], d)
            err = f.join(["ERR", "", location, d.component.join([number, name, "HL70357"]), "E", "", "", "", message])
            segments.append(err)
    return ("\r".join(segments) + "\r").encode("utf-8")


def _location(location: str, component: str) -> str:
    """``PID-3.1`` as an ERL (``PID^1^3^1^1``); anything else becomes empty."""
    name, _, rest = location.partition("-")
    if len(name) != 3 or not name.isalnum() or not name.isupper():
        return ""
    numbers = [n for n in rest.split(".") if n.isdigit()]
    parts = [name, "1", *numbers[:1], *(["1", numbers[1]] if len(numbers) > 1 else [])]
    return component.join(parts)
