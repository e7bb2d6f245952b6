"""``/v1/messages``: send one message, find messages about a person, read one message's state."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import Response

from hub.api import openapi as spec
from hub.api.deps import HubDep, SendingPartner, json_response, parse_body, read_body
from hub.crypto.blind_index import search_keys
from hub.plugin_api.callers import Authenticated, Caller
from hub.plugin_api.problems import InvalidMessage, NotFound, Problem
from hub.runtime import Hub
from hub.sealing import SEALED_MEDIA_TYPES
from hub.services.errors import OperationRefused
from hub.services.intake import Accepted
from hub.services.messages import find_by_nhs_number, view_for_caller


async def accept_one(hub: Hub, caller: Caller, body: bytes, content_type: str,
                     idempotency_key: str | None) -> Accepted:  # fmt: skip
    """Check the Idempotency-Key, parse ``body``, and commit the one message it must hold; raises ``HubError``.

    What ``POST /v1/messages`` does once the caller is known to be a partner and the body is read, whether
    ``hub.api.intake_asgi`` serves the request (as it does in a running hub) or the route below.
    """
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 200:
        raise InvalidMessage("The Idempotency-Key header is empty or too long.",
                             [Problem("header Idempotency-Key", "1 to 200 characters")])  # fmt: skip
    messages = await parse_body(hub, body, content_type, caller.id)
    if len(messages) != 1:
        raise InvalidMessage(
            f"This body holds {len(messages)} messages; send one per request or use /v1/messages:batch.",
            [Problem("$", "exactly one message expected")],
        )
    return await hub.intake.submit(messages[0].message, sender_id=caller.id, idempotency_key=idempotency_key,
                                   warnings=messages[0].warnings)  # fmt: skip


async def post_message(request: Request, caller: SendingPartner, hub: HubDep) -> Response:
    """Parse, check and commit one message from the calling partner; 202 once committed.

    The app built by ``create_app`` answers this request in ``hub.api.intake_asgi`` before FastAPI's routing
    (same steps, same answers); this route describes it in the OpenAPI document and serves it in an app built
    without that middleware.
    """
    body = await read_body(request, hub)
    headers = request.headers
    accepted = await accept_one(hub, caller, body, headers.get("content-type", ""), headers.get("idempotency-key"))
    return json_response(accepted.as_dict(), 202)


async def find_messages(caller: Authenticated, hub: HubDep, nhs_number: str) -> Response:
    """The messages about one person the caller may read, found through the blind index; audited."""
    try:
        rows = await asyncio.to_thread(find_by_nhs_number, hub.store, search_keys(hub.keys), nhs_number,
                                       actor=caller.id, partner=None if caller.is_operator else caller.id)  # fmt: skip
    except OperationRefused as refused:
        raise InvalidMessage("The NHS number to search for is not valid.",
                             [Problem("query nhs_number", str(refused))]) from None  # fmt: skip
    return json_response({"items": rows})


async def get_message(message_id: str, caller: Authenticated, hub: HubDep) -> Response:
    """State and timeline of one message the caller may see; 404 otherwise."""
    view = await asyncio.to_thread(view_for_caller, hub.store, message_id, caller=caller.id,
                                   is_operator=caller.is_operator)  # fmt: skip
    if view is None:
        raise NotFound(f"No message {message_id} that you may see.")
    return json_response(view)


def router(hub: Hub) -> APIRouter:
    """The ``/v1/messages`` routes; the request body types are those ``hub``'s loaded adapters parse."""
    routes = APIRouter()
    routes.add_api_route(
        "/v1/messages", post_message, methods=["POST"], status_code=202, summary="Send one message",
        responses={**spec.success("Accepted", "Committed (or recognised as a repeat)", 202),
                   **spec.problems(400, 401, 403, 409, 413, 415, 422)},
        openapi_extra={
            "requestBody": {"required": True,
                            "content": spec.message_body_content(hub.plugins.adapters.values(), SEALED_MEDIA_TYPES)},
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 200}}],
        },
    )  # fmt: skip
    routes.add_api_route(
        "/v1/messages", find_messages, methods=["GET"],
        summary="Find messages about one person by NHS number (through the blind index)",
        responses={**spec.success("MessageList", "The messages you may read about this person"),
                   **spec.problems(401, 422)},
    )  # fmt: skip
    routes.add_api_route(
        "/v1/messages/{message_id}", get_message, methods=["GET"], summary="State and timeline of one message",
        responses={**spec.success("MessageView", "The message's state"), **spec.problems(401, 404)},
    )  # fmt: skip
    return routes
