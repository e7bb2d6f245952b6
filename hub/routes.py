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
``exists``. Destinations (``to``, one or a list), evaluated on the message being
delivered (after the transform), are resolved by the destination resolvers plugins
register (``hub_register_destinations``); the hub's own default plugin brings:

- ``"partner-id"`` (or ``{ kind = "partner", id = "..." }``): that partner;
- ``{ field = "payload.service_id" }``: the partner whose id is in that field;
- ``{ code = "CODE-FIELD", field = "..." }``: the partner holding the code found in
  that field (a registered code field: ``gss_code`` when the council plugin is loaded);
- ``"reply"``: whoever sent the message this one answers (``in_reply_to``);
- ``"recipient"``: the partner named in the envelope's ``recipient.org_id``.

Any resolver is chosen by ``{ kind = "NAME", ...options }``, or by its bare name
when it takes no options. A table without ``kind`` is ``code`` when it has a
``code``, else ``field``. The route's ``type`` must be a registered message type.

``options`` (a table) is handed to the transform as ``TransformContext.options``.

``order`` says whether the route's deliveries keep their order: ``"correlation"`` (the default)
sends one partner's deliveries about one ``correlation_id`` one at a time, in the order they were
accepted, while other correlations go in parallel; ``"none"`` sends each as soon as it is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.plugin_api.problems import ConfigError
from hub.plugin_api.records import DestinationResolver, RouteSetup
from hub.sections import Section

if TYPE_CHECKING:
    from hub.partners import PartnerDirectory
    from hub.plugin_api.records import Vocabulary

OPERATORS = ("equals", "not_equals", "in", "not_in", "exists")
ORDERS = ("correlation", "none")
"""The values of a route's ``order``; the first is the default."""
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
    """Where a route sends: a registered destination resolver (``kind``) and its options from ``routes.toml``."""

    kind: str
    options: tuple[tuple[str, Any], ...] = ()
    resolver: DestinationResolver | None = None

    @property
    def settings(self) -> dict[str, Any]:
        """The options as a dict (what the resolver receives)."""
        return dict(self.options)

    def describe(self) -> str:
        """A short human description, used in notes and timelines."""
        if self.resolver is not None and self.resolver.describe is not None:
            return self.resolver.describe(self.settings)
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
    order: str = ORDERS[0]

    def matches(self, message: dict[str, Any]) -> bool:
        """True when the type is right and every condition holds."""
        return message.get("type") == self.type and all(c.holds(message) for c in self.when)


def _parse_condition(section: Section, index: int, raw: Any) -> Condition:
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


def _parse_destination(section: Section, raw: Any, partners: PartnerDirectory, vocabulary: Vocabulary) -> Destination:
    where = section.where("to")
    resolvers = vocabulary.destinations
    options: dict[str, Any]
    if isinstance(raw, str):
        kind, options = (raw, {}) if raw in resolvers else ("partner", {"id": raw})
    elif isinstance(raw, dict):
        options = dict(raw)
        kind = options.pop("kind", None)
        if kind is None:
            kind = "code" if "code" in options else "field"
        elif not isinstance(kind, str):
            raise ConfigError(f"{where}.kind: must be the name of a destination resolver")
    else:
        raise ConfigError(f"{where}: expected a partner id, 'reply', 'recipient', a table or a list of these")
    resolver = resolvers.get(kind)
    if resolver is None:
        raise ConfigError(f"{where}: no loaded plugin resolves destinations of kind {kind!r} "
                          f"(known: {vocabulary.known(resolvers)})")  # fmt: skip
    if resolver.check is not None:
        try:
            resolver.check(options, RouteSetup(partners, frozenset(vocabulary.code_fields)))
        except ValueError as exc:
            key, why = exc.args if len(exc.args) == 2 else (None, str(exc))
            raise ConfigError(f"{where}.{key}: {why}" if key else f"{where}: {why}") from None
    return Destination(kind, tuple(sorted(options.items())), resolver)


def parse_route(section: Section, partners: PartnerDirectory, vocabulary: Vocabulary) -> Route:
    """Build a ``Route`` from one ``[[route]]`` table, naming any bad key; names are checked against ``vocabulary``."""
    name = section.get("name", str, None)
    if not name:
        raise ConfigError(f"{section.where('name')}: required")
    message_type = section.get("type", str, None)
    if not message_type:
        raise ConfigError(f"{section.where('type')}: required (the message type this route takes)")
    if message_type not in vocabulary.message_types:
        raise ConfigError(
            f"{section.where('type')}: {message_type!r} is not one of {vocabulary.known(vocabulary.message_types)}"
        )
    when_raw = section.get("when", list, [])
    when = tuple(_parse_condition(section, i, c) for i, c in enumerate(when_raw))
    to_raw = section.get("to", (str, list, dict), None)
    if to_raw is None:
        raise ConfigError(f"{section.where('to')}: required (where the message goes)")
    items = to_raw if isinstance(to_raw, list) else [to_raw]
    to = tuple(_parse_destination(section, item, partners, vocabulary) for item in items)
    order = section.get("order", str, ORDERS[0])
    if order not in ORDERS:
        raise ConfigError(
            f"{section.where('order')}: must be 'correlation' (one partner's deliveries about one correlation_id "
            f"go out in the order they were accepted) or 'none' (each as soon as it is due), got {order!r}"
        )
    route = Route(
        name=name,
        type=message_type,
        when=when,
        to=to,
        transform=section.get("transform", str, None),
        description=section.get("description", str, ""),
        options=tuple(section.get("options", dict, {}).items()),
        order=order,
    )
    section.finish()
    return route


def parse_condition(section: Section, index: int, raw: Any) -> Condition:
    """One ``when`` condition of a table (for other files that select messages the way routes do)."""
    return _parse_condition(section, index, raw)


def parse_destination(section: Section, raw: Any, partners: PartnerDirectory, vocabulary: Vocabulary) -> Destination:
    """One destination (``to``-like value) of a table, checked like a route's (errors name ``section``'s ``to``)."""
    return _parse_destination(section, raw, partners, vocabulary)
