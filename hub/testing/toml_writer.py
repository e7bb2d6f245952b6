"""Writes the small TOML documents the hub's config uses (tables, arrays of tables, inline values)."""

from __future__ import annotations

import json
import re
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    """A bare key when TOML allows one, else a quoted key (``"mental health"``)."""
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def dumps(document: dict[str, Any]) -> str:
    """TOML text for ``document``: top-level dicts become tables, lists of dicts arrays of tables."""
    lines: list[str] = []
    for key, value in document.items():
        if not isinstance(value, dict | list):
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in document.items():
        if isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines.extend(f"{_key(k)} = {_value(v)}" for k, v in value.items())
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                lines.append(f"\n[[{key}]]")
                lines.extend(f"{_key(k)} = {_value(v)}" for k, v in item.items())
    return "\n".join(lines).lstrip("\n") + "\n"
