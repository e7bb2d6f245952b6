"""The HTTP API as described in the hub's contract (``docs/api.md``), built from routers.

Every call is authenticated with ``Authorization: Bearer <token>`` (or a partner's client certificate). A
partner sends messages and reads only what it sent or what is addressed to it; an operator reads everything.
Errors are ``application/problem+json`` with every problem and its location. A 202 is sent only after the
message is committed. The app's lifespan runs the hub's lifecycle (``hub.lifecycle``): the delivery worker
and the listeners, started with the app and stopped with it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI

from hub.api import openapi as spec
from hub.api.errors import install_error_handling
from hub.api.intake_asgi import MessageIntake
from hub.api.routers import batch, docs, health, inbox, messages, metrics, pathway
from hub.api.security import authenticate
from hub.lifecycle import HubLifecycle
from hub.plugin_api.callers import AUTHENTICATOR, authenticated
from hub.plugin_api.records import RouteSpec
from hub.runtime import Hub
from hub.ui import install as install_dashboard

log = logging.getLogger("hub.api")

TITLE = "Partner hub API"


def create_app(hub: Hub, *, run_worker: bool = True, run_listeners: bool = True) -> FastAPI:
    """Build the ASGI app for ``hub``.

    With ``run_worker`` the delivery worker runs in-process; with ``run_listeners`` the listeners ``hub.toml``
    enables start with the app. Plugins' routes (``hub_register_routes``) are served under ``/plugins/NAME``.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.started_at = time.time()
        async with HubLifecycle(hub, run_worker=run_worker, run_listeners=run_listeners):
            stop = asyncio.Event()
            tasks: list[asyncio.Future[None]] = [
                asyncio.ensure_future(routes.background(hub, stop))
                for routes in hub.plugins.routes.values()
                if routes.background is not None
            ]
            try:
                yield
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)

    app = FastAPI(
        title=TITLE,
        version="1",
        description="Exchange discharge notices, housing requests and appointments, referrals and IPS referrals "
        "between NHS trusts, councils, hostels and charities.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.hub = hub
    setattr(app.state, AUTHENTICATOR, authenticate)
    app.add_middleware(MessageIntake, hub=hub)  # added first, so that the error handling below wraps it
    install_error_handling(app, hub.store)
    for router in (messages.router(hub), batch.router(), inbox.router(), health.router(), metrics.router(),
                   pathway.router(), docs.router(TITLE)):  # fmt: skip
        app.include_router(router)
    for routes in hub.plugins.routes.values():
        include_plugin_routes(app, routes)
    install_dashboard(app)  # the operator dashboard under /ui (docs/dashboard.md)

    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = spec.finish(original_openapi(), sorted(hub.plugins.message_types))
            for routes in hub.plugins.routes.values():
                if routes.public:  # the document must not ask for a token these routes do not need
                    mark_public(document, routes.prefix)
            app.openapi_schema = document
        return app.openapi_schema

    # FastAPI's documented way to shape the OpenAPI document is to replace this method on the instance
    app.openapi = openapi  # type: ignore[method-assign]
    return app


def include_plugin_routes(app: FastAPI, routes: RouteSpec) -> None:
    """Serve a plugin's router under its own prefix, authenticated unless it is public."""
    app.include_router(
        routes.router,
        prefix=routes.prefix,
        tags=[f"plugin {routes.name}"],
        dependencies=[] if routes.public else [Depends(authenticated)],
    )
    log.info("plugin routes %s served under %s", routes.name, routes.prefix)


def mark_public(document: dict[str, Any], prefix: str) -> None:
    """Say in the OpenAPI ``document`` that the operations under ``prefix`` need no token."""
    for path, operations in document.get("paths", {}).items():
        if path == prefix or path.startswith(f"{prefix}/"):
            for operation in operations.values():
                operation.update(spec.PUBLIC)
