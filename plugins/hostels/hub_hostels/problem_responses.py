"""The error answers the hostels plugin's HTTP routes declare in the hub's OpenAPI document.

Every route under ``/plugins/hostels`` answers its errors as the hub's problem documents (RFC 9457,
``application/problem+json``, the ``Problem`` schema): its own ``HubError`` subclasses, the hub's authentication
(401, and 403 for a caller of the wrong kind) and the framework's refusals of a body it cannot parse (400) or
that is not what the route takes (422) all go through the hub's error handling. ``problems`` builds the
``responses`` an operation passes to FastAPI, so that the document lists exactly the statuses it can answer
(500 and 503 always: a failure, the store out of reach).
"""

from __future__ import annotations

from typing import Any

DESCRIPTIONS = {
    400: "The body cannot be read (not text the framework can parse)",
    401: "No valid credentials",
    403: "Not allowed for this caller",
    404: "Nothing of that id that this caller may see (unknown and another's are not told apart)",
    422: "The request cannot be taken (the body or the current state); every problem is listed; nothing changed",
    500: "The hub failed (or its [plugins.hostels] settings cannot be used); quote the incident id",
    503: "The store cannot be reached now: send the request again after Retry-After seconds",
}

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before sending the request again",
                                "schema": {"type": "integer", "minimum": 1}}}  # fmt: skip


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses (and 500, 503), each a problem document."""
    return {
        status: {
            "description": DESCRIPTIONS[status],
            "content": _PROBLEM,
            **({"headers": _RETRY_AFTER} if status == 503 else {}),
        }
        for status in sorted({*statuses, 500, 503})
    }
