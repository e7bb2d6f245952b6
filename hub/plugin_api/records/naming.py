"""Names that plugins register things under, and the rule they follow."""

from __future__ import annotations

import re

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


def check_name(kind: str, name: object) -> str:
    """Return ``name`` if it is a valid registry name, else raise ValueError saying why."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(
            f"{kind} name {name!r} is invalid: use 1-64 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter"
        )
    return name
