"""Dead letters: the reasons, replay one, replay in bulk by filter (a count and a confirmation first), drop one with
a reason code; and the transmissions listeners refused whole (listed only: nothing of them was stored).

A replay puts the same delivery back in the queue, so its message's tree shows the dead letter, the replay and
what came after on one timeline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from hub.plugin_api.events import HubEvent
from hub.services.console import DROP_REASONS, dead_deliveries, drop
from hub.services.dead_letters import dead_letters
from hub.services.errors import OperationRefused
from hub.services.intake import emit_events
from hub.services.replay import replay
from hub.ui.web import Refused, Visit, masked, one, page, posted, redirect, signed_in

LIMIT = 1000


def _back(partner: str, message_type: str, **done: object) -> str:
    query = {k: v for k, v in {"partner": partner, "type": message_type, **done}.items() if v not in ("", None)}
    return "/ui/dead-letters" + (f"?{urlencode(query)}" if query else "")


def router() -> APIRouter:
    """``/ui/dead-letters`` and its ``/replay``, ``/bulk``, ``/bulk/confirm`` and ``/drop`` forms."""
    r = APIRouter()

    @r.get("/dead-letters")
    async def dead_page(request: Request) -> Response:
        v = await signed_in(request)
        assert v.user is not None
        partner, message_type = request.query_params.get("partner", ""), request.query_params.get("type", "")
        store = v.hub.store
        rows = await asyncio.to_thread(dead_deliveries, store, partner=partner or None,
                                       message_type=message_type or None, limit=LIMIT)  # fmt: skip
        refused = (await asyncio.to_thread(dead_letters, store, 100)).refused_transmissions
        if v.user.sees_personal_data and (rows or refused):  # error texts may quote a body: who saw them is kept
            await asyncio.to_thread(store.record_view, [HubEvent("viewed", "", time.time(), actor=v.user.name,
                                    detail={"screen": "dead_letters", "shown": len(rows) + len(refused)})])  # fmt: skip
        for row in rows:
            row["error_shown"] = masked(v, row["last_error"])
        for row in refused:
            row["reason_shown"] = masked(v, str(row.get("reason") or row.get("error") or ""))
        return page(v, "dead_letters.html", title="Dead letters", rows=rows, refused=refused, partner=partner,
                    message_type=message_type, reasons=DROP_REASONS, done=request.query_params.get("done", ""),
                    count=request.query_params.get("count", ""))  # fmt: skip

    def notify(v: Visit) -> Callable[[list[HubEvent]], None]:
        return lambda events: emit_events(v.hub.plugins, events)

    @r.post("/dead-letters/replay")
    async def replay_one(request: Request) -> Response:
        v, form = await posted(request)
        assert v.user is not None
        v.need(v.user.may_change, "replay dead letters")
        events = await asyncio.to_thread(replay, v.hub.store, [one(form, "delivery_id")], notify=notify(v))
        return redirect(v, _back(one(form, "partner"), one(form, "type"), done="replayed", count=len(events)))

    @r.post("/dead-letters/bulk")
    async def bulk_ask(request: Request) -> Response:
        v, form = await posted(request)
        assert v.user is not None
        v.need(v.user.may_change, "replay dead letters")
        partner, message_type = one(form, "partner"), one(form, "type")
        rows = await asyncio.to_thread(dead_deliveries, v.hub.store, partner=partner or None,
                                       message_type=message_type or None, limit=LIMIT)  # fmt: skip
        return page(v, "bulk_confirm.html", title="Replay dead letters", rows=rows, partner=partner,
                    message_type=message_type)  # fmt: skip

    @r.post("/dead-letters/bulk/confirm")
    async def bulk_confirm(request: Request) -> Response:
        v, form = await posted(request)
        assert v.user is not None
        v.need(v.user.may_change, "replay dead letters")
        ids = [i for i in form.get("delivery_id", []) if i]
        if not ids:
            raise Refused(400, "No dead letters were chosen to replay.")
        events = await asyncio.to_thread(replay, v.hub.store, ids, notify=notify(v))
        return redirect(v, _back(one(form, "partner"), one(form, "type"), done="replayed", count=len(events)))

    @r.post("/dead-letters/drop")
    async def drop_one(request: Request) -> Response:
        v, form = await posted(request)
        assert v.user is not None
        v.need(v.user.may_change, "drop dead letters")
        try:
            await asyncio.to_thread(drop, v.hub.store, one(form, "delivery_id"), one(form, "reason"),
                                    actor=v.user.name)  # fmt: skip
        except OperationRefused as exc:
            raise Refused(409, str(exc)) from None
        return redirect(v, _back(one(form, "partner"), one(form, "type"), done="dropped", count=1))

    return r
