"""Intake: from a request body to a committed message, in one direction.

``parse`` picks the adapter by media type and turns bytes into canonical
messages; ``submit`` validates one message, resolves what it answers, plans its
routes and commits everything before returning. Transports (HTTP, MLLP, MESH,
...) all come through here, so the promise "acknowledged only after commit"
holds for every one of them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from hub.plugin_api.events import HubEvent
from hub.plugin_api.problems import InvalidMessage, Problem, UnparseableInput, UnsupportedMediaType, read_each
from hub.plugin_api.records import Parsed, as_parsed
from hub.router import Router
from hub.routes import field_value
from hub.sealing import SEALED_MEDIA_TYPES

if TYPE_CHECKING:
    from hub.canonical import CanonicalValidator
    from hub.metrics import Metrics
    from hub.plugins import HubPlugins
    from hub.sealing import EnvelopeGate
    from hub.store.ports import Store

log = logging.getLogger("hub.intake")

ACK_ACCEPTING_STATUSES = ("received", "accepted")


@dataclass
class Accepted:
    """What the sender is told once the message is committed."""

    id: str
    duplicate: bool
    notes: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON body of a 202."""
        out: dict[str, Any] = {"id": self.id, "status": "accepted", "duplicate": self.duplicate}
        if self.notes:
            out["notes"] = self.notes
        return out


def body_keys(idempotency_key: str | None, count: int) -> list[str | None]:
    """The idempotency key of each of the ``count`` messages of one body sent under ``idempotency_key``.

    A body of one message keeps the transport's key as it is (so keys stored before
    bodies of several messages were split stay valid); the n-th of several gets
    ``<key>#<n>``, n from 1. Without a key, every message has none.
    """
    if idempotency_key is None:
        return [None] * count
    if count == 1:
        return [idempotency_key]
    return [f"{idempotency_key}#{n}" for n in range(1, count + 1)]


