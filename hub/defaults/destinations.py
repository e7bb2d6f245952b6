"""The hub's own route destinations (``to`` in ``routes.toml``), registered like any plugin's.

``partner`` (a fixed partner id, or a bare id string), ``field`` (the partner whose
id is in a field), ``code`` (the partner holding the code found in a field),
``reply`` (whoever sent the message this one answers) and ``recipient`` (the
partner in ``recipient.org_id``). Reasons never quote a value from the message.
"""

from __future__ import annotations

from typing import Any

from hub.plugin_api.records import DestinationResolver, ResolveContext, RouteSetup, Unresolved


def _only(options: dict[str, Any], allowed: set[str], required: set[str]) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} (known: {', '.join(sorted(allowed)) or 'none'})")
    missing = sorted(k for k in required if not isinstance(options.get(k), str) or not options[k])
    if missing:
        raise ValueError(f"{missing[0]!r} is required and must be a string")


def _check_partner(options: dict[str, Any], setup: RouteSetup) -> None:
    _only(options, {"id"}, {"id"})
    if setup.partners.get(options["id"]) is None:
        raise ValueError(f"no partner has id {options['id']!r} in partners.toml")


def _resolve_partner(message: dict[str, Any], options: dict[str, Any], context: ResolveContext) -> str:
    return str(options["id"])


def _field_value(message: dict[str, Any], path: str) -> Any:
    value: Any = message
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _check_field(options: dict[str, Any], setup: RouteSetup) -> None:
    _only(options, {"field"}, {"field"})


def _resolve_field(message: dict[str, Any], options: dict[str, Any], context: ResolveContext) -> str:
    value = _field_value(message, options["field"])
    if not isinstance(value, str):
        raise Unresolved(f"{options['field']} is empty")
    if context.partners.get(value) is None:
        raise Unresolved(f"{options['field']} names no partner of this hub")
    return value


def _check_code(options: dict[str, Any], setup: RouteSetup) -> None:
    _only(options, {"code", "field"}, {"code", "field"})
    if options["code"] not in setup.code_fields:
        known = ", ".join(sorted(setup.code_fields)) or "none is registered"
        raise ValueError("code", f"{options['code']!r} is not one of {known}")


def _resolve_code(message: dict[str, Any], options: dict[str, Any], context: ResolveContext) -> str:
    value = _field_value(message, options["field"])
    if not isinstance(value, str):
        raise Unresolved(f"{options['field']} is empty")
    partner = context.partners.by_code(options["code"], value)
    if partner is None:
        raise Unresolved(f"no partner of this hub has the {options['code']} given in {options['field']}")
    return str(partner.id)


def _check_nothing(options: dict[str, Any], setup: RouteSetup) -> None:
    _only(options, set(), set())


def _resolve_reply(message: dict[str, Any], options: dict[str, Any], context: ResolveContext) -> str:
    if context.reply_sender is None:
        raise Unresolved("it does not answer a message the hub delivered")
    return context.reply_sender


def _resolve_recipient(message: dict[str, Any], options: dict[str, Any], context: ResolveContext) -> str:
    org = _field_value(message, "recipient.org_id")
    if not org:
        raise Unresolved("the message names no recipient (recipient.org_id)")
    if not isinstance(org, str) or context.partners.get(org) is None:
        raise Unresolved("recipient.org_id names no partner of this hub")
    return org


DESTINATIONS = (
    DestinationResolver("partner", _resolve_partner, _check_partner, lambda o: f"partner {o['id']}"),
    DestinationResolver("field", _resolve_field, _check_field, lambda o: f"the partner named in {o['field']}"),
    DestinationResolver(
        "code", _resolve_code, _check_code, lambda o: f"the partner whose {o['code']} is in {o['field']}"
    ),
    DestinationResolver("reply", _resolve_reply, _check_nothing, lambda o: "reply"),
    DestinationResolver("recipient", _resolve_recipient, _check_nothing, lambda o: "recipient"),
)
