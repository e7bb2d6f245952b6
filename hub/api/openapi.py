"""The pieces of the OpenAPI document that say what the API really does.

Every operation declares each status it can answer, errors as ``application/problem+json`` with the
``Problem`` schema, and its success body's schema. ``message_body_content`` builds the media types
``POST /v1/messages`` accepts from the adapters actually loaded (and the sealed envelope types), so the
document never names a format the hub cannot read, nor misses one a plugin adds. ``finish`` adds the shared
schemas (``CanonicalMessage`` naming the registered message types) and the bearer scheme to the document
FastAPI generates.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hub.canonical import SCHEMA_VERSION
from hub.plugin_api.records import Adapter

STATUS_DESCRIPTIONS = {
    400: "The body cannot be read (see the problem's errors for where)",
    401: "No bearer token (or client certificate), or one the hub does not know",
    403: "The caller may not do this (an operator on a partner's endpoint, a partner on an operator's, a scheduler "
    "identity anywhere but the fire callback)",
    404: "Nothing there that this caller may see",
    409: "The message_id or Idempotency-Key was already used for a different message",
    413: "The body is over the hub's size limit (or a batch has too many lines)",
    415: "No loaded adapter reads this Content-Type",
    422: "The message or a parameter breaks a schema or a rule; every problem is listed",
    500: "The hub failed; an operator can see the incident in the hub's log",
    503: "The hub's store cannot be reached now (or is busy): send the request again after Retry-After seconds",
}


RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before sending the request again",
                               "schema": {"type": "integer", "minimum": 1}}}  # fmt: skip


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entries for error statuses, each a problem document (500 and 503 always included)."""
    return {
        status: {
            "description": STATUS_DESCRIPTIONS[status],
            "content": {"application/problem+json": {"schema": _ref("Problem")}},
            **({"headers": RETRY_AFTER} if status == 503 else {}),
        }
        for status in sorted({*statuses, 500, 503})
    }


