"""The canonical JSON adapter: the hub's own format in and out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from hub.problems import Problem, UnparseableInput
from hub.records import Rendered

if TYPE_CHECKING:
    from hub.partners import Partner

MAX_DEPTH = 32


def _depth_problem(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when ``value`` nests deeper than ``limit`` (checked iteratively)."""
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(current, dict):
            stack.extend((v, depth + 1) for v in current.values())
        elif isinstance(current, list):
            stack.extend((v, depth + 1) for v in current)
    return False


def parse_json_document(body: bytes) -> Any:
    """Parse JSON, raising ``UnparseableInput`` with the position of the fault."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UnparseableInput(
            "The body is not valid JSON.", [Problem(f"line {exc.lineno}, column {exc.colno}", exc.msg)]
        ) from None
    if _depth_problem(document):
        raise UnparseableInput("The body nests deeper than the hub accepts.",
                               [Problem("$", f"more than {MAX_DEPTH} levels of nesting")])  # fmt: skip
    return document


class CanonicalJsonAdapter:
    """Reads and writes canonical messages as ``application/json``."""

    name = "canonical-json"
    content_types = ("application/json",)

    def parse(self, body: bytes, *, content_type: str, sender_id: str) -> list[dict[str, Any]]:
        """One JSON object is one canonical message (validation happens later)."""
        document = parse_json_document(body)
        if not isinstance(document, dict):
            raise UnparseableInput("A canonical message is a JSON object.", [Problem("$", "expected an object")])
        return [document]

    def render(self, message: dict[str, Any], *, partner: Partner) -> Rendered:
        """The canonical message as compact JSON."""
        return Rendered("application/json", orjson.dumps(message))
