"""``/healthz`` and ``/readyz``: for load balancers and orchestrators; no token needed."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from starlette.responses import Response

from hub.api import openapi as spec
from hub.api.deps import HubDep, json_response
from hub.api.problem import problem_response
from hub.plugin_api.problems import StoreUnavailable


async def healthz() -> Response:
    """The process is alive."""
    return json_response({"status": "ok"})


async def readyz(hub: HubDep) -> Response:
    """Ready when the store answers; lists the plugins that failed to load. 503 otherwise, with the reason.

    The reason names the fault (``StoreUnavailable.reason``: the database cannot be reached, no connection
    free in time, the writer stopped), never where the store is or who connects to it.
    """
    try:
        await asyncio.to_thread(hub.store.ping)
    except StoreUnavailable as exc:
        return problem_response(503, "Not ready", f"The store cannot be used: {exc.reason}.", reason=exc.reason,
                                headers={"Retry-After": str(exc.retry_after_seconds)})  # fmt: skip
    except Exception as exc:
        return problem_response(503, "Not ready", f"The store cannot be reached: {type(exc).__name__}")
    return json_response({"status": "ready", "plugins_failed": [i.name for i in hub.plugins.errors]})


def router() -> APIRouter:
    """The health and readiness routes."""
    routes = APIRouter()
    routes.add_api_route("/healthz", healthz, methods=["GET"], summary="The process is alive",
                         openapi_extra=spec.PUBLIC, responses=spec.success("Health", "Alive"))  # fmt: skip
    routes.add_api_route(
        "/readyz", readyz, methods=["GET"],
        summary="The hub can accept messages (store reachable); lists plugins that failed to load",
        openapi_extra=spec.PUBLIC, responses={**spec.success("Ready", "Ready"), **spec.problems(503)},
    )  # fmt: skip
    return routes
