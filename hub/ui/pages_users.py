"""Users in the browser (admins only): the list, adding one with a role, disabling one, giving one a new password.

Every form carries the session's CSRF token; each change is on the audit chain with the admin's name (the store
writes it in the change's transaction). A new password, like disabling, ends the user's open sessions at their next
request (``hub.ui.web.visit``); an admin who sets their own keeps the session they set it from. Nobody disables
themselves here, and the last enabled admin is never disabled (``hub.services.users.disable_user``), so someone is
always left to manage users.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from hub.services.errors import OperationRefused
from hub.services.users import MIN_PASSWORD, ROLES, add_user, disable_user, list_users, reset_password
from hub.ui.web import Visit, one, page, posted, redirect, restamp, signed_in


def _admin(v: Visit) -> str:
    assert v.user is not None
    v.need(v.user.may_manage_users, "manage users")
    return v.user.name


def router() -> APIRouter:
    """``GET /ui/users`` and its ``/add``, ``/disable`` and ``/password`` forms."""
    r = APIRouter()

    async def listing(v: Visit, *, done: str = "", errors: list[str] | None = None, status: int = 200,
                      form: dict[str, str] | None = None) -> Response:  # fmt: skip
        rows = await asyncio.to_thread(list_users, v.hub.store)
        return page(v, "users.html", status=status, title="Users", rows=rows, roles=ROLES, done=done,
                    errors=errors or [], form=form or {}, min_password=MIN_PASSWORD)  # fmt: skip

    @r.get("/users")
    async def users_page(request: Request) -> Response:
        v = await signed_in(request)
        _admin(v)
        return await listing(v, done=request.query_params.get("done", ""))

    @r.post("/users/add")
    async def users_add(request: Request) -> Response:
        v, form = await posted(request)
        actor = _admin(v)
        name, role, password = one(form, "name"), one(form, "role"), (form.get("password") or [""])[0]
        if password != (form.get("password_again") or [""])[0]:
            return await listing(v, errors=["Password: the two passwords differ"], status=400,
                                 form={"name": name, "role": role})  # fmt: skip
        try:
            await asyncio.to_thread(add_user, v.hub.store, name, role, password, actor=actor)
        except OperationRefused as exc:
            return await listing(v, errors=[f"New user: {exc}"], status=400, form={"name": name, "role": role})
        return redirect(v, "/ui/users?" + urlencode({"done": f"{name} added as {role}"}))

    @r.post("/users/disable")
    async def users_disable(request: Request) -> Response:
        v, form = await posted(request)
        actor = _admin(v)
        name = one(form, "name")
        if name == actor:
            return await listing(v, errors=["You cannot disable yourself: ask another admin"], status=409)
        try:
            await asyncio.to_thread(disable_user, v.hub.store, name, actor=actor)
        except OperationRefused as exc:
            return await listing(v, errors=[f"Disable: {exc}"], status=409)
        return redirect(v, "/ui/users?" + urlencode({"done": f"{name} disabled"}))

    @r.post("/users/password")
    async def users_password(request: Request) -> Response:
        v, form = await posted(request)
        actor = _admin(v)
        name, password = one(form, "name"), (form.get("password") or [""])[0]
        try:
            await asyncio.to_thread(reset_password, v.hub.store, name, password, actor=actor)
        except OperationRefused as exc:
            return await listing(v, errors=[f"New password for {name}: {exc}"], status=400)
        if name == actor:  # the user's other sessions end; this one goes on, stamped anew
            await restamp(v)
        return redirect(v, "/ui/users?" + urlencode({"done": f"{name} has a new password"}))

    return r
