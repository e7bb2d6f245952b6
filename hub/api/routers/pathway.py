"""``/v1/pathway`` and ``/v1/pathways``: a scheduler's fire callback, and the pathway of one correlation id."""

from __future__ import annotations

import asyncio
import re

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from hub.api import openapi as spec
from hub.api.deps import HubDep, json_response
from hub.plugin_api.callers import Authenticated, SchedulerCaller
from hub.plugin_api.problems import Forbidden, InvalidMessage, NotFound, Problem
from hub.services.pathway_fire import TIMER_ID, fire
from hub.services.pathway_views import pathway_view

REASON = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


async def fire_timer(timer_id: str, request: Request, caller: SchedulerCaller, hub: HubDep) -> Response:
    """Fire one timer for a scheduler identity; 200 with the outcome whatever it is (the hub decides).

    The body must be empty or ``{}``. Outcomes: ``fired``, ``already_fired``, ``closed``, ``not_yet_due``,
    ``unknown``; every one but ``fired`` changes nothing but the audit chain, where each is recorded.
    """
    body = (await request.body()).strip()
    if body not in (b"", b"{}"):
        raise InvalidMessage("The body of a fire request is empty or {}.", [Problem("$", "expected {}")])
    if not TIMER_ID.match(timer_id):
        raise InvalidMessage("Not a timer id.", [Problem("path timer_id", "1-207 characters of A-Z a-z 0-9 . _ -")])
    outcome = await asyncio.to_thread(fire, hub, timer_id, fired_by=caller.id)
    return json_response({"timer_id": timer_id, "outcome": outcome})


async def get_pathway(correlation_id: str, caller: Authenticated, hub: HubDep) -> Response:
    """The milestones of one pathway the caller may see (a partner: those it is responsible for or started)."""
    partner = None if caller.is_operator else caller.id
    view = await asyncio.to_thread(pathway_view, hub.store, correlation_id, partner)
    if view is None:
        raise NotFound(f"No pathway {correlation_id} that you may see.")
    return json_response(view)


async def close_pathway(correlation_id: str, request: Request, caller: Authenticated, hub: HubDep) -> Response:
    """Close a pathway as a whole (operators, or a partner responsible for one of its milestones)."""
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError:
        raise InvalidMessage("The body is not JSON.", [Problem("$", 'expected {"reason": "..."}')]) from None
    reason = body.get("reason") if isinstance(body, dict) else None
    if not isinstance(reason, str) or not REASON.match(reason):
        why = "a short word such as readmission, death, consent-withdrawn"
        raise InvalidMessage("Say why the pathway closes.", [Problem("$.reason", why)])
    milestones = await asyncio.to_thread(hub.store.milestones, correlation_id=correlation_id)
    if not caller.is_operator:
        if not any(m["partner"] == caller.id for m in milestones):
            starts = [m["start_record"] for m in milestones]
            if await asyncio.to_thread(lambda: any(hub.store.may_read(caller.id, start) for start in starts)):
                raise Forbidden("Only a partner responsible for one of its milestones may close a pathway.")
            raise NotFound(f"No pathway {correlation_id} that you may see.")
    elif not milestones:
        raise NotFound(f"No pathway {correlation_id}.")
    events = await asyncio.to_thread(hub.pathway.close_pathway, correlation_id, reason, caller.id)
    return json_response({"correlation_id": correlation_id, "closed": bool(events), "reason": reason})


def router() -> APIRouter:
    """The ``/v1/pathway`` routes."""
    routes = APIRouter()
    routes.add_api_route(
        "/v1/pathway/timers/{timer_id}/fire", fire_timer, methods=["POST"],
        summary="Fire a pathway timer (scheduler identities only)",
        responses={**spec.success("TimerFired", "What firing the timer did"), **spec.problems(401, 403, 422)},
    )  # fmt: skip
    routes.add_api_route(
        "/v1/pathways/{correlation_id}", get_pathway, methods=["GET"],
        summary="The milestones of one care pathway",
        responses={**spec.success("PathwayView", "Its milestones and timers"), **spec.problems(401, 404)},
    )  # fmt: skip
    routes.add_api_route(
        "/v1/pathways/{correlation_id}/close", close_pathway, methods=["POST"],
        summary="Close a care pathway as a whole (readmission, death, consent withdrawn, ...)",
        responses={**spec.success("PathwayClosed", "Whether it closed now"), **spec.problems(401, 403, 404, 422)},
    )  # fmt: skip
    return routes