class IntakeService:
    """Validates, routes and durably stores inbound messages."""

    def __init__(
        self,
        plugins: HubPlugins,
        validator: CanonicalValidator,
        router: Router,
        store: Store,
        metrics: Metrics,
        gate: EnvelopeGate | None = None,
    ) -> None:
        self.gate = gate
        self.plugins = plugins
        self.validator = validator
        self.router = router
        self.store = store
        self.metrics = metrics
        self.on_commit: list[Callable[[], None]] = []

    def parse(self, body: bytes, content_type: str, sender_id: str) -> list[Parsed]:
        """Turn a body into canonical messages (with the adapter's warnings) using the adapter for ``content_type``.

        A sealed envelope (``application/jose``) is verified against the sender's
        registered key and decrypted first; the message inside must be the one the
        envelope names. A partner with envelope keys may send nothing else.
        """
        media_type = content_type.split(";", 1)[0].strip().lower()
        partner = self.gate.partners.get(sender_id) if self.gate is not None else None
        if self.gate is not None and partner is not None:
            if media_type in SEALED_MEDIA_TYPES:
                payload, metadata = self.gate.open_inbound(body, media_type, partner)
                inner = self.plugins.adapter_for(partner.adapter)
                if not inner.content_types:  # a render-only adapter: the partner seals the hub's own format
                    inner = self.plugins.default_adapter
                messages = [as_parsed(m) for m in inner.parse(payload, content_type=inner.content_types[0],
                                                              sender_id=sender_id)]  # fmt: skip
                for parsed in messages:
                    self.gate.check_binding(parsed.message, metadata)
                return messages
            self.gate.refuse_unsealed(media_type, partner)
        adapter = self.plugins.adapter_for_content_type(media_type)
        if adapter is None:
            known = sorted({t for a in self.plugins.adapters.values() for t in a.content_types})
            raise UnsupportedMediaType(
                f"No adapter reads {media_type or 'a body without Content-Type'}; this hub reads {', '.join(known)}."
            )
        return [as_parsed(m) for m in adapter.parse(body, content_type=media_type, sender_id=sender_id)]

    async def submit_body(
        self, body: bytes, *, content_type: str, sender_id: str, idempotency_key: str | None = None
    ) -> list[Accepted]:
        """Parse a body and commit every message in it as ``sender_id``, as one unit; for listeners (MLLP, MESH, ...).

        Every message is checked and routed before anything is stored, and all are
        committed in one store transaction: the body is accepted whole, or refused
        whole with nothing stored. Each message has its own idempotency key derived
        from ``idempotency_key`` (see ``body_keys``), so a repeat of the body is
        answered, message by message, as duplicates of what the first one stored.
        """
        if self.gate is not None and self.gate.partners.get(sender_id) is None:
            raise UnparseableInput(f"{sender_id!r} is not a partner of this hub.")
        messages = self.parse(body, content_type, sender_id)
        if not messages:
            raise UnparseableInput("The body holds no message.")
        read_each(messages, lambda parsed: self.check(parsed.message, sender_id))
        keys = body_keys(idempotency_key, len(messages))
        plans = read_each(
            range(len(messages)), lambda n: self._plan(messages[n].message, sender_id, keys[n], messages[n].warnings)
        )
        results = await self.store.accept_all([intake for intake, _ in plans])
        return [
            self._after_commit(parsed.message, result, notes, parsed.warnings)
            for parsed, (_, notes), result in zip(messages, plans, results, strict=True)
        ]

    async def record_refusal(self, *, listener: str, reference: str, source: str, error: Exception,
                             **context: str) -> HubEvent:  # fmt: skip
        """Commit to the audit log that ``listener`` refused a whole transmission it will now let go of.

        For transports with nobody to answer (MESH: the message is acknowledged so it does
        not block the inbox). ``reference`` is the transport's id of it, ``source`` where it
        came from (a mailbox, an address), ``context`` other transport codes (a workflow).
        The event holds the reason and the locations of the problems, never a value from the
        body; ``hub dlq list`` shows it. Returns once it is committed.
        """
        problems = getattr(error, "problems", None) or []
        detail: dict[str, Any] = {
            "listener": listener, "reference": reference, "from": source, **context,
            "status": int(getattr(error, "status", 500)), "error": type(error).__name__,
            "reason": str(getattr(error, "detail", "")), "problems": [p.location for p in problems],
        }  # fmt: skip
        event = HubEvent("transmission_refused", "", time.time(), detail=detail, actor=listener)
        await self.store.audit_async([event])
        self.metrics.inc("hub_transmissions_refused_total", listener=listener)
        return event

    def check(self, message: dict[str, Any], sender_id: str) -> None:
        """Raise ``InvalidMessage`` listing every problem, or return if the message is valid."""
        problems = self.validator.problems(message, sender_id)
        problems += self._sender_code_problems(message, sender_id)
        if problems:
            raise InvalidMessage("The message does not meet the canonical schema or the hub's rules.", problems)

    def _sender_code_problems(self, message: dict[str, Any], sender_id: str) -> list[Problem]:
        """The codes a message gives for its sender (the registered code fields) must be the partner's own."""
        partner = self.gate.partners.get(sender_id) if self.gate is not None else None
        sender = message.get("sender") if isinstance(message, dict) else None
        if partner is None or not isinstance(sender, dict):
            return []
        problems = []
        for code_field in self.plugins.vocabulary.code_fields:
            claimed = sender.get(code_field)
            if claimed is None:
                continue
            registered = partner.codes.get(code_field)
            if registered is None:
                problems.append(Problem(f"$.sender.{code_field}", f"no {code_field} is registered for {sender_id}"))
            elif str(claimed).upper() != registered.upper():
                problems.append(
                    Problem(f"$.sender.{code_field}", f"is not the {code_field} registered for {sender_id}")
                )
        return problems

    async def submit(
        self,
        message: dict[str, Any],
        *,
        sender_id: str,
        idempotency_key: str | None = None,
        warnings: tuple[Problem, ...] | list[Problem] = (),
    ) -> Accepted:
        """Validate, route and commit one canonical message; return after the commit.

        ``warnings`` are what the adapter assumed while reading it; they come back in the answer
        and are recorded as ``warning`` events on the message's timeline.
        """
        self.check(message, sender_id)
        intake, notes = self._plan(message, sender_id, idempotency_key, warnings)
        result = await self.store.accept(intake)
        return self._after_commit(message, result, notes, warnings)

    def submit_now(self, message: dict[str, Any], *, sender_id: str, idempotency_key: str | None = None) -> Accepted:
        """Blocking ``submit`` for command-line tools."""
        self.check(message, sender_id)
        intake, notes = self._plan(message, sender_id, idempotency_key)
        result = self.store.accept_now(intake)
        return self._after_commit(message, result, notes)

    def _plan(
        self,
        message: dict[str, Any],
        sender_id: str,
        idempotency_key: str | None,
        warnings: tuple[Problem, ...] | list[Problem] = (),
    ) -> Any:
        reply_target = None
        in_reply_to = message.get("in_reply_to")
        if in_reply_to:
            reply_target = self._reply_target(message, in_reply_to, sender_id)
        plan = self.router.plan(
            message,
            sender=sender_id,
            body=orjson.dumps(message),
            idempotency_key=idempotency_key,
            reply_target=reply_target,
            warnings=warnings,
        )
        if reply_target is not None and message["type"] == "Acknowledgement":
            status = message["payload"]["status"]
            state = "acknowledged" if status in ACK_ACCEPTING_STATUSES else "rejected"
            plan.intake.acknowledges = (reply_target.delivery_id, state, plan.intake.messages[0].id)
        elif reply_target is not None:
            plan.intake.events.append(self._answered(message, reply_target, plan.intake.messages[0]))
        return plan.intake, plan.notes

    def _answered(self, message: dict[str, Any], target: Any, stored: Any) -> HubEvent:
        """The ``answered`` event on the timeline of the message a reply answers (not an Acknowledgement: those
        mark its delivery acknowledged or rejected): which stored message answered it, its type, and, for a type
        that declares a business status (``MessageType.status``), the status code and the sender's time for it,
        the two values already kept in clear beside the reply."""
        detail: dict[str, Any] = {"answer": stored.id, "type": message["type"]}
        declared = self.plugins.message_types.get(message["type"])
        if declared is not None and declared.status is not None:
            code, at = (field_value(message, path) for path in declared.status)
            detail.update({"status": code, "status_at": at})
        return HubEvent("answered", target.record_id, stored.received_at, target.delivery_id, stored.sender, detail)

    def _reply_target(self, message: dict[str, Any], in_reply_to: str, sender_id: str) -> Any:
        """The one message this reply answers; refuse a reply to nothing, or one that could answer two senders."""
        targets = self.store.find_reply_targets(in_reply_to, sender_id)
        recipient = message.get("recipient", {}).get("org_id") if isinstance(message.get("recipient"), dict) else None
        if recipient:
            targets = [t for t in targets if t.sender == recipient]
        declared = self.plugins.message_types.get(message.get("type", ""))
        answers = declared.answers if declared is not None else ()
        if answers:  # the type answers only these (a HousingStatus answers a HousingRequest)
            targets = [t for t in targets if t.type in answers]
        if not targets:
            what = " or ".join(answers) if answers else "message"
            raise InvalidMessage(
                "The message answers something the hub never delivered to you.",
                [Problem("$.in_reply_to", f"is not the message_id of a {what} delivered to you"
                         + (" by that recipient" if recipient else "") + "; check the id you are answering")],
            )  # fmt: skip
        if len({t.sender for t in targets}) > 1:
            raise InvalidMessage(
                "The message could answer messages from more than one sender.",
                [Problem("$.recipient.org_id", "required here: name the partner whose message you are answering")],
            )
        return targets[0]

    def _after_commit(
        self, message: dict[str, Any], result: Any, notes: list[str], warnings: tuple[Problem, ...] | list[Problem] = ()
    ) -> Accepted:
        if result.duplicate:
            self.metrics.inc("hub_messages_duplicate_total", type=message["type"])
        else:
            self.metrics.inc("hub_messages_accepted_total", type=message["type"])
            for callback in self.on_commit:
                callback()
        self.emit(result.events)
        warned = [f"warning at {w.location}: {w.message}" for w in warnings]
        return Accepted(result.id, result.duplicate, warned + ([] if result.duplicate else notes), list(warnings))

    def emit(self, events: list[HubEvent]) -> None:
        """Tell observer plugins about committed events; an observer's failure is logged naming it, not raised."""
        emit_events(self.plugins, events)


def emit_events(plugins: HubPlugins, events: list[HubEvent]) -> None:
    """Tell observer plugins (``hub_message_event``) about committed events; a failure is logged, not raised.

    The one place events reach observers: intake, delivery and the operator services all come here. Each
    observer is called through pluggy (so hook tracing sees it), one plugin at a time.
    """
    plugins.notify(events)
