"""The overview: per partner and type, accepted and delivered in the last hour; queue depths; failing partners;
the alerts firing now."""

from __future__ import annotations

import asyncio

import orjson
from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import Response

from hub.services.console import WINDOW_MINUTES, overview
from hub.ui.chart import line_chart
from hub.ui.pages_alerts import firing
from hub.ui.web import page, signed_in


def router() -> APIRouter:
    """``GET /ui/`` (the page) and ``GET /ui/overview.json`` (the same figures as JSON)."""
    r = APIRouter()

    @r.get("/")
    async def overview_page(request: Request) -> Response:
        v = await signed_in(request)
        seen = await asyncio.to_thread(overview, v.hub.store)
        chart = Markup(line_chart(seen.series, f"Messages accepted and delivered per minute, last {WINDOW_MINUTES} "
                                               "minutes"))  # fmt: skip
        alerts = await asyncio.to_thread(firing, v.hub.store)
        return page(v, "overview.html", title="Overview", seen=seen, chart=chart, window=WINDOW_MINUTES, alerts=alerts)

    @r.get("/overview.json")
    async def overview_json(request: Request) -> Response:
        await signed_in(request)
        seen = await asyncio.to_thread(overview, request.app.state.hub.store)
        alerts = await asyncio.to_thread(firing, request.app.state.hub.store)
        data = {"since": seen.since, "rows": seen.rows, "series": seen.series, "queues": seen.queues,
                "failing": seen.failing, "alerts": alerts}  # fmt: skip
        return Response(orjson.dumps(data), media_type="application/json", headers={"Cache-Control": "no-store"})

    return r
