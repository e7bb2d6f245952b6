"""The ``charity-crm-form`` adapter: a canonical Referral as a charity CRM's web form, and back.

``render`` writes a Referral as ``application/x-www-form-urlencoded`` with the fields of ``form.FIELDS``; fields
the form has no place for are named in the render's notes (the hub records them as warnings on the delivery),
never sent. Other message types go out as the hub's canonical JSON. ``parse`` reads the same form, posted by
the charity's CRM, into a canonical Referral from the partner that posted it; a form it cannot read is
``UnparseableInput``, one with missing, repeated, unknown or ill-formed fields is ``InvalidMessage`` listing
each field by name, never its value.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

from hub import InvalidMessage, Partner, Problem, Rendered, UnparseableInput, hookimpl
from hub_charity_crm.form import BY_NAME, FIELDS, Field

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 200
YES_NO = {"yes": True, "no": False}


def _get(message: dict[str, Any], path: str) -> Any:
    value: Any = message
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _put(message: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        message = message.setdefault(part, {})
    message[last] = value


def _paths(value: Any, prefix: str = "") -> list[str]:
    """The dotted paths of the leaves of ``value`` (a list is one leaf)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _paths(v, f"{prefix}.{k}" if prefix else k)]
    return [prefix]


class CharityCrmFormAdapter:
    """Referrals as the charity CRM's web form (see the module docstring)."""

    name = "charity-crm-form"
    content_types = (FORM_TYPE,)

    def render(self, message: dict[str, Any], *, partner: Partner) -> Rendered:
        """The form for a Referral; canonical JSON for any other type."""
        if message.get("type") != "Referral":
            note = f"the charity CRM form has no form for {message.get('type')}; this is the hub's canonical JSON"
            return Rendered("application/json", json.dumps(message).encode(), notes=(note,))
        pairs: list[tuple[str, str]] = []
        for field in FIELDS:
            value = _get(message, field.path)
            if value is None:
                continue
            if field.shape == "list":
                pairs.extend((field.name, str(item)) for item in value)
            elif field.shape == "yes-no":
                pairs.append((field.name, "yes" if value is True else "no"))
            else:
                pairs.append((field.name, str(value)))
        carried = {f.path for f in FIELDS} | {"type", "schema_version", "sender.org_id"}
        left = sorted(p for p in _paths(message) if p not in carried and not p.startswith("sender."))
        notes = (f"the charity CRM form has no field for {', '.join(left)}",) if left else ()
        return Rendered(FORM_TYPE, urlencode(pairs).encode("ascii"), notes=notes)

    def parse(self, body: bytes, *, content_type: str, sender_id: str) -> list[dict[str, Any]]:
        """One canonical Referral from ``sender_id``'s form; raise with every problem otherwise."""
        try:
            pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True,
                              encoding="utf-8", errors="strict", max_num_fields=MAX_FIELDS)  # fmt: skip
        except (UnicodeError, ValueError):
            raise UnparseableInput(
                f"The body is not a web form (application/x-www-form-urlencoded, UTF-8, at most {MAX_FIELDS} fields)."
            ) from None
        if not pairs:
            raise UnparseableInput("The form is empty.")
        problems: list[Problem] = []
        values: dict[str, list[str]] = {}
        for name, value in pairs:
            if name not in BY_NAME:
                problems.append(Problem("form", "holds a field that is not part of the charity CRM form"))
                continue
            values.setdefault(name, []).append(value)
        message: dict[str, Any] = {"type": "Referral", "schema_version": "1", "sender": {"org_id": sender_id}}
        for field in FIELDS:
            self._read(field, values.get(field.name, []), message, problems)
        if problems:
            raise InvalidMessage("The form is not a referral the hub can take.", sorted(set(problems), key=str))
        return [message]

    @staticmethod
    def _read(field: Field, given: list[str], message: dict[str, Any], problems: list[Problem]) -> None:
        where = f"form.{field.name}"
        if not given or given == [""]:
            if field.required:
                problems.append(Problem(where, "required"))
            return
        if field.shape == "list":
            _put(message, field.path, given)
            return
        if len(given) > 1:
            problems.append(Problem(where, "given more than once"))
            return
        if field.shape == "yes-no":
            if given[0] not in YES_NO:
                problems.append(Problem(where, "must be yes or no"))
                return
            _put(message, field.path, YES_NO[given[0]])
            return
        _put(message, field.path, given[0])


@hookimpl
def hub_register_adapters(register: Any) -> None:
    """Register the ``charity-crm-form`` adapter (partners name it with ``adapter = "charity-crm-form"``)."""
    register(CharityCrmFormAdapter())
