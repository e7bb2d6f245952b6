"""What every dashboard page shares: templates, the visitor's session and user, forms with CSRF, answers.

A handler calls ``signed_in`` (a GET) or ``posted`` (a POST: form read, CSRF checked) first; they raise
``LoginNeeded`` (answered with a redirect to the login page) or ``Refused`` (answered with an error page). Every
answer made with ``page`` or ``redirect`` sets the session cookie again, so its idle expiry moves on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from fastapi import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hub.plugin_api.ui_screens import UI_ROLES
from hub.runtime import Hub
from hub.services.users import User, active_user
from hub.ui import sessions
from hub.ui.sessions import Session

MAX_FORM_BYTES = 64 * 1024

_plugin_templates: dict[str, jinja2.BaseLoader] = {}
_own_templates = jinja2.FileSystemLoader(str(resources.files("hub.ui") / "templates"))
_env = jinja2.Environment(
    loader=jinja2.ChoiceLoader([_own_templates, jinja2.PrefixLoader(_plugin_templates)]),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
MENU = (("/ui/", "Overview", "viewer"), ("/ui/messages", "Messages", "viewer"),
        ("/ui/dead-letters", "Dead letters", "viewer"), ("/ui/partners", "Partners", "viewer"),
        ("/ui/pathway", "Pathway", "viewer"), ("/ui/assessments", "48 hours", "viewer"),
        ("/ui/alerts", "Alerts", "viewer"), ("/ui/audit", "Audit log", "operator"),
        ("/ui/users", "Users", "admin"))  # fmt: skip
"""The hub's screens in the menu: (path, label, the lowest role that sees it); plugins' screens follow."""


def add_templates(name: str, folder: Any) -> None:
    """Make the templates in ``folder`` reachable as ``NAME/FILE.html`` (a plugin's screen)."""
    _plugin_templates[name] = jinja2.FileSystemLoader(str(folder))


def menu(request: Request, user: User | None) -> list[tuple[str, str]]:
    """The menu's (path, label) for ``user``: the hub's screens, then the plugins' its role allows."""
    if user is None:
        return []
    ranks = {role: i for i, role in enumerate(UI_ROLES)}
    entries = [*MENU, *getattr(request.app.state, "ui_plugin_menu", [])]
    return [(path, label) for path, label, role in entries if ranks.get(user.role, -1) >= ranks[role]]


def when(value: float | str | None) -> str:
    """A time for people: ``2026-12-03 18:07:09 UTC`` (an ISO string or epoch seconds); empty for None."""
    if value is None or value == "":
        return ""
    at = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else (
        datetime.fromtimestamp(value, UTC))  # fmt: skip
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def time_left(seconds: float | None) -> str:
    """Time to a deadline for people: ``1 h 05 min left`` or ``overdue by 2 h 10 min`` (days beyond 48 hours)."""
    if seconds is None:
        return ""
    span = int(abs(seconds)) // 60
    days, hours, minutes = span // 1440, span // 60 % 24, span % 60
    text = f"{days} d {hours} h" if span >= 48 * 60 else f"{span // 60} h {minutes:02d} min"
    return f"{text} left" if seconds >= 0 else f"overdue by {text}"


_env.filters["when"] = when
_env.filters["time_left"] = time_left


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
    """The visitor's session (a new anonymous one when there is none or it expired) and signed-in user.

    The user's row is read every time: a session whose user was disabled, or whose credential stamp no longer
    matches the row (a new password or another role since it logged in), becomes anonymous here."""
    now = time.time()
    key = _key(request)
    session = sessions.decode(request.cookies.get(sessions.COOKIE), key)
    if session is None or session.expired(now):
        session = Session.new("", now)
    user = None
    if session.user:
        hub: Hub = request.app.state.hub
        user = await asyncio.to_thread(active_user, hub.store, session.user)
        if user is None or not sessions.stamp_ok(session, user.credential, key):  # disabled, or changed
            session, user = Session.new("", now), None
    return Visit(request, session.touched(now), user)


def sign_in(v: Visit, user: User) -> None:
    """Make ``v`` a fresh session of ``user`` (a new CSRF token: no fixation), stamped with its credential."""
    v.session = Session.new(user.name, time.time(), sessions.stamp(user.credential, _key(v.request)))
    v.user = user


async def restamp(v: Visit) -> None:
    """Keep ``v``'s session (same CSRF token and login time) valid after its own user's credential changed (an
    admin who gave themselves a new password): stamped anew from the user's row; anonymous if it is gone."""
    assert v.user is not None
    user = await asyncio.to_thread(active_user, v.hub.store, v.user.name)
    if user is None:
        v.session, v.user = Session.new("", time.time()), None
        return
    v.session = dataclasses.replace(v.session, stamp=sessions.stamp(user.credential, _key(v.request)))
    v.user = user


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
        user=v.user, csrf_token=v.session.csrf, path=v.request.url.path, menu=menu(v.request, v.user), **context
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
