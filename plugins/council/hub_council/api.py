"""The council plugin's HTTP routes (``hub serve``, under ``/plugins/council``): Duty to Refer statuses.

- ``GET /plugins/council/referrals/{message_id}/status``: the current status and
  history of the referral whose HousingRequest had that ``message_id``. For the
  referrer that sent it, the council it was delivered to, or an operator; anyone
  else, or a referral with no status yet, gets 404 (the two are not told apart).
- ``GET /plugins/council/stats``: for operators, what ``hub council-stats --json``
  prints (response times, referrals by current status, time to each status).

Both read the hub's clear metadata (``HubData``), never a body.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from hub import Authenticated, NotFound, OperatorCaller
from hub_council.stats import council_reply_times, council_stats
from hub_council.status_stats import STATUS_TYPES, referral_statuses, status_stats

router = APIRouter()

_DESCRIPTIONS = {
    401: "No valid credentials", 403: "Not allowed for this caller", 404: "No status for a referral of yours",
    500: "The hub failed; quote the incident id", 503: "The store cannot be reached now; try again",
}  # fmt: skip


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses (and 500, 503): the hub's problem documents (RFC 9457)."""
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    wanted = sorted({*statuses, 500, 503})
    return {status: {"description": _DESCRIPTIONS[status], "content": problem} for status in wanted}


def _stats(data: Any) -> list[dict[str, Any]]:
    times = council_reply_times(data)
    by_council = {s.partner: s for s in status_stats(times, referral_statuses(data.status_replies(STATUS_TYPES)))}
    out = []
    for row in council_stats(times):
        found = by_council.get(row.partner)
        extra = {"by_current_status": found.current, "to_status": found.as_dict()["to_status"]} if found else {}
        out.append({**row.as_dict(), **extra})
    return out


@router.get(
    "/stats", summary="Council response times and Duty to Refer statuses (operators)", responses=_problems(401, 403)
)
async def stats(request: Request, caller: OperatorCaller) -> list[dict[str, Any]]:
    """Per council: response times, referrals by current status, and the time from delivery to each status."""
    return await asyncio.to_thread(_stats, request.app.state.hub.data)


@router.get(
    "/referrals/{message_id}/status",
    summary="The current Duty to Refer status of one referral",
    responses=_problems(401, 404),
)
async def referral_status(message_id: str, request: Request, caller: Authenticated) -> dict[str, Any]:
    """The referral's current status and history, for its referrer, its council or an operator; else 404."""
    data = request.app.state.hub.data
    rows = await asyncio.to_thread(data.status_replies, STATUS_TYPES)
    found = [
        r.as_dict()
        for r in referral_statuses(row for row in rows if row.message_id == message_id)
        if caller.is_operator or caller.id in (r.council, r.referrer)
    ]
    if not found:
        raise NotFound("No Duty to Refer status for a referral of yours with this message id (none yet, or not yours).")
    return {"referrals": found}
