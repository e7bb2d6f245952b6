"""HL7 v2 acknowledgements (original mode), each in the form of the version it answers.

Contract: ``build_ack(original, code, text, problems, warnings=...)`` returns the
bytes of an ACK answering ``original`` (or the best ACK that can be made when
not even its MSH could be read). ``ack_for_error(original, error)`` chooses the
code for a hub error: ``AE`` when the message was read but its content is wrong
(fix and resend), ``AR`` when it was refused outright (unsupported type, unknown
sender, unreadable, too large, or the hub could not store it - resend later).

The form follows MSH-12 of the original (v2.4 when it cannot be read):

- MSH-9 is ``ACK`` with the original's trigger event (v2.2 on) and the message
  structure ``ACK`` (v2.3.1 on); MSA-2 is the original's control id whenever
  its MSH could be read, else ``UNKNOWN`` (MSA-2 is required);
- up to v2.4 there is at most one ERR, with ERR-1 only, repeated for each
  problem (``segment^sequence^field^code&text&HL70357``) and MSA-3 names the
  first; warnings have no place there, so an AA lists their locations in MSA-3;
- from v2.5 there is one ERR per problem or warning: ERR-2 location, ERR-3
  condition (HL7 table 0357), ERR-4 severity (``E`` error, ``W`` warning),
  ERR-7 the full reason and ERR-8 the reason cut to 80 characters;
- from v2.7 MSA-3 is withdrawn and ERR-1 with it.

Texts carry locations and reasons, never the values from the message.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from hub import InvalidMessage, Problem
from hub_nhs.hl7v2.conditions import (
    APPLICATION_INTERNAL_ERROR,
    DUPLICATE_KEY_IDENTIFIER,
    SEGMENT_SEQUENCE_ERROR,
    TABLE_0357,
    Hl7Problem,
    condition_of,
)
from hub_nhs.hl7v2.datatypes import hl7_timestamp
from hub_nhs.hl7v2.parser import DEFAULT_DELIMITERS, Delimiters, Hl7Message, escape

MAX_PROBLEMS = 20
SHORT_TEXT = 80  # MSA-3 (ST) and ERR-8 (TX) in the versions that have them
LONG_TEXT = 2048  # ERR-7 (TX)
HUB_APPLICATION = "PARTNER-HUB"
DEFAULT_VERSION = "2.4"
UNKNOWN_CONTROL_ID = "UNKNOWN"  # MSA-2 is required: this stands for a control id that could not be read
_VERSION = re.compile(r"^2\.[1-9](?:\.[1-9])?$")


def answer_version(original: Hl7Message | None) -> str:
    """The version an ACK to ``original`` is written in: its MSH-12, or v2.4 when that is unreadable."""
    raw = original.value("MSH", 12, 1) if original is not None else ""
    return raw if _VERSION.match(raw) else DEFAULT_VERSION


def _at_least(version: str, *minimum: int) -> bool:
    return tuple(int(n) for n in version.split(".")) >= minimum


def ack_for_error(original: Hl7Message | None, error: Exception, *, hub_facility: str = "HUB") -> bytes:
    """The ACK that reports ``error`` (a HubError, or anything else as a hub failure)."""
    problems = list(getattr(error, "problems", []) or [])
    status = getattr(error, "status", 0)
    detail = getattr(error, "detail", None) or "The hub could not store the message; resend it later."
    code = "AE" if isinstance(error, InvalidMessage) or status == 409 else "AR"
    if status == 409:
        condition = DUPLICATE_KEY_IDENTIFIER
    elif status == 400:
        condition = SEGMENT_SEQUENCE_ERROR  # unreadable: the segments are not what an HL7 v2 message is
    else:
        condition = APPLICATION_INTERNAL_ERROR
    return build_ack(original, code, detail, problems, condition=condition, hub_facility=hub_facility)


def build_ack(
    original: Hl7Message | None,
    code: str,
    text: str = "",
    problems: list[Problem] | None = None,
    *,
    warnings: list[Problem] | tuple[Problem, ...] = (),
    condition: str = APPLICATION_INTERNAL_ERROR,
    hub_facility: str = "HUB",
) -> bytes:
    """An ACK with MSA-1 ``code`` (AA/AE/AR) reporting ``problems`` (errors) and ``warnings``.

    ``condition`` is the table 0357 code of a refusal that lists no problem of its own.
    """
    d = original.delimiters if original is not None else DEFAULT_DELIMITERS
    version = answer_version(original)
    errors = list(problems or [])[:MAX_PROBLEMS]
    if code != "AA" and not errors:
        errors = [Hl7Problem("", text or TABLE_0357[condition], condition)]
    noted = list(warnings)[: MAX_PROBLEMS - len(errors)] if code == "AA" else []
    segments = [_msh(original, d, version, hub_facility), _msa(original, d, version, code, text, errors, noted)]
    if _at_least(version, 2, 5):
        segments += [_err25(d, version, p, "E") for p in errors] + [_err25(d, version, w, "W") for w in noted]
    elif errors:
        segments.append(f"ERR{d.field}" + d.repetition.join(_eld(d, p) for p in errors))
    return ("\r".join(segments) + "\r").encode("utf-8")


def _msh(original: Hl7Message | None, d: Delimiters, version: str, hub_facility: str) -> str:
    def v(number: int) -> str:
        return escape(original.value("MSH", number, 1), d) if original is not None else ""

    trigger = escape(original.value("MSH", 9, 2), d) if original is not None else ""
    if _at_least(version, 2, 3, 1):
        message_type = d.component.join(["ACK", trigger, "ACK"])
    elif _at_least(version, 2, 2) and trigger:
        message_type = d.component.join(["ACK", trigger])
    else:
        message_type = "ACK"
    fields = ["MSH", d.encoding_characters, HUB_APPLICATION, escape(hub_facility, d), v(3), v(4),
              hl7_timestamp(datetime.now(UTC)), "", message_type, uuid.uuid4().hex[:20].upper(),
              v(11) or "P", version]  # fmt: skip
    return d.field.join(fields)


def _msa(
    original: Hl7Message | None,
    d: Delimiters,
    version: str,
    code: str,
    text: str,
    errors: list[Problem],
    warnings: list[Problem],
) -> str:
    control = escape(original.value("MSH", 10), d) if original is not None else ""
    fields = ["MSA", code, control or UNKNOWN_CONTROL_ID]
    if not _at_least(version, 2, 7):  # MSA-3 is withdrawn in v2.7
        if errors and errors[0].location:
            text = f"{errors[0].location}: {errors[0].message}"
        elif code == "AA" and warnings and not _at_least(version, 2, 5):
            text = "Accepted; not known or not read: " + ", ".join(w.location for w in warnings)
        fields.append(escape(_clip(text, SHORT_TEXT), d))
    return d.field.join(fields)


def _err25(d: Delimiters, version: str, problem: Problem, severity: str) -> str:
    """One v2.5+ ERR: ERR-2 location, ERR-3 condition, ERR-4 severity, ERR-7/8 the reason."""
    condition = condition_of(problem)
    reason = f"{problem.location}: {problem.message}" if problem.location else problem.message
    fields = ["ERR", "", _erl(problem.location, d), d.component.join([condition, TABLE_0357[condition], "HL70357"]),
              severity, "", "", escape(_clip(reason, LONG_TEXT), d), escape(_clip(reason, SHORT_TEXT), d)]  # fmt: skip
    return d.field.join(fields)


def _eld(d: Delimiters, problem: Problem) -> str:
    """One v2.4 ERR-1 repetition (ELD): segment^sequence^field^condition&text&HL70357."""
    condition = condition_of(problem)
    segment, field, _component = _split_location(problem.location)
    code = d.subcomponent.join([condition, TABLE_0357[condition], "HL70357"])
    return d.component.join([segment, "1" if segment else "", field, code])


def _erl(location: str, d: Delimiters) -> str:
    """``PID-3.1`` as an ERL (``PID^1^3^1^1``); a location that is not a field becomes empty."""
    segment, field, component = _split_location(location)
    if not segment:
        return ""
    parts = [segment, "1", *([field] if field else []), *(["1", component] if component else [])]
    return d.component.join(parts)


def _split_location(location: str) -> tuple[str, str, str]:
    """(segment, field, component) of ``PID-3.1``; empty strings for what is not there or not HL7."""
    name, _, rest = location.partition("-")
    if len(name) != 3 or not name.isalnum() or not name.isupper():
        return "", "", ""
    numbers = [n for n in rest.split(".") if n.isdigit()]
    return name, (numbers[0] if numbers else ""), (numbers[1] if len(numbers) > 1 else "")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
