"""The operator dashboard, served by the hub at ``/ui``: server-rendered pages in the NHS.UK look.

Pages are Jinja2 templates (``templates/``) on the NHS.UK frontend's stylesheet, which ships in this package
(``static/nhsuk``, copied from npm by ``make``: nothing is loaded from a CDN). Users log in with a name and
password (``hub users add``); their role decides what they see and do (``hub.services.users``). Each screen is a
module: ``pages_auth``, ``pages_overview``, ``pages_messages``, ``pages_dead``,
``pages_admin`` (partners, audit), ``pages_pathway`` (the pathway and 48-hour boards), ``pages_alerts``,
``pages_users``; plugins' screens (``hub_register_ui_screens``) are served by ``plugin_screens``; what they share
is ``web``. The
screens read and change the store only through ``hub.services``.
"""

from __future__ import annotations

import logging
from importlib import resources

from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from hub.ui import (
    pages_admin,
    pages_alerts,
    pages_auth,
    pages_dead,
    pages_messages,
    pages_overview,
    pages_pathway,
    pages_users,
    plugin_screens,
)
from hub.ui.web import LoginNeeded, Refused, page, visit

log = logging.getLogger("hub.ui")
PREFIX = "/ui"


def install(app: FastAPI) -> None:
    """Serve the dashboard's pages under ``/ui`` and its static files under ``/ui/static`` (not in OpenAPI)."""
    static = resources.files("hub.ui") / "static"
    if not (static / "nhsuk" / "nhsuk-frontend.min.css").is_file():
        log.warning("the dashboard's stylesheet is missing (hub/ui/static/nhsuk): run 'make' to install it; "
                    "the pages are served unstyled")  # fmt: skip
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(static), check_dir=False), name="ui-static")
    for module in (pages_auth, pages_overview, pages_messages, pages_dead, pages_admin, pages_pathway, pages_alerts,
                   pages_users):  # fmt: skip
        app.include_router(module.router(), prefix=PREFIX, include_in_schema=False)
    plugin_screens.install(app, app.state.hub.plugins.ui_screens)

    @app.get(PREFIX, include_in_schema=False)
    async def ui_root() -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    @app.exception_handler(LoginNeeded)
    async def login_needed(request: Request, exc: LoginNeeded) -> Response:
        return RedirectResponse(f"{PREFIX}/login", status_code=303)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        v = await visit(request)
        return page(v, "error.html", status=exc.status, title="Not done", message=exc.message)
