"""Canonical messages: the registered message types' JSON Schemas and the checks beyond them.

The message types, each with its schema, are what plugins register
(``hub_register_message_types``; the hub's own default plugin brings
``Acknowledgement`` and the shared envelope); none is listed here.

``CanonicalValidator.problems(message, sender_id)`` returns *every* problem with
its JSON path (``$.payload.person.nhs_number``): the JSON Schema (draft 2020-12),
the hub's own rules (NHS number Modulus 11, the sender matching the caller, text
every partner format can carry) and the rules of plugins whose
``hub_validate_message`` takes ``schema_valid`` (a council's Duty to Refer
consents, for one) together, a rule's sentence replacing the schema's for the same
location; then, only when all those found nothing, the other plugins' checks. An
empty list means the message may be stored.

Text: no string (nor member name) may hold a control character other than tab,
line feed and carriage return, a non-character (U+FFFE, U+FFFF) or a lone
surrogate, since some partner format (XML, HL7 v2) cannot carry it and the
delivery would fail after the sender was told "accepted". Tab, line feed and
carriage return are allowed only in free-text fields, which the schemas mark
with the annotation ``"x-multiline": true``.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs
import orjson

from hub.identifiers import nhs_number_problem
from hub.plugin_api.problems import Problem

if TYPE_CHECKING:
    from hub.plugins import HubPlugins

SCHEMA_VERSION = "1"
MULTILINE_KEYWORD = "x-multiline"
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")
_LINE_BREAK = re.compile("[\t\n\r]")


def _plain_text(message: dict[str, Any]) -> bool:
    """True when no string or member name in ``message`` holds a character ``text_problems`` looks for.

    Written by orjson, every character below U+0020 (tab, line feed and carriage return included) is an
    escape after a backslash, U+007F, U+FFFE and U+FFFF stand as they are, and a lone surrogate cannot be
    written at all; so text with none of those bytes has nothing to report. Any backslash sends the
    message to the full walk (a quote or a backslash in a string, too: the walk then finds nothing).
    """
    try:
        text = orjson.dumps(message)
    except TypeError:
        return False
    return b"\\" not in text and b"\x7f" not in text and b"\xef\xbf\xbe" not in text and b"\xef\xbf\xbf" not in text


def schema_overrides(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """Schemas replacing registered ones, by ``$id``: the ``*.schema.json`` files in ``HUB_SCHEMAS`` (if set)."""
    if directory is None:
        env = os.environ.get("HUB_SCHEMAS")
        if not env:
            return {}
        directory = Path(env)
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(schema, dict) and isinstance(schema.get("$id"), str):
            out[schema["$id"]] = schema
    return out


def json_path(parts: list[str | int]) -> str:
    """Render an instance path as ``$.a.b[0].c``."""
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def json_pointer(parts: list[str | int]) -> str:
    """Render an instance path as a JSON Pointer (RFC 6901), as schema evaluation reports locations."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _not_text_sentence(char: str, at: int) -> str:
    kind = "a control character" if ord(char) < 0x80 else "a character that is not text"
    return (f"holds {kind} (U+{ord(char):04X}, character {at + 1}), which partner formats cannot carry; "
            "remove it and send again")  # fmt: skip


