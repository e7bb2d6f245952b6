"""The canonical JSON adapter: the hub's own format in and out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from hub.plugin_api.problems import Problem, UnparseableInput
from hub.plugin_api.records import Rendered
from hub.strict_json import parse_json_strict

if TYPE_CHECKING:
    from hub.plugin_api.partner import Partner

MAX_DEPTH = 32


def parse_json_document(body: bytes) -> Any:
    """Parse JSON strictly (``hub.strict_json``), raising ``UnparseableInput`` that says where the fault is."""
    return parse_json_strict(body, max_depth=MAX_DEPTH)


class CanonicalJsonAdapter:
    """Reads and writes canonical messages as ``application/json``; the hub's default adapter.

    ``default = True``: it renders for partners that name no adapter, reads the
    lines of a batch and what a partner without an adapter of its own seals.
    ``canonical = True``: what it reads is a canonical message as it is (the OpenAPI
    document describes its body with the registered message types).
    """

    name = "canonical-json"
    content_types = ("application/json",)
    default = True
    canonical = True

    def parse(self, body: bytes, *, content_type: str, sender_id: str) -> list[dict[str, Any]]:
        """One JSON object is one canonical message (validation happens later)."""
        document = parse_json_document(body)
        if not isinstance(document, dict):
            raise UnparseableInput("A canonical message is a JSON object.", [Problem("$", "expected an object")])
        return [document]

    def render(self, message: dict[str, Any], *, partner: Partner) -> Rendered:
        """The canonical message as compact JSON."""
        return Rendered("application/json", orjson.dumps(message))
