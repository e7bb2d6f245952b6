"""What every dashboard page shares: templates, the visitor's session and user, forms with CSRF, answers.

A handler calls ``signed_in`` (a GET) or ``posted`` (a POST: form read, CSRF checked) first; they raise
``LoginNeeded`` (answered with a redirect to the login page) or ``Refused`` (answered with an error page). Every
answer made with ``page`` or ``redirect`` sets the session cookie again, so its idle expiry moves on.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from fastapi import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hub.runtime import Hub
from hub.services.users import User, active_user
from hub.ui import sessions
from hub.ui.sessions import Session

MAX_FORM_BYTES = 64 * 1024

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(resources.files("hub.ui") / "templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def when(value: float | str | None) -> str:
    """A time for people: ``2026-12-03 18:07:09 UTC`` (an ISO string or epoch seconds); empty for None."""
    if value is None or value == "":
        return ""
    at = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else (
        datetime.fromtimestamp(value, UTC))  # fmt: skip
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


_env.filters["when"] = when


class LoginNeeded(Exception):
    """No signed-in user (or the session expired): the answer is a redirect to the login page."""


class Refused(Exception):
    """A request refused with ``status`` and a sentence for the user (a bad CSRF token, a role, bad input)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Visit:
    """One request's session and signed-in user (None before login)."""

    request: Request
    session: Session
    user: User | None

    @property
    def hub(self) -> Hub:
        """The hub this dashboard belongs to."""
        hub: Hub = self.request.app.state.hub
        return hub

    def need(self, allowed: bool, what: str) -> None:
        """Refuse with 403 unless ``allowed``: ``what`` says what the user's role may not do."""
        if not allowed:
            role = self.user.role if self.user else "anonymous"
            raise Refused(403, f"Your role ({role}) may not {what}.")


def _key(request: Request) -> bytes:
    """The session key, derived afresh each time: every process of the hub agrees on it, and a new index key
    (``hub keys rotate-index``) ends every session."""
    hub: Hub = request.app.state.hub
    return sessions.session_key(hub.keys.index_key())


async def visit(request: Request) -> Visit:
    """The visitor's session (a new anonymous one when there is none or it expired) and signed-in user."""
    now = time.time()
    session = sessions.decode(request.cookies.get(sessions.COOKIE), _key(request))
    if session is None or session.expired(now):
        session = Session.new("", now)
    user = None
    if session.user:
        hub: Hub = request.app.state.hub
        user = await asyncio.to_thread(active_user, hub.store, session.user)
        if user is None:  # disabled (or removed) since it logged in
            session = Session.new("", now)
    return Visit(request, session.touched(now), user)


async def signed_in(request: Request) -> Visit:
    """The visit of a signed-in user; ``LoginNeeded`` otherwise."""
    v = await visit(request)
    if v.user is None:
        raise LoginNeeded()
    return v


async def read_form(request: Request) -> dict[str, list[str]]:
    """An ``application/x-www-form-urlencoded`` body as lists of values; refused past ``MAX_FORM_BYTES``."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise Refused(413, "The form is too large.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "The form is not UTF-8.") from None
    out: dict[str, list[str]] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        out.setdefault(name, []).append(value)
    return out


async def posted(request: Request, *, need_user: bool = True) -> tuple[Visit, dict[str, list[str]]]:
    """A POST's visit and form, after its CSRF token was checked against the session's (403 if it differs)."""
    v = await visit(request)
    form = await read_form(request)
    if not sessions.csrf_ok(v.session, one(form, "csrf_token") or None):
        raise Refused(403, "This form has expired or did not come from this dashboard: go back, reload the page "
                           "and try again.")  # fmt: skip
    if need_user and v.user is None:
        raise LoginNeeded()
    return v, form


def one(form: dict[str, list[str]], name: str) -> str:
    """A form field's first value, stripped ('' when absent)."""
    return (form.get(name) or [""])[0].strip()


def _with_cookie(response: Response, v: Visit) -> Response:
    response.set_cookie(
        sessions.COOKIE, sessions.encode(v.session, _key(v.request)), max_age=sessions.ABSOLUTE_SECONDS,
        path="/ui", httponly=True, samesite="strict", secure=v.request.url.scheme == "https",
    )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'"
    )
    return response


def page(v: Visit, template: str, status: int = 200, **context: Any) -> Response:
    """``template`` rendered for the visit (its user, CSRF token and current path are in the context)."""
    html = _env.get_template(template).render(
        user=v.user, csrf_token=v.session.csrf, path=v.request.url.path, **context
    )
    return _with_cookie(HTMLResponse(html, status_code=status), v)


def redirect(v: Visit, to: str) -> Response:
    """A 303 to ``to`` (after a POST), with the session cookie."""
    return _with_cookie(RedirectResponse(to, status_code=303), v)


def masked(v: Visit, text: str | None) -> str:
    """Free text (a partner's error answer) as the user may see it: hidden from roles without personal data."""
    if text is None:
        return ""
    if v.user is not None and v.user.sees_personal_data:
        return text
    return "(hidden for your role: it may hold personal data)" if text else ""
