"""Partners' synchronous answers: where a JSON reply holds a reference and a decision, and what it becomes.

Many partners answer a push with their own reference and a decision in the
response body and never call back. A partner's ``receive.reply`` table in
``partners.toml`` says where those are (JSON Pointers, RFC 6901) and which
values mean accepted or rejected; ``ReplyMapping.read`` applies it to one
answer. A reply that cannot be used never fails a delivery the partner took:
it yields warnings that name the pointer and the rule, never the answer's
content. ``acknowledgement_for`` turns a decision into the partner's canonical
Acknowledgement, which the hub then takes in like one the partner had posted.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hub.canonical import SCHEMA_VERSION
from hub.plugin_api.partner import PartnerReply, ReplyReading
from hub.plugin_api.problems import ConfigError, UnparseableInput
from hub.sections import Section
from hub.strict_json import parse_json_strict

if TYPE_CHECKING:
    from hub.plugin_api.partner import Partner

MAX_REPLY_BYTES = 64 * 1024
MAX_REFERENCE = 128
MAX_REASON = 1000
MAX_REASON_CODE = 64
# what no text field of a canonical message may hold (C0/C1 controls, non-characters, lone surrogates): a reply's
# text becomes an Acknowledgement's, which must pass the canonical text check or the decision would be lost
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
_MISSING = object()

Scalar = str | int | bool


@dataclass(frozen=True)
class JsonPointer:
    """An RFC 6901 JSON Pointer (``/case/reference``, ``/items/0/id``)."""

    text: str
    tokens: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> JsonPointer:
        """Parse ``text``; raise ValueError saying what is wrong with it."""
        if not text.startswith("/"):
            raise ValueError("must be a JSON Pointer starting with '/', such as '/case/reference' (RFC 6901)")
        if re.search(r"~(?![01])", text):
            raise ValueError("'~' in a JSON Pointer must be written '~0', and '/' inside a name '~1'")
        tokens = tuple(t.replace("~1", "/").replace("~0", "~") for t in text[1:].split("/"))
        return cls(text, tokens)

    def resolve(self, document: Any) -> Any:
        """The value the pointer names in ``document``, or ``_MISSING``."""
        current = document
        for token in self.tokens:
            if isinstance(current, dict):
                if token not in current:
                    return _MISSING
                current = current[token]
            elif isinstance(current, list):
                if not token.isdigit() or (len(token) > 1 and token.startswith("0")) or int(token) >= len(current):
                    return _MISSING
                current = current[int(token)]
            else:
                return _MISSING
        return current


def _same(value: Any, wanted: Scalar) -> bool:
    if isinstance(wanted, str):
        return isinstance(value, str) and value.strip().casefold() == wanted.strip().casefold()
    return type(value) is type(wanted) and value == wanted


def checked_receipt(value: object, where: str = "the receipt") -> tuple[str | None, str | None]:
    """Return ``(receipt, None)`` when ``value`` is a usable partner reference, else ``(None, warning)``.

    A reference is a string (or a whole number) of 1-128 characters with no
    control characters; surrounding spaces are dropped. The warning names
    ``where`` and the rule, never the value.
    """
    if value is None:
        return None, None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None, f"{where} is not a usable reference (a string or whole number); not recorded"
    value = value.strip()
    if len(value) > MAX_REFERENCE or _CONTROL.search(value):
        rule = f"1-{MAX_REFERENCE} characters, no control characters"
        return None, f"{where} is not a usable reference ({rule}); not recorded"
    return value, None


def _text(value: object, limit: int) -> str | None:
    """A reason as plain text: control characters become spaces, cut to ``limit`` characters."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    cleaned = " ".join(_CONTROL.sub(" ", value).split())
    return cleaned[:limit] or None


