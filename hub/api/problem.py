"""RFC 9457 problem details: every error the API returns, with every problem listed."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from hub.plugin_api.problems import HubError, Problem, StoreUnavailable

PROBLEM_TYPE_BASE = "urn:partner-hub:problem:"
_SLUGS = {
    400: "unparseable",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid",
    500: "internal",
    503: "unavailable",
}


def problem_response(
    status: int,
    title: str,
    detail: str,
    problems: list[Problem] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A ``application/problem+json`` response."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + _SLUGS.get(status, str(status)),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if problems:
        body["errors"] = [p.as_dict() for p in problems]
    body.update(extra)
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json", headers=headers)


def error_response(error: HubError) -> Response:
    """The problem response for a ``HubError``.

    A 401 says how to authenticate (``WWW-Authenticate``); a ``StoreUnavailable`` says when to come back
    (``Retry-After``, and ``retry_after_seconds`` in the body).
    """
    headers = {"WWW-Authenticate": 'Bearer realm="hub"'} if error.status == 401 else None
    extra = error.extra
    if isinstance(error, StoreUnavailable):
        headers = {"Retry-After": str(error.retry_after_seconds)}
        extra = {**extra, "retry_after_seconds": error.retry_after_seconds}
    return problem_response(error.status, error.title, error.detail, error.problems, headers, **extra)
