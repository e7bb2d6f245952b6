"""``/v1/inbox``: messages waiting for a partner that pulls, and the partner's confirmation it took one."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from hub.api import openapi as spec
from hub.api.deps import HubDep, SendingPartner, json_response
from hub.outbound import render_outbound
from hub.plugin_api.events import HubEvent
from hub.plugin_api.problems import NotFound
from hub.plugin_api.records import RenderError

log = logging.getLogger("hub.api")

NOT_RENDERED = "the hub could not render this message; an operator has been told"


def rendered_items(jobs: list[Any], partner: Any, adapter: Any, gate: Any) -> list[dict[str, Any]]:
    """Each waiting job rendered, minimised and sealed for ``partner`` (blocking: adapters and sealing do CPU work).

    A job that cannot be rendered is listed with an error instead, so it does not block the others.
    """
    items: list[dict[str, Any]] = []
    for job in jobs:
        item: dict[str, Any] = {"id": job.delivery_id, "message_id": job.message_id, "type": job.type}
        try:
            rendered = render_outbound(job, partner, adapter, gate)
        except RenderError as exc:
            log.warning("delivery %s to %s cannot be rendered: %s", job.delivery_id, partner.id, exc)
            items.append({**item, "error": NOT_RENDERED})
            continue
        is_json = rendered.content_type.endswith("json")
        body = orjson.loads(rendered.body) if is_json else rendered.body.decode("utf-8", "replace")
        items.append({**item, "content_type": rendered.content_type, "body": body})
    return items


async def get_inbox(caller: SendingPartner, hub: HubDep, limit: int = 50) -> Response:
    """The oldest waiting messages in the partner's format, through the same pipeline as a push; audited.

    Reading, rendering and sealing run in the thread pool, off the event loop that serves other requests.
    """
    partner = hub.config.partners.get(caller.id)
    assert partner is not None
    adapter = hub.plugins.adapter_for(partner.adapter)
    jobs = await asyncio.to_thread(hub.store.inbox, caller.id, max(1, min(limit, 500)))
    items = await asyncio.to_thread(rendered_items, jobs, partner, adapter, hub.gate)
    if jobs:
        now = time.time()
        await hub.store.audit_async([HubEvent("body_read", job.record_id, now, delivery_id=job.delivery_id,
                                              partner=caller.id, detail={"via": "inbox"}, actor=caller.id)
                                     for job in jobs])  # fmt: skip
    return json_response({"items": items})


async def ack_inbox(delivery_id: str, caller: SendingPartner, hub: HubDep) -> Response:
    """Mark a pulled message delivered; 404 when it is not waiting in the caller's inbox."""
    events = await asyncio.to_thread(hub.store.ack_inbox, caller.id, delivery_id, time.time())
    if events is None:
        raise NotFound(f"No waiting message {delivery_id} in your inbox.")
    hub.intake.emit(events)
    return json_response({"id": delivery_id, "status": "delivered"})


def router() -> APIRouter:
    """The inbox routes."""
    routes = APIRouter()
    routes.add_api_route(
        "/v1/inbox", get_inbox, methods=["GET"],
        summary="Messages waiting for a partner that pulls (limit is brought into 1..500)",
        responses={**spec.success("Inbox", "The oldest waiting messages"), **spec.problems(401, 403, 422)},
    )  # fmt: skip
    routes.add_api_route(
        "/v1/inbox/{delivery_id}/ack", ack_inbox, methods=["POST"], summary="Confirm a pulled message was taken",
        responses={**spec.success("InboxAck", "Taken: the delivery is delivered"), **spec.problems(401, 403, 404)},
    )  # fmt: skip
    return routes
