"""``GET /metrics``: the Prometheus text format, for operators only (its labels name partners).

It shows every hub process on this machine (they share the metrics directory, see ``hub/metrics/``).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import PlainTextResponse, Response

from hub.api import openapi as spec
from hub.api.deps import HubDep
from hub.plugin_api.callers import Caller, operator_only

MetricsReader = Annotated[Caller, Depends(operator_only("Metrics are for operators."))]


async def metrics_endpoint(caller: MetricsReader, hub: HubDep) -> Response:
    """Every process's counters and histograms, and the gauges (they read the store and plugins', so off the loop)."""
    text = await asyncio.to_thread(hub.metrics.render)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")


def router() -> APIRouter:
    """The metrics route."""
    routes = APIRouter()
    routes.add_api_route(
        "/metrics", metrics_endpoint, methods=["GET"],
        summary="Prometheus metrics (operators only: they name partners)",
        response_class=PlainTextResponse,
        responses={200: {"description": "The Prometheus text format",
                         "content": {"text/plain": {"schema": {"type": "string"}}}},
                   **spec.problems(401, 403)},
    )  # fmt: skip
    return routes