def utc_now_iso() -> str:
    """The current time as RFC 3339 UTC with a ``Z``."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_message_id() -> str:
    """A fresh message id (UUID version 4)."""
    return str(uuid.uuid4())


class CanonicalValidator:
    """Validates canonical messages against the registered types' schemas and the rules (module docstring).

    Build one per process (compiling the schemas takes milliseconds) and share it.
    Without ``plugins``, the installed plugins are loaded (``load_plugins()``).
    ``schema_dir`` (or ``HUB_SCHEMAS``) holds schemas replacing registered ones with
    the same ``$id``.
    """

    def __init__(self, plugins: HubPlugins | None = None, schema_dir: Path | None = None) -> None:
        if plugins is None:
            from hub.plugins import load_plugins

            plugins = load_plugins()
        self.plugins = plugins
        overrides = schema_overrides(schema_dir)
        resources = [(spec.uri, overrides.get(spec.uri, spec.schema)) for spec in plugins.schemas.values()]
        types = plugins.vocabulary.message_types
        self.schemas: dict[str, dict[str, Any]] = {
            name: overrides.get(spec.uri, spec.schema) for name, spec in types.items()
        }
        resources.extend((types[name].uri, schema) for name, schema in self.schemas.items())
        registry = jsonschema_rs.Registry(resources)
        self._validators: dict[str, Any] = {
            name: jsonschema_rs.validator_for(schema, registry=registry) for name, schema in self.schemas.items()
        }
        from hub.plugins import per_plugin_callers

        callers = per_plugin_callers(plugins.manager, "hub_validate_message")
        rule_plugins = {i.plugin_name for i in plugins.hook.hub_validate_message.get_hookimpls()
                        if "schema_valid" in i.argnames}  # fmt: skip
        self._rule_callers = [caller for name, caller in callers if name in rule_plugins]
        # the others in the order pluggy calls them, as before they were told apart
        self._check_callers = [caller for name, caller in reversed(callers) if name not in rule_plugins]

    @property
    def message_types(self) -> tuple[str, ...]:
        """The names of the message types this validator knows, sorted."""
        return tuple(sorted(self._validators))

    def schema_problems(self, message: Any) -> list[Problem]:
        """Problems found by the JSON Schema of the message's type (all of them)."""
        if not isinstance(message, dict):
            return [Problem("$", "a canonical message is a JSON object")]
        message_type = message.get("type")
        # a known type first (the usual case): the list of known types is only written into a problem
        validator = self._validators.get(message_type) if isinstance(message_type, str) else None
        if validator is None:
            known = ", ".join(self.message_types) or "none (no plugin registers a message type)"
            if message_type is not None and not isinstance(message_type, str):
                # checked before any lookup: a list or object cannot name a schema (and cannot be a dict key)
                return [Problem("$.type", f"must be a string, the message type: one of {known}")]
            if message_type is None:
                return [Problem("$.type", f"required: the message type, one of {known}")]
            return [Problem("$.type", f"is not a message type this hub knows; known types are {known}")]
        if validator.is_valid(message):
            return []
        seen: set[tuple[str, str]] = set()
        problems = []
        for error in validator.iter_errors(message):
            problem = Problem(json_path(list(error.instance_path)), describe_schema_error(error))
            key = (problem.location, problem.message)
            if key not in seen:
                seen.add(key)
                problems.append(problem)
        return problems

    def rule_problems(self, message: dict[str, Any], sender_id: str | None) -> list[Problem]:
        """The hub's own rules, which a schema cannot express."""
        problems: list[Problem] = []
        raw_payload = message.get("payload")
        payload: dict[str, Any] = raw_payload if isinstance(raw_payload, dict) else {}
        raw_person = payload.get("person")
        person = raw_person if isinstance(raw_person, dict) else None
        if person is not None and isinstance(person.get("nhs_number"), str):
            why = nhs_number_problem(person["nhs_number"])
            if why:
                problems.append(Problem("$.payload.person.nhs_number", why))
        if sender_id is not None:
            sender = message.get("sender")
            org_id = sender.get("org_id") if isinstance(sender, dict) else None
            if org_id is not None and org_id != sender_id:
                problems.append(Problem("$.sender.org_id", f"is not you: you are authenticated as {sender_id!r}"))
        codes = self.plugins.vocabulary.code_fields
        for role in ("sender", "recipient"):
            party = message.get(role)
            for name in party if isinstance(party, dict) else ():
                if name != "org_id" and name not in codes and isinstance(name, str):
                    problems.append(Problem(f"$.{role}.<name>", "names a code this hub does not know; known codes "
                                            f"are {', '.join(sorted(codes)) or 'none'}"))  # fmt: skip
        return problems

    def plugin_rule_problems(
        self, message: dict[str, Any], sender_id: str | None, *, schema_valid: bool
    ) -> list[Problem]:
        """Problems from the plugins whose ``hub_validate_message`` takes ``schema_valid`` (called plugin by plugin)."""
        problems: list[Problem] = []
        for caller in self._rule_callers:
            for result in caller(message=message, sender_id=sender_id or "", schema_valid=schema_valid):
                problems.extend(result or [])
        return problems

    def text_problems(self, message: dict[str, Any], *, schema_valid: bool) -> list[Problem]:
        """Strings and member names holding characters some partner format cannot carry (module docstring).

        Line breaks and tabs are judged only when ``schema_valid`` (the schema's
        annotations say which fields are free text only for a valid message).
        """
        if _plain_text(message):
            return []
        problems: list[Problem] = []
        broken: list[tuple[list[str | int], int]] = []
        stack: list[tuple[Any, list[str | int]]] = [(message, [])]
        while stack:
            value, parts = stack.pop()
            if isinstance(value, dict):
                for name, child in value.items():
                    if _NOT_TEXT.search(name):
                        problems.append(Problem(json_path([*parts, "<name>"]), "a member name holds a control "
                                                "character or a character that is not text; remove it"))  # fmt: skip
                    stack.append((child, [*parts, name]))
            elif isinstance(value, list):
                stack.extend((child, [*parts, n]) for n, child in enumerate(value))
            elif isinstance(value, str):
                bad = _NOT_TEXT.search(value)
                if bad:
                    problems.append(Problem(json_path(parts), _not_text_sentence(bad.group(), bad.start())))
                elif schema_valid:
                    line = _LINE_BREAK.search(value)
                    if line:
                        broken.append((parts, line.start()))
        if broken:
            allowed = self._multiline_pointers(message)
            for parts, at in broken:
                if json_pointer(parts) not in allowed:
                    problems.append(Problem(json_path(parts), f"holds a line break or tab (character {at + 1}); this "
                                            "field is one line: only free-text fields may span lines"))  # fmt: skip
        return sorted(problems, key=lambda p: p.location)

    def _multiline_pointers(self, message: dict[str, Any]) -> set[str]:
        """JSON Pointers of the strings in a valid ``message`` that its schema marks as free text."""
        evaluation = self._validators[message["type"]].evaluate(message)
        return {
            unit["instanceLocation"]
            for unit in evaluation.annotations()
            if isinstance(unit.get("annotations"), dict) and unit["annotations"].get(MULTILINE_KEYWORD) is True
        }

    def problems(self, message: Any, sender_id: str | None = None) -> list[Problem]:
        """Every problem with ``message``; empty when it may be accepted."""
        found = self.schema_problems(message)
        if not isinstance(message, dict) or any(p.location == "$.type" for p in found):
            return found
        rules = self.rule_problems(message, sender_id)
        rules += self.plugin_rule_problems(message, sender_id, schema_valid=not found)
        rules += self.text_problems(message, schema_valid=not found)
        # A rule's sentence is clearer than the schema's message for the same place.
        ruled = {p.location for p in rules}
        found = [p for p in found if p.location not in ruled] + rules
        if not found:
            for caller in self._check_callers:
                for result in caller(message=message, sender_id=sender_id or "", schema_valid=True):
                    found.extend(result or [])
        return found


