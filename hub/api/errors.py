"""How the API answers errors: every one a problem document, every one on the audit log.

``install_error_handling`` makes the hub's own errors (``HubError``), the framework's (unknown path, method not
allowed, a malformed parameter) and unexpected exceptions into ``application/problem+json`` and records each on
the audit log: ``request_refused`` for a 4xx, ``request_failed`` for a 500, except a 503 for a store that
cannot be reached (``StoreUnavailable``), since the audit log is in that store: the store's own log lines say
what failed, and the answer carries ``Retry-After``. A 500 carries an incident id that
is also in the hub's log, tells the caller an operator can see it, and does not ask the caller to send the same
request again (it would most likely fail the same way). The connection is kept open after a 500.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.problem import error_response, problem_response
from hub.plugin_api.events import HubEvent
from hub.plugin_api.problems import HubError, Problem, StoreUnavailable
from hub.store.ports import Store

log = logging.getLogger("hub.api")

INTERNAL_DETAIL = (
    "The hub failed while handling this {what}. An operator can see the failure in the hub's log (incident "
    "{incident}); the same {what} will most likely fail the same way until they have fixed the cause, so give "
    "them the incident id rather than sending it again."
)


def new_incident() -> str:
    """A short id that ties a 500 answer to its entry in the hub's log and audit log."""
    return uuid.uuid4().hex[:16]


def internal_problem(incident: str, what: str = "request") -> dict[str, Any]:
    """The fields of a 500 problem (also used for one failed line of a batch)."""
    return {"title": "Internal error", "detail": INTERNAL_DETAIL.format(what=what, incident=incident),
            "incident": incident}  # fmt: skip


async def audit_error(store: Store, scope: Scope, status: int, **detail: Any) -> None:
    """Record an error answer on the audit log (method, path without query, status, caller); never raises."""
    caller = scope.get("state", {}).get("caller")
    kind = "request_failed" if status >= 500 else "request_refused"
    event = HubEvent(kind, "", time.time(), actor=caller.id if caller else "anonymous",
                     detail={"status": status, "method": scope.get("method", ""), "path": scope.get("path", ""),
                             **detail})  # fmt: skip
    try:
        await store.audit_async([event])
    except Exception:
        log.exception("could not audit a %s answer", status)


async def answer_error(store: Store, scope: Scope, error: HubError) -> Response:
    """The problem response for ``error``, recorded on the audit log first (``audit_error``).

    A ``StoreUnavailable`` is not recorded: the audit log is in the store that is failing, and trying would
    only make the sender wait for the same failure twice.
    """
    if not isinstance(error, StoreUnavailable):
        await audit_error(store, scope, error.status)
    return error_response(error)


class ServerErrorGuard:
    """ASGI middleware: an unhandled exception becomes an audited 500 problem, and the connection stays open.

    It sits inside Starlette's own server-error middleware, which would answer too but then re-raise, and the
    server closes a connection whose application raised.
    """

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:  # too late to answer: let the server deal with a half-sent response
                raise
            incident = new_incident()
            log.exception("incident %s: %s on %s %s", incident, type(exc).__name__, scope.get("method"),
                          scope.get("path"))  # fmt: skip
            await audit_error(self.store, scope, 500, incident=incident)
            fields = internal_problem(incident)
            response = problem_response(500, fields["title"], fields["detail"], incident=incident)
            await response(scope, receive, send)


METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this request's path (asked of each route, included routers too)."""
    return [
        method
        for method in METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in request.app.routes)
    ]


def install_error_handling(app: FastAPI, store: Store) -> None:
    """Register the problem+json handlers and the 500 guard on ``app``."""

    @app.exception_handler(HubError)
    async def hub_error(request: Request, exc: HubError) -> Response:
        return await answer_error(store, request.scope, exc)

    @app.exception_handler(RequestValidationError)
    async def request_error(request: Request, exc: RequestValidationError) -> Response:
        await audit_error(store, request.scope, 422)
        # the framework's own message; its "input" (the value sent) is deliberately left out
        problems = [Problem(".".join(str(p) for p in e.get("loc", ())), e.get("msg", "")) for e in exc.errors()]
        return problem_response(422, "Invalid request", "The request's parameters are not valid.", problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        await audit_error(store, request.scope, exc.status_code)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # the router names only its first match's method; Allow lists them all
            headers["Allow"] = ", ".join(allowed_methods(request))
        return problem_response(exc.status_code, str(exc.detail), str(exc.detail), headers=headers or None)

    app.add_middleware(ServerErrorGuard, store=store)
