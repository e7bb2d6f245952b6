"""Routes as configured in ``routes.toml``: which messages go where, and in which form.

A route matches on the message type plus field conditions, optionally applies a
transform that derives another message type, and names its destinations::

    [[route]]
    name = "duty-to-refer"
    type = "DischargeNotice"
    when = [
      { field = "payload.housing.situation", in = ["no_fixed_abode", "threatened_within_56_days"] },
    ]
    transform = "duty-to-refer"
    to = { code = "gss_code", field = "payload.target_authority_gss" }

Conditions (all must hold): ``equals``, ``not_equals``, ``in``, ``not_in``,
``exists``. Destinations (``to``), evaluated on the message being delivered
(after the transform):

- ``"partner-id"`` or a list of ids;
- ``{ field = "payload.service_id" }``: the partner whose id is in that field;
- ``{ code = "gss_code" | "ods_code" | "mesh_mailbox", field = "..." }``: the
  partner holding the code found in that field;
- ``"reply"``: whoever sent the message this one answers (``in_reply_to``);
- ``"recipient"``: the partner named in the envelope's ``recipient.org_id``.

``options`` (a table) is handed to the transform as ``TransformContext.options``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.canonical import MESSAGE_TYPES
from hub.partners import CODE_FIELDS
from hub.problems import ConfigError

if TYPE_CHECKING:
    from hub.config import _Section
    from hub.partners import PartnerDirectory

OPERATORS = ("equals", "not_equals", "in", "not_in", "exists")
_MISSING = object()


def get_field(message: dict[str, Any], path: str) -> Any:
    """Return the value at a dotted path (``payload.person.address.postcode``), or a sentinel."""
    value: Any = message
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


def field_value(message: dict[str, Any], path: str) -> Any | None:
    """Like ``get_field`` but None when the path is absent."""
    value = get_field(message, path)
    return None if value is _MISSING else value


@dataclass(frozen=True)
class Condition:
    """One test on one field of the message."""

    field: str
    op: str
    value: Any

    def holds(self, message: dict[str, Any]) -> bool:
        """True when the message satisfies this condition."""
        actual = get_field(message, self.field)
        if self.op == "exists":
            return (actual is not _MISSING and actual is not None) == bool(self.value)
        if actual is _MISSING:
            return self.op in ("not_equals", "not_in")
        if self.op == "equals":
            return bool(actual == self.value)
        if self.op == "not_equals":
            return bool(actual != self.value)
        if self.op == "in":
            return actual in self.value
        return actual not in self.value  # not_in


@dataclass(frozen=True)
class Destination:
    """Where a route sends: a fixed partner, a partner found from a field, the replied-to sender."""

    kind: str  # partner | field | code | reply | recipient
    partner_id: str | None = None
    field: str | None = None
    code: str | None = None

    def describe(self) -> str:
        """A short human description, used in notes and timelines."""
        if self.kind == "partner":
            return f"partner {self.partner_id}"
        if self.kind == "code":
            return f"the partner whose {self.code} is in {self.field}"
        if self.kind == "field":
            return f"the partner named in {self.field}"
        return self.kind


@dataclass(frozen=True)
class Route:
    """One ``[[route]]`` entry."""

    name: str
    type: str
    when: tuple[Condition, ...]
    to: tuple[Destination, ...]
    transform: str | None = None
    description: str = ""
    options: tuple[tuple[str, Any], ...] = ()

    def matches(self, message: dict[str, Any]) -> bool:
        """True when the type is right and every condition holds."""
        return message.get("type") == self.type and all(c.holds(message) for c in self.when)


def _parse_condition(section: _Section, index: int, raw: Any) -> Condition:
    where = f"{section.file}: {section.prefix}.when[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("field"), str):
        raise ConfigError(f"{where}: a condition is a table with 'field' and one of {', '.join(OPERATORS)}")
    ops = [k for k in raw if k != "field"]
    if len(ops) != 1 or ops[0] not in OPERATORS:
        raise ConfigError(f"{where}: give exactly one of {', '.join(OPERATORS)} (got {', '.join(ops) or 'none'})")
    op = ops[0]
    value = raw[op]
    if op in ("in", "not_in") and not isinstance(value, list):
        raise ConfigError(f"{where}.{op}: must be a list")
    if op == "exists" and not isinstance(value, bool):
        raise ConfigError(f"{where}.exists: must be true or false")
    return Condition(raw["field"], op, value)


def _parse_destination(section: _Section, raw: Any, partners: PartnerDirectory) -> Destination:
    where = section.where("to")
    if isinstance(raw, str):
        if raw in ("reply", "recipient"):
            return Destination(raw)
        if partners.get(raw) is None:
            raise ConfigError(f"{where}: no partner has id {raw!r} in partners.toml")
        return Destination("partner", partner_id=raw)
    if isinstance(raw, dict):
        field = raw.get("field")
        code = raw.get("code")
        unknown = set(raw) - {"field", "code"}
        if unknown or not isinstance(field, str):
            raise ConfigError(f"{where}: a table destination needs 'field' (and optionally 'code'), got {raw!r}")
        if code is None:
            return Destination("field", field=field)
        if code not in CODE_FIELDS:
            raise ConfigError(f"{where}.code: {code!r} is not one of {', '.join(CODE_FIELDS)}")
        return Destination("code", field=field, code=code)
    raise ConfigError(f"{where}: expected a partner id, 'reply', 'recipient', a table or a list of these")


def parse_route(section: _Section, partners: PartnerDirectory) -> Route:
    """Build a ``Route`` from one ``[[route]]`` table, naming any bad key."""
    name = section.get("name", str, None)
    if not name:
        raise ConfigError(f"{section.where('name')}: required")
    message_type = section.get("type", str, None)
    if not message_type:
        raise ConfigError(f"{section.where('type')}: required (the message type this route takes)")
    if message_type not in MESSAGE_TYPES:
        raise ConfigError(f"{section.where('type')}: {message_type!r} is not one of {', '.join(MESSAGE_TYPES)}")
    when_raw = section.get("when", list, [])
    when = tuple(_parse_condition(section, i, c) for i, c in enumerate(when_raw))
    to_raw = section.get("to", (str, list, dict), None)
    if to_raw is None:
        raise ConfigError(f"{section.where('to')}: required (where the message goes)")
    items = to_raw if isinstance(to_raw, list) else [to_raw]
    to = tuple(_parse_destination(section, item, partners) for item in items)
    route = Route(
        name=name,
        type=message_type,
        when=when,
        to=to,
        transform=section.get("transform", str, None),
        description=section.get("description", str, ""),
        options=tuple(section.get("options", dict, {}).items()),
    )
    section.finish()
    return route