@dataclass(frozen=True)
class ReplyMapping:
    """Where a partner's JSON reply holds its reference and decision (``receive.reply`` in partners.toml).

    ``reference``, ``decision``, ``reason`` and ``reason_code`` are JSON
    Pointers; ``accepted`` and ``rejected`` list the decision values that mean
    each, ``received`` those that mean the partner took the item and has not decided (it asks for more, or
    decides later): strings compare without regard to case or surrounding spaces.
    """

    reference: JsonPointer | None = None
    decision: JsonPointer | None = None
    accepted: tuple[Scalar, ...] = ()
    rejected: tuple[Scalar, ...] = ()
    reason: JsonPointer | None = None
    reason_code: JsonPointer | None = None
    received: tuple[Scalar, ...] = ()

    @classmethod
    def from_section(cls, section: Section) -> ReplyMapping:
        """Build a mapping from a ``receive.reply`` table, naming file and key in any error."""
        pointers: dict[str, JsonPointer | None] = {}
        for key in ("reference", "decision", "reason", "reason_code"):
            text = section.get(key, str, None)
            try:
                pointers[key] = JsonPointer.parse(text) if text is not None else None
            except ValueError as exc:
                raise ConfigError(f"{section.where(key)}: {exc}") from None
        values: dict[str, tuple[Scalar, ...]] = {}
        for key in ("accepted", "rejected", "received"):
            raw = section.get(key, list, [])
            for item in raw:
                if not isinstance(item, str | int | bool):
                    raise ConfigError(f"{section.where(key)}: each value must be a string, number or boolean")
            values[key] = tuple(raw)
        section.finish()
        if pointers["decision"] is not None and not (values["accepted"] or values["rejected"] or values["received"]):
            raise ConfigError(
                f"{section.where('accepted')}: required with decision: the values that mean accepted "
                "(and 'rejected' for those that mean rejected)"
            )
        if pointers["decision"] is None:
            for key in ("accepted", "rejected", "received", "reason", "reason_code"):
                if values.get(key) or pointers.get(key) is not None:
                    raise ConfigError(f"{section.where(key)}: needs 'decision', the pointer to the decision")
            if pointers["reference"] is None:
                raise ConfigError(
                    f"{section.where('reference')}: required: say where the reply holds the partner's reference "
                    "('reference') or its decision ('decision', 'accepted', 'rejected')"
                )
        for key, earlier in (("rejected", ("accepted",)), ("received", ("accepted", "rejected"))):
            for other in earlier:
                both = [r for r in values[key] if any(_same(r, a) for a in values[other])]
                if both:
                    raise ConfigError(f"{section.where(key)}: {both[0]!r} is also listed in {other} (case is ignored)")
        return cls(
            pointers["reference"], pointers["decision"], values["accepted"], values["rejected"],
            pointers["reason"], pointers["reason_code"], values["received"],
        )  # fmt: skip

    def read(self, body: bytes) -> ReplyReading:
        """Apply the mapping to one answer's body; never raises for what the partner sent."""
        if not body.strip():
            return ReplyReading(warnings=["the partner's answer had no body, where a JSON reply is configured"])
        if len(body) > MAX_REPLY_BYTES:
            return ReplyReading(warnings=[f"the partner's answer is over {MAX_REPLY_BYTES // 1024} KiB; not read"])
        try:
            document = parse_json_strict(body)
        except UnparseableInput:
            return ReplyReading(warnings=["the partner's answer is not JSON (UTF-8, each member named once), "
                                          "where a JSON reply is configured"])  # fmt: skip
        warnings: list[str] = []
        receipt = None
        if self.reference is not None:
            value = self.reference.resolve(document)
            if value is _MISSING or value is None:
                warnings.append(f"the partner's answer has no reference at {self.reference.text}")
            else:
                receipt, why = checked_receipt(value, f"the reference at {self.reference.text}")
                warnings += [why] if why else []
        reply = self._decision(document, receipt, warnings) if self.decision is not None else None
        return ReplyReading(receipt, reply, warnings)

    def _decision(self, document: Any, receipt: str | None, warnings: list[str]) -> PartnerReply | None:
        assert self.decision is not None
        value = self.decision.resolve(document)
        if value is _MISSING or value is None:
            warnings.append(f"the partner's answer has no decision at {self.decision.text}")
            return None
        if any(_same(value, wanted) for wanted in self.accepted):
            status = "accepted"
        elif any(_same(value, wanted) for wanted in self.rejected):
            status = "rejected"
        elif any(_same(value, wanted) for wanted in self.received):
            status = "received"
        else:
            warnings.append(f"the decision at {self.decision.text} is none of the configured accepted, "
                            "rejected or received values; no acknowledgement recorded")  # fmt: skip
            return None
        reason = reason_code = None
        if self.reason is not None:
            raw = self.reason.resolve(document)
            reason = _text(raw, MAX_REASON)
            if reason is None and raw is not _MISSING and raw is not None:
                warnings.append(f"the reason at {self.reason.text} is not text; left out")
        if self.reason_code is not None:
            raw = self.reason_code.resolve(document)
            reason_code = _text(raw, MAX_REASON_CODE)
            if reason_code is None and raw is not _MISSING and raw is not None:
                warnings.append(f"the reason code at {self.reason_code.text} is not text; left out")
        return PartnerReply(status, receipt, reason, reason_code)


def acknowledgement_for(
    delivered: dict[str, Any], partner: Partner, reply: PartnerReply, *, now: datetime | None = None
) -> dict[str, Any]:
    """The canonical Acknowledgement (level business) ``partner`` gave ``delivered`` through ``reply``.

    It answers the delivered message (``in_reply_to`` its ``message_id``),
    names that message's sender as recipient, keeps its thread
    (``correlation_id``) and carries the partner's reference as ``receiver_ref``.
    """
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    payload: dict[str, Any] = {"level": "business", "status": reply.status, "at": at}
    reference, _ = checked_receipt(reply.reference)
    if reference is not None:
        payload["receiver_ref"] = reference
    reason = _text(reply.reason, MAX_REASON)
    if reason is not None:
        payload["reason"] = reason
    reason_code = _text(reply.reason_code, MAX_REASON_CODE)
    if reason_code is not None:
        payload["reason_code"] = reason_code
    message: dict[str, Any] = {
        "message_id": str(uuid.uuid4()),
        "type": "Acknowledgement",
        "schema_version": SCHEMA_VERSION,
        "created_at": at,
        "in_reply_to": delivered["message_id"],
        "sender": partner.party(),
    }
    if delivered.get("correlation_id"):
        message["correlation_id"] = delivered["correlation_id"]
    original_sender = delivered.get("sender", {}).get("org_id") if isinstance(delivered.get("sender"), dict) else None
    if isinstance(original_sender, str):
        message["recipient"] = {"org_id": original_sender}
    message["payload"] = payload
    return message
