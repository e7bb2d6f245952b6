"""What the hub's route handlers share: the running ``Hub``, a size-limited body, the JSON answer."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from starlette.responses import Response

from hub.plugin_api.callers import Caller, partner_only
from hub.plugin_api.problems import PayloadTooLarge, UnparseableInput
from hub.runtime import Hub


def hub_of(request: Request) -> Hub:
    """The ``Hub`` this app serves (a dependency)."""
    hub: Hub = request.app.state.hub  # set by create_app; Starlette's app.state holds untyped attributes
    return hub


HubDep = Annotated[Hub, Depends(hub_of)]


def json_response(data: Any, status: int = 200) -> Response:
    """``data`` as an ``application/json`` answer."""
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def read_body(request: Request, hub: Hub) -> bytes:
    """The request's body; raises ``PayloadTooLarge`` past ``server.max_body_bytes`` without reading the rest."""
    limit = hub.config.settings.max_body_bytes
    metrics = hub.metrics
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            declared_size = int(declared)
        except ValueError:
            raise UnparseableInput("Content-Length is not a number.") from None
        if declared_size > limit:
            metrics.inc("hub_requests_refused_total", reason="too_large")
            raise PayloadTooLarge(f"The body is {declared_size} bytes; this hub accepts at most {limit}.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            metrics.inc("hub_requests_refused_total", reason="too_large")
            raise PayloadTooLarge(f"The body is over {limit} bytes, the most this hub accepts.")
        chunks.append(chunk)
    return b"".join(chunks)


SendingPartner = Annotated[
    Caller, Depends(partner_only("Operators read message states; only partners send and collect messages."))
]
"""A partner, for the routes that send and collect messages (an operator is answered 403)."""
