"""``/v1/pathway``: the callback an external milestone scheduler makes when a timer is due."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import Response

from hub.api import openapi as spec
from hub.api.deps import HubDep, json_response
from hub.plugin_api.callers import SchedulerCaller
from hub.plugin_api.problems import InvalidMessage, Problem
from hub.services.pathway_fire import TIMER_ID, fire


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


def router() -> APIRouter:
    """The ``/v1/pathway`` routes."""
    routes = APIRouter()
    routes.add_api_route(
        "/v1/pathway/timers/{timer_id}/fire", fire_timer, methods=["POST"],
        summary="Fire a pathway timer (scheduler identities only)",
        responses={**spec.success("TimerFired", "What firing the timer did"), **spec.problems(401, 403, 422)},
    )  # fmt: skip
    return routes
