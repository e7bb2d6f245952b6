"""``POST /v1/messages`` answered as plain ASGI, before FastAPI's routing.

It is the hub's busiest request, and FastAPI's layers around it (routing, dependency solving, the request and
response objects) cost more of the one core than the intake itself (docs/performance.md). ``MessageIntake`` takes
that one method and path and does what the route in ``hub.api.routers.messages`` does, in the same order and with
the same answers: authenticate (401), partners only (403), read the body within ``server.max_body_bytes`` (413),
then ``accept_one`` (Idempotency-Key, parse, exactly one message, validate, commit) and a 202 after the commit.
A ``HubError`` is put on the audit log and answered as problem+json exactly as the app's own handler does
(``answer_error``; a store that cannot be reached is a 503 with ``Retry-After``);
anything else goes up to ``ServerErrorGuard`` (an audited 500), which wraps this middleware. Every other request
goes on to FastAPI, which also keeps describing this one in the OpenAPI document.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.api.deps import SEND_ONLY, read_body
from hub.api.errors import answer_error
from hub.api.routers.messages import accept_one
from hub.plugin_api.callers import AUTHENTICATOR
from hub.plugin_api.problems import Forbidden, HubError
from hub.runtime import Hub

PATH = "/v1/messages"
_JSON = b"application/json"


class MessageIntake:
    """ASGI middleware serving ``POST /v1/messages`` for ``hub`` (see the module docstring)."""

    def __init__(self, app: ASGIApp, hub: Hub) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        hub = self.hub
        request = Request(scope, receive)
        try:
            caller = getattr(request.app.state, AUTHENTICATOR)(request)  # the app's authenticator, as routes use
            if caller.is_operator:
                raise Forbidden(SEND_ONLY)
            body = await read_body(request, hub)
            headers = request.headers
            accepted = await accept_one(hub, caller, body, headers.get("content-type", ""),
                                        headers.get("idempotency-key"))  # fmt: skip
        except HubError as exc:  # a StoreUnavailable too: 503 with Retry-After, never a 500
            await (await answer_error(hub.store, scope, exc))(scope, receive, send)
            return
        answer = orjson.dumps(accepted.as_dict())
        await send({"type": "http.response.start", "status": 202,
                    "headers": [(b"content-length", str(len(answer)).encode()), (b"content-type", _JSON)]})  # fmt: skip
        await send({"type": "http.response.body", "body": answer})
