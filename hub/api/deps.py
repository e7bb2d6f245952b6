"""What the hub's route handlers share: the running ``Hub``, a size-limited body, parsing it, the JSON answer."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from starlette.responses import Response

from hub.plugin_api.callers import Caller, partner_only
from hub.plugin_api.problems import PayloadTooLarge, UnparseableInput
from hub.plugin_api.records import Parsed
from hub.runtime import Hub

OFF_LOOP_PARSE_BYTES = 32 * 1024
"""Bodies larger than this are parsed in the thread pool, so that a big bundle or envelope does not stall the
event loop (and every other request with it); smaller ones are parsed in place, where the hop would cost more
than the parse (docs/performance.md)."""

SEND_ONLY = "Operators read message states; only partners send and collect messages."


async def hub_of(request: Request) -> Hub:
    """The ``Hub`` this app serves (a dependency; a coroutine so that FastAPI does not send it to a thread)."""
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


async def parse_body(hub: Hub, body: bytes, content_type: str, sender_id: str) -> list[Parsed]:
    """``hub.intake.parse`` of a request body: off the event loop past ``OFF_LOOP_PARSE_BYTES``, in place below."""
    if len(body) > OFF_LOOP_PARSE_BYTES:
        return await asyncio.to_thread(hub.intake.parse, body, content_type, sender_id)
    return hub.intake.parse(body, content_type, sender_id)


SendingPartner = Annotated[Caller, Depends(partner_only(SEND_ONLY))]
"""A partner, for the routes that send and collect messages (an operator is answered 403)."""