_SAFE_MESSAGES = {"Required"}  # quotes a name from the schema, never from the message
_SCHEMA_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _unexpected_members(names: Any) -> str:
    """Name the unexpected members that look like schema names; count the others without quoting them."""
    listed = [str(n) for n in (names or [])]
    shown = [repr(n) for n in listed if _SCHEMA_NAME.fullmatch(n)]
    hidden = len(listed) - len(shown)
    parts = shown + ([f"{hidden} other member{'s' if hidden != 1 else ''}"] if hidden else [])
    return "members not allowed here: " + (", ".join(parts) or "unnamed")


def describe_schema_error(error: Any) -> str:
    """A sentence for one schema error that never echoes the offending value.

    The validator's own messages quote the value (a name, an NHS number); these
    sentences name the rule instead, so they are safe to return and to log.
    """
    kind = error.kind
    name = type(kind).__name__
    if name in _SAFE_MESSAGES:
        return str(error.message)
    if name in ("AdditionalProperties", "UnevaluatedProperties"):
        return _unexpected_members(getattr(kind, "unexpected", None))
    if name == "PropertyNames":
        return "a member name does not have the expected form"
    if name == "Type":
        return f"must be of type {' or '.join(str(t) for t in kind.types)}"
    if name == "Pattern":
        return f"does not have the expected form (pattern {kind.pattern})"
    if name == "Enum":
        return "must be one of " + ", ".join(repr(o) for o in kind.options)
    if name == "Constant":
        return f"must be {kind.expected_value!r}"
    if name in ("MaxLength", "MinLength"):
        return f"must be {'at most' if name == 'MaxLength' else 'at least'} {kind.limit} characters long"
    if name in ("MaxItems", "MinItems"):
        return f"must have {'at most' if name == 'MaxItems' else 'at least'} {kind.limit} items"
    if name in ("Maximum", "Minimum", "ExclusiveMaximum", "ExclusiveMinimum"):
        return f"is out of range ({name[0].lower() + name[1:]} {kind.limit})"
    if name in ("AnyOf", "OneOfNotValid"):
        return "does not match any of the allowed forms for this field"
    if name == "OneOfMultipleValid":
        return "matches more than one of the alternative forms for this field"
    keyword = error.schema_path[-1] if error.schema_path else name
    return f"breaks the schema rule '{keyword}'"


def derive_message(
    source: dict[str, Any],
    message_type: str,
    payload: dict[str, Any],
    *,
    message_id: str,
    created_at: datetime,
    recipient: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a message derived from ``source``: same sender, consent and lawful basis, same thread.

    The derived message gets its own ``message_id`` and keeps the source's
    ``correlation_id`` (or the source's id when it had none), so every message
    about one discharge can be followed together.
    """
    out: dict[str, Any] = {
        "message_id": message_id,
        "type": message_type,
        "schema_version": SCHEMA_VERSION,
        "created_at": created_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "correlation_id": source.get("correlation_id") or source["message_id"],
        "sender": source["sender"],
    }
    if recipient is not None:
        out["recipient"] = recipient
    for key in ("consent", "lawful_basis"):
        if key in source:
            out[key] = source[key]
    out["payload"] = payload
    return out
