"""Logging in and out of the dashboard."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from starlette.responses import Response

from hub.plugin_api.events import HubEvent
from hub.services.users import log_in
from hub.ui.sessions import Session
from hub.ui.web import one, page, posted, redirect, sign_in, visit


def router() -> APIRouter:
    """``GET /ui/login`` (the form), ``POST /ui/login`` and ``POST /ui/logout``."""
    r = APIRouter()

    @r.get("/login")
    async def login_form(request: Request) -> Response:
        v = await visit(request)
        if v.user is not None:
            return redirect(v, "/ui/")
        return page(v, "login.html", title="Log in", error=None, name="")

    @r.post("/login")
    async def login(request: Request) -> Response:
        v, form = await posted(request, need_user=False)
        name, password = one(form, "name"), (form.get("password") or [""])[0]
        if not name or not password:
            return page(v, "login.html", status=400, title="Log in", name=name,
                        error="Enter your user name and your password.")  # fmt: skip
        result = await asyncio.to_thread(log_in, v.hub.store, name, password, via="dashboard")
        if result.user is None:
            return page(v, "login.html", status=401, title="Log in", name=name,
                        error="The user name or password is wrong, or the account is locked for a while after "
                              "failed attempts. Try again later, or ask an administrator.")  # fmt: skip
        sign_in(v, result.user)  # a new session and CSRF token: no fixation
        return redirect(v, "/ui/")

    @r.post("/logout")
    async def logout(request: Request) -> Response:
        v, _ = await posted(request)
        assert v.user is not None
        await asyncio.to_thread(
            v.hub.store.record_view,
            [HubEvent("logout", "", time.time(), detail={"via": "dashboard"}, actor=v.user.name)],
        )
        v.session, v.user = Session.new("", time.time()), None
        return redirect(v, "/ui/login")

    return r
