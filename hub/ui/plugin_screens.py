"""Plugins' screens on the dashboard (``hub_register_ui_screens``) and the helpers their handlers use.

``install`` serves each ``UiScreen``'s router under ``/ui/plugins/NAME`` (out of the OpenAPI document), makes its
templates reachable as ``NAME/FILE.html`` and puts its title in the menu of users whose role allows it. The
helpers (exported by ``hub``) are the dashboard's own: the same session, CSRF check, layout and audit chain.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from hub.plugin_api.events import HubEvent
from hub.plugin_api.ui_screens import UI_ROLES, UiScreen
from hub.ui import web
from hub.ui.web import Visit, page, posted, redirect, signed_in

UiVisit = Visit
"""One request's signed-in user (``visit.user.name``, ``.role``, ``.sees_personal_data``) and hub (``visit.hub``)."""


def role_allows(role: str, needed: str) -> bool:
    """True when ``role`` is ``needed`` or above it in ``UI_ROLES``."""
    return role in UI_ROLES and UI_ROLES.index(role) >= UI_ROLES.index(needed)


def _check(v: Visit, role: str) -> Visit:
    assert v.user is not None
    v.need(role_allows(v.user.role, role), f"use this screen (it is for the {role} role and above)")
    return v


async def ui_signed_in(request: Request, role: str = "viewer") -> Visit:
    """The visit of a user logged in with ``role`` or above: otherwise a redirect to the login page (not logged in)
    or a 403 page (a lower role)."""
    return _check(await signed_in(request), role)


async def ui_posted(request: Request, role: str = "viewer") -> tuple[Visit, dict[str, list[str]]]:
    """A POST's visit and form (name: list of values), once its CSRF token matched the session's (403 otherwise,
    nothing done) and the user's role is ``role`` or above."""
    v, form = await posted(request)
    return _check(v, role), form


def ui_page(visit: Visit, template: str, *, title: str, status: int = 200, **context: Any) -> Response:
    """``template`` (``NAME/FILE.html`` of a screen's templates, or one of the hub's) rendered with ``title`` and
    ``context``; the dashboard's headers and session cookie are set."""
    return page(visit, template, status=status, title=title, **context)


def ui_redirect(visit: Visit, to: str) -> Response:
    """A 303 to ``to`` (after a POST), with the session cookie."""
    return redirect(visit, to)


def ui_audit(visit: Visit, screen: str, action: str, *, record_id: str = "", partner: str | None = None,
             detail: dict[str, Any] | None = None) -> None:  # fmt: skip
    """Record a ``ui_action`` on the audit chain with the user's name: ``screen`` and ``action`` and ``detail``
    (ids and codes only: never personal data). Blocking: call it in a thread."""
    assert visit.user is not None
    event = HubEvent("ui_action", record_id, time.time(), partner=partner,
                     detail={"screen": screen, "action": action, **(detail or {})}, actor=visit.user.name)  # fmt: skip
    visit.hub.store.record_view([event])


def install(app: FastAPI, screens: dict[str, UiScreen]) -> None:
    """Serve each screen's routes, templates and menu entry."""
    entries = []
    for name in sorted(screens):
        screen = screens[name]
        app.include_router(screen.router, prefix=screen.prefix, include_in_schema=False)
        if screen.templates is not None:
            web.add_templates(name, screen.templates)
        entries.append((screen.prefix + screen.path, screen.title, screen.role))
    app.state.ui_plugin_menu = entries
