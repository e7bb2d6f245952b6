"""The router: turns one valid inbound message into what must be stored and delivered.

For every configured route whose type and conditions match, the router applies
the route's transform (if any), validates the derived message like any inbound
one, resolves the destinations and plans one delivery per destination partner.
It also plans the NHS-number search entries: one for the sender of each stored
message, and one for each recipient whose copy, minimised under its data-sharing
agreement, still carries the NHS number (so a partner finds a person only in
what it was given).
One inbound message can therefore fan out into several deliveries, each with its
own state and retries. The router only plans; the store commits the plan.
A delivery of a route that keeps order (``order = "correlation"``, the default) of a
message with a ``correlation_id`` gets an order key (``order_key``): the store sends
the deliveries of one key one at a time, in the order they were accepted.

A transform may refuse (for example, no consent to a Duty to Refer): that is
recorded as a ``refused`` event with the reason and reported to the sender, and
the other routes still apply. What a transform says it assumed
(``TransformContext.warnings``) is recorded as ``warning`` events and reported
to the sender the same way. A derived message that breaks the schema means
the inbound message lacked something the route needs: the inbound message is
refused (422) with the derived message's problems, so the sender can fix it.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from hub.canonical import new_message_id
from hub.minimise import minimise
from hub.plugin_api.events import HubEvent
from hub.plugin_api.problems import ConfigError, InvalidMessage, Problem
from hub.plugin_api.records import Refusal, ResolveContext, TransformContext, Unresolved
from hub.routes import Destination, Route, field_value
from hub.store.records import Intake, NewDelivery, NewMessage, ReplyTarget

if TYPE_CHECKING:
    from hub.canonical import CanonicalValidator
    from hub.partners import PartnerDirectory
    from hub.plugins import HubPlugins


def order_key(partner_id: str, correlation_id: str) -> str:
    """The key that orders ``partner_id``'s deliveries about ``correlation_id``: a SHA-256 digest (32 hex digits).

    A digest, not the two ids side by side: a fixed width for the store's index, and no second copy of
    the sender's correlation id (an opaque episode id, but chosen by the sender) in the deliveries table.
    """
    return hashlib.sha256(f"{partner_id}\x00{correlation_id}".encode()).hexdigest()[:32]


STATUS_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def clear_status(message: dict[str, Any], fields: tuple[str, str] | None) -> tuple[str | None, float | None]:
    """The business status a type declares (``MessageType.status``), as it is kept in clear: (code, epoch seconds).

    Only a code of 1-40 lower-case letters, digits or ``_`` is kept (the declared field is an
    enumeration; anything else is left out rather than written in clear), and only a time that is an
    RFC 3339 date-time with an offset. Either is None when absent or unusable.
    """
    if fields is None:
        return None, None
    code = field_value(message, fields[0])
    at = field_value(message, fields[1])
    kept = code if isinstance(code, str) and STATUS_CODE.match(code) else None
    when = None
    if isinstance(at, str):
        try:
            parsed = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            when = parsed.timestamp()
    return kept, when


@dataclass
class RoutingResult:
    """The plan for one inbound message, and notes for its sender."""

    intake: Intake
    notes: list[str] = field(default_factory=list)


class Router:
    """Plans storage and deliveries for valid canonical messages (see module docstring)."""

    def __init__(
        self,
        routes: list[Route],
        partners: PartnerDirectory,
        plugins: HubPlugins,
        validator: CanonicalValidator,
        indexer: Callable[[dict[str, Any]], str | None] | None = None,
        state_dir: Path | None = None,
        config_dir: Path | None = None,
        fingerprinter: Callable[[dict[str, Any]], str | tuple[str, ...] | None] | None = None,
    ) -> None:
        """``indexer`` gives a message's blind-index value (or None); ``fingerprinter`` its keyed fingerprint
        (or, while the fingerprint key is rotated, its fingerprints under every live key, the current one first)."""
        self.fingerprinter = fingerprinter or (lambda message: None)
        self.state_dir = state_dir
        self.config_dir = config_dir
        self.indexer = indexer or (lambda message: None)
        self.routes = routes
        self.partners = partners
        self.plugins = plugins
        self.validator = validator
        self._by_type: dict[str, list[Route]] = {}
        for route in routes:
            self._by_type.setdefault(route.type, []).append(route)
            if route.transform is None:
                continue
            transform = plugins.transforms.get(route.transform)
            if transform is None:
                known = ", ".join(sorted(plugins.transforms)) or "none"
                raise ConfigError(
                    f"routes.toml: route {route.name!r} names transform {route.transform!r}, "
                    f"which no loaded plugin registers (known: {known})"
                )
            if transform.source_type != route.type:
                raise ConfigError(
                    f"routes.toml: route {route.name!r} takes {route.type} but transform {transform.name!r} "
                    f"takes {transform.source_type}"
                )
        self._has_hook_routes = bool(plugins.hook.hub_route.get_hookimpls())

    def _status_fields(self, message_type: str) -> tuple[str, str] | None:
        """Where messages of ``message_type`` hold a business status to keep in clear, if the type declares one."""
        declared = self.plugins.message_types.get(message_type)
        return declared.status if declared is not None else None

    def plan(
        self,
        message: dict[str, Any],
        *,
        sender: str,
        body: bytes,
        received_at: float | None = None,
        idempotency_key: str | None = None,
        reply_target: ReplyTarget | None = None,
        warnings: Sequence[Problem] = (),
    ) -> RoutingResult:
        """Plan the intake of ``message`` (already validated) from ``sender``.

        ``warnings`` are what the adapter assumed while reading it (``Parsed.warnings``):
        each becomes a ``warning`` event on the received message, with its location and
        message (never a value), so a sender with nobody to answer it (MESH) and the
        operator see them on the timeline. Raises ``InvalidMessage`` when a route's
        derived message is invalid.
        """
        now = received_at if received_at is not None else time.time()
        record_id = str(uuid.uuid4())
        inbound = NewMessage(
            id=record_id,
            message_id=message["message_id"],
            sender=sender,
            type=message["type"],
            body=body,
            received_at=now,
            correlation_id=message.get("correlation_id"),
            in_reply_to=message.get("in_reply_to"),
            answers_record=reply_target.record_id if reply_target is not None else None,
            idempotency_key=idempotency_key,
            nhs_index=self.indexer(message),
        )
        inbound.fingerprint, inbound.fingerprints_also = _fingerprint_fields(self.fingerprinter(message))
        inbound.status, inbound.status_at = clear_status(message, self._status_fields(message["type"]))
        intake = Intake(messages=[inbound])
        if inbound.nhs_index is not None:
            intake.index_entries.append((sender, inbound.nhs_index, record_id))
        intake.events.append(HubEvent("received", record_id, now, detail={"type": message["type"], "sender": sender}))
        intake.events += [
            HubEvent("warning", record_id, now, detail={"location": w.location, "warning": w.message}) for w in warnings
        ]
        result = RoutingResult(intake)
        problems: list[Problem] = []
        planned: set[tuple[str, str]] = set()

        def add_delivery(
            target_record: str, partner_id: str, route_name: str, target: dict[str, Any], ordered: bool = True
        ) -> None:
            message_type = target["type"]
            if (target_record, partner_id) in planned:
                return
            partner = self.partners.get(partner_id)
            if partner is None:
                return
            planned.add((target_record, partner_id))
            if partner.agreement is not None and not partner.agreement.allows_type(message_type):
                why = f"the data-sharing agreement with {partner_id} does not cover {message_type}"
                result.notes.append(f"route {route_name}: not sent: {why}")
                intake.events.append(HubEvent("refused", target_record, now, partner=partner_id,
                                              detail={"route": route_name, "reason": why}))  # fmt: skip
                return
            delivery_id = str(uuid.uuid4())
            correlation = target.get("correlation_id")
            key = order_key(partner_id, correlation) if ordered and isinstance(correlation, str) else None
            intake.deliveries.append(
                NewDelivery(delivery_id, target_record, partner_id, route_name, partner.receive.mode, key)
            )
            intake.events.append(HubEvent("routed", target_record, now, delivery_id, partner_id, {"route": route_name}))
            if target is message and partner.agreement is None:  # the whole message: the inbound's own value
                copy_index = inbound.nhs_index
            else:
                copy_index = self.index_for(partner_id, target)
            if copy_index is not None:
                intake.index_entries.append((partner_id, copy_index, target_record))

        for route in self._by_type.get(message["type"], ()):
            if not route.matches(message):
                continue
            outgoing, outgoing_record = message, record_id
            if route.transform:
                transform = self.plugins.transforms[route.transform]
                context = TransformContext(
                    route=route.name,
                    now=datetime.fromtimestamp(now, UTC),
                    new_message_id=new_message_id,
                    options=dict(route.options),
                    state_dir=self.state_dir,
                    config_dir=self.config_dir,
                    sender=self.partners.get(sender),
                )
                try:
                    outgoing = transform.func(message, context)
                except Refusal as refusal:
                    result.notes.append(f"route {route.name}: {refusal.reason}")
                    intake.events.append(
                        HubEvent("refused", record_id, now, detail={"route": route.name, "reason": refusal.reason})
                    )
                    continue
                for warning in context.warnings:
                    result.notes.append(f"route {route.name}: warning: {warning}")
                    intake.events.append(
                        HubEvent("warning", record_id, now, detail={"route": route.name, "warning": warning})
                    )
                found = self.validator.problems(outgoing, sender)
                if found:
                    prefix = f"route {route.name} needs this to build a {transform.target_type}: "
                    problems.extend(Problem(p.location, prefix + p.message) for p in found)
                    continue
                outgoing_record = str(uuid.uuid4())
                derived = NewMessage(
                    id=outgoing_record,
                    message_id=outgoing["message_id"],
                    sender=sender,
                    type=outgoing["type"],
                    body=orjson.dumps(outgoing),
                    received_at=now,
                    correlation_id=outgoing.get("correlation_id"),
                    in_reply_to=outgoing.get("in_reply_to"),
                    answers_record=inbound.answers_record
                    if outgoing.get("in_reply_to") == inbound.in_reply_to
                    else None,
                    parent_id=record_id,
                    nhs_index=self.indexer(outgoing),
                )
                derived.status, derived.status_at = clear_status(outgoing, self._status_fields(outgoing["type"]))
                intake.messages.append(derived)
                if derived.nhs_index is not None:
                    intake.index_entries.append((sender, derived.nhs_index, outgoing_record))
                intake.events.append(
                    HubEvent("derived", record_id, now, detail={"route": route.name, "derived": outgoing_record,
                                                                "type": outgoing["type"]})
                )  # fmt: skip
            for destination in route.to:
                partner_id, why_not = self._resolve(destination, outgoing, reply_target)
                if partner_id is None:
                    note = f"route {route.name}: not sent: {why_not}"
                    result.notes.append(note)
                    intake.events.append(
                        HubEvent("refused", record_id, now, detail={"route": route.name, "reason": why_not})
                    )
                    continue
                add_delivery(outgoing_record, partner_id, route.name, outgoing, route.order == "correlation")

        if self._has_hook_routes:
            for extra in self.plugins.hook.hub_route(message=message, sender_id=sender):
                for partner_id in extra or []:
                    if self.partners.get(partner_id) is None:
                        why = f"a plugin route named {partner_id!r}, which is not a partner of this hub"
                        result.notes.append(f"not sent: {why}")
                        intake.events.append(
                            HubEvent("refused", record_id, now, detail={"route": "plugin", "reason": why})
                        )
                        continue
                    add_delivery(record_id, partner_id, "plugin", message)

        if problems:
            raise InvalidMessage(
                "The message is valid on its own, but a route it matches cannot build what it must send.",
                problems,
            )
        if not any(e.kind == "routed" for e in intake.events):
            intake.events.append(HubEvent("unrouted", record_id, now, detail={"reason": "no route matched"}))
            if not result.notes:
                result.notes.append(
                    f"no route matched this {message['type']}: it is stored but goes to no partner "
                    "(see routes.toml, or name a recipient)"
                )
        return result

    def index_for(self, partner_id: str, message: dict[str, Any]) -> str | None:
        """The blind-index value of the copy ``partner_id`` receives of ``message``, or None.

        The copy is the message minimised under the partner's data-sharing agreement, as the
        delivery worker and the inbox render it: None when the agreement withholds the NHS
        number (or the partner is no longer configured), so the partner cannot find it by one.
        """
        partner = self.partners.get(partner_id)
        if partner is None:
            return None
        return self.indexer(minimise(message, partner.agreement))

    def _resolve(
        self, destination: Destination, message: dict[str, Any], reply_target: ReplyTarget | None
    ) -> tuple[str | None, str]:
        """The partner ``destination``'s resolver names for ``message``, or None and why not."""
        resolver = destination.resolver or self.plugins.vocabulary.destinations[destination.kind]
        context = ResolveContext(self.partners, reply_target.sender if reply_target is not None else None)
        try:
            partner_id = resolver.resolve(message, destination.settings, context)
        except Unresolved as exc:
            return None, exc.reason
        if self.partners.get(partner_id) is None:
            return None, f"the {destination.kind} destination named no partner of this hub"
        return partner_id, ""


def _fingerprint_fields(value: str | tuple[str, ...] | None) -> tuple[str | None, tuple[str, ...]]:
    """(fingerprint under the current key, those under the other live keys) from a fingerprinter's answer."""
    if value is None or isinstance(value, str):
        return value, ()
    return (value[0] if value else None), tuple(value[1:])