def success(schema: str, description: str, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entry for a JSON success body described by component ``schema``."""
    return {status: {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}}


def is_json_media_type(media_type: str) -> bool:
    """``application/json`` and the ``+json`` family."""
    return media_type == "application/json" or media_type.endswith("+json")


def message_body_content(adapters: Iterable[Adapter], sealed: Iterable[str]) -> dict[str, Any]:
    """The request body media types of ``POST /v1/messages``: what the loaded adapters parse, and envelopes.

    What an adapter marked ``canonical = True`` reads (the hub's own format) is described by the
    ``CanonicalMessage`` schema; another adapter's JSON type as an object, anything else (XML, HL7 v2, a
    compact envelope) as text.
    """
    content: dict[str, Any] = {}
    for adapter in adapters:
        for media_type in adapter.content_types:
            if getattr(adapter, "canonical", False) is True:
                schema: dict[str, Any] = _ref("CanonicalMessage")
            elif is_json_media_type(media_type):
                schema = {"type": "object"}
            else:
                schema = {"type": "string"}
            content.setdefault(media_type, {"schema": schema})
    for media_type in sealed:
        content.setdefault(
            media_type, {"schema": {"type": "object"} if is_json_media_type(media_type) else {"type": "string"}}
        )
    return dict(sorted(content.items()))


_STRING = {"type": "string"}
_STRINGS = {"type": "array", "items": _STRING}
_NULLABLE_STRING = {"type": ["string", "null"]}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Problem": {
        "description": "An error (RFC 9457). `errors` lists every problem found, each with where and what.",
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": _STRING,
            "title": _STRING,
            "status": {"type": "integer"},
            "detail": _STRING,
            "errors": {"type": "array", "items": _ref("ProblemItem")},
            "incident": {"type": "string", "description": "On a 500: the id of the failure in the hub's log"},
        },
    },
    "ProblemItem": {
        "type": "object",
        "required": ["location", "detail"],
        "properties": {"location": _STRING, "detail": _STRING},
    },
    "CanonicalMessage": {
        "description": "A canonical message of a registered type (each with its full JSON Schema, from the plugin that "
        "registers it); the hub "
        "checks rules no schema can say (the NHS number's Modulus 11, the sender being the caller, ...).",
        "type": "object",
        "required": ["message_id", "type", "schema_version", "created_at", "sender", "payload"],
        "properties": {
            "message_id": _STRING,
            "type": {"enum": []},  # the registered message types: see finish()
            "schema_version": {"const": SCHEMA_VERSION},
            "created_at": _STRING,
            "sender": {"type": "object", "required": ["org_id"], "properties": {"org_id": _STRING}},
            "payload": {"type": "object"},
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["id", "status", "duplicate"],
        "properties": {
            "id": _STRING,
            "status": {"const": "accepted"},
            "duplicate": {"type": "boolean"},
            "notes": _STRINGS,
        },
    },
    "BatchResult": {
        "type": "object",
        "required": ["accepted", "rejected", "results"],
        "properties": {
            "accepted": {"type": "integer", "minimum": 0},
            "rejected": {"type": "integer", "minimum": 0},
            "results": {"type": "array", "items": {"oneOf": [_ref("BatchLineAccepted"), _ref("BatchLineProblem")]}},
        },
    },
    "BatchLineAccepted": {
        "type": "object",
        "required": ["line", "id", "status", "duplicate"],
        "properties": {
            "line": {"type": "integer", "minimum": 1},
            "id": _STRING,
            "status": {"const": 202},
            "duplicate": {"type": "boolean"},
            "notes": _STRINGS,
        },
    },
    "BatchLineProblem": {
        "type": "object",
        "required": ["line", "status", "title", "detail"],
        "properties": {
            "line": {"type": "integer", "minimum": 1},
            "status": {"type": "integer", "minimum": 400},
            "title": _STRING,
            "detail": _STRING,
            "errors": {"type": "array", "items": _ref("ProblemItem")},
            "incident": _STRING,
        },
    },
    "MessageSummary": {
        "type": "object",
        "required": ["id", "message_id", "type", "sender", "received_at"],
        "properties": {
            "id": _STRING,
            "message_id": _STRING,
            "type": _STRING,
            "sender": _STRING,
            "received_at": _STRING,
        },
    },
    "MessageList": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref("MessageSummary")}},
    },
    "TimerFired": {
        "description": "What a scheduler's fire callback did: only `fired` changed the pathway; every outcome is "
        "recorded on the audit chain.",
        "type": "object",
        "required": ["timer_id", "outcome"],
        "properties": {
            "timer_id": _STRING,
            "outcome": {"enum": ["fired", "already_fired", "closed", "not_yet_due", "unknown"]},
        },
    },
    "PathwayView": {
        "description": "The milestones of one care pathway (docs/pathway.md lists every field).",
        "type": "object",
        "required": ["correlation_id", "milestones"],
        "properties": {"correlation_id": _STRING, "closed": {}, "milestones": {"type": "array"}},
    },
    "PathwayClosed": {
        "description": "Whether the pathway closed now (false: it was closed already).",
        "type": "object",
        "required": ["correlation_id", "closed", "reason"],
        "properties": {"correlation_id": _STRING, "closed": {"type": "boolean"}, "reason": _STRING},
    },
    "MessageView": {
        "description": "State, deliveries and timeline of one message (docs/api.md lists every field).",
        "type": "object",
        "required": ["id", "message_id", "type", "sender", "status", "deliveries", "derived", "timeline"],
        "properties": {
            "id": _STRING,
            "message_id": _STRING,
            "type": _STRING,
            "sender": _STRING,
            "correlation_id": _NULLABLE_STRING,
            "in_reply_to": _NULLABLE_STRING,
            "derived_from": _NULLABLE_STRING,
            "received_at": _STRING,
            "status": _STRING,
            "deliveries": {"type": "array", "items": {"type": "object"}},
            "derived": {"type": "array", "items": {"type": "object"}},
            "timeline": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Inbox": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref("InboxItem")}},
    },
    "InboxItem": {
        "description": "A waiting message in the partner's format; `error` instead of `content_type` and `body` "
        "when the hub could not render it.",
        "type": "object",
        "required": ["id", "message_id", "type"],
        "properties": {
            "id": _STRING,
            "message_id": _STRING,
            "type": _STRING,
            "content_type": _STRING,
            "body": {"description": "a JSON value for a JSON content_type, otherwise text"},
            "error": _STRING,
        },
    },
    "InboxAck": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {"id": _STRING, "status": {"const": "delivered"}},
    },
    "Health": {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
    "Ready": {
        "type": "object",
        "required": ["status", "plugins_failed"],
        "properties": {"status": {"const": "ready"}, "plugins_failed": _STRINGS},
    },
}

PUBLIC: dict[str, Any] = {"security": []}
"""``openapi_extra`` for an operation that needs no token."""


def finish(document: dict[str, Any], message_types: Iterable[str]) -> dict[str, Any]:
    """Add the shared schemas and the bearer scheme (required unless an operation says ``security: []``).

    ``CanonicalMessage.type`` lists ``message_types`` (the registered ones, in the order given).

    FastAPI adds a JSON 422 to every operation with a parameter; an operation that can answer 422 declares
    it (as a problem), so those are removed, and with them the schemas only they used.

    Every operation that needs a token declares 403: a scheduler identity's token is a valid one, refused on
    every operation but the fire callback (``hub.api.security``).
    """
    components = document.setdefault("components", {})
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            invalid = responses.get("422", {})
            if "application/problem+json" not in invalid.get("content", {"application/problem+json": None}):
                del responses["422"]
            if operation.get("security") != [] and "403" not in responses:
                responses["403"] = problems(403)[403]
                operation["responses"] = dict(sorted(responses.items()))
    for name in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(name, None)
    schemas = {name: dict(schema) for name, schema in SCHEMAS.items()}
    canonical = schemas["CanonicalMessage"]
    canonical["properties"] = {**canonical["properties"], "type": {"enum": list(message_types)}}
    components.setdefault("schemas", {}).update(schemas)
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "The token the hub's operator issued to a partner or an operator",
        }
    }
    document["security"] = [{"bearer": []}]
    return document
