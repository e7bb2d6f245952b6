"""``/v1/messages``: send one message, find messages about a person, read one message's state."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from hub.api import openapi as spec
from hub.api.deps import HubDep, SendingPartner, json_response, read_body
from hub.crypto.blind_index import nhs_index
from hub.identifiers import nhs_number_problem
from hub.outcomes import for_partner
from hub.plugin_api.callers import Authenticated, Caller
from hub.plugin_api.events import HubEvent
from hub.plugin_api.problems import InvalidMessage, NotFound, Problem
from hub.runtime import Hub
from hub.sealing import SEALED_MEDIA_TYPES


async def post_message(request: Request, caller: SendingPartner, hub: HubDep) -> Response:
    """Parse, check and commit one message from the calling partner; 202 once committed."""
    body = await read_body(request, hub)
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 200:
        raise InvalidMessage("The Idempotency-Key header is empty or too long.",
                             [Problem("header Idempotency-Key", "1 to 200 characters")])  # fmt: skip
    messages = hub.intake.parse(body, request.headers.get("content-type", ""), caller.id)
    if len(messages) != 1:
        raise InvalidMessage(
            f"This body holds {len(messages)} messages; send one per request or use /v1/messages:batch.",
            [Problem("$", "exactly one message expected")],
        )
    accepted = await hub.intake.submit(messages[0].message, sender_id=caller.id, idempotency_key=idempotency_key,
                                       warnings=messages[0].warnings)  # fmt: skip
    return json_response(accepted.as_dict(), 202)


async def find_messages(caller: Authenticated, hub: HubDep, nhs_number: str) -> Response:
    """The messages about one person the caller may read, found through the blind index; audited."""
    why = nhs_number_problem(nhs_number)
    if why:
        raise InvalidMessage("The NHS number to search for is not valid.", [Problem("query nhs_number", why)])
    index = nhs_index(hub.keys.index_key(), nhs_number)
    rows = await asyncio.to_thread(hub.store.find_by_index, index, None if caller.is_operator else caller.id)
    await hub.store.audit_async([HubEvent("searched", "", time.time(), actor=caller.id,
                                          detail={"by": "nhs_number", "found": len(rows)})])  # fmt: skip
    return json_response({"items": rows})


def message_view_for(hub: Hub, caller: Caller, message_id: str) -> dict[str, Any] | None:
    """The view of one message as ``caller`` may see it, or None when there is none it may see (blocking)."""
    if not caller.is_operator and not hub.store.may_read(caller.id, message_id):
        return None
    view = hub.store.message_view(message_id)
    if view is None or caller.is_operator:
        return view
    view = for_partner(view)  # error texts name other partners' hosts and addresses: operators only
    if view["sender"] != caller.id:
        # a recipient sees its own deliveries and their events, not other partners' or the routing detail
        view["deliveries"] = [d for d in view["deliveries"] if d["partner"] == caller.id]
        view["timeline"] = [e for e in view["timeline"] if e.get("partner") == caller.id]
        view["derived"] = []
    return view


async def get_message(message_id: str, caller: Authenticated, hub: HubDep) -> Response:
    """State and timeline of one message the caller may see; 404 otherwise."""
    view = await asyncio.to_thread(message_view_for, hub, caller, message_id)
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
