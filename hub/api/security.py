"""How the HTTP API knows who is calling: a partner's client certificate or bearer token, or an operator's token.

``authenticate`` is installed on the app by ``create_app`` and reached through the dependencies in
``hub.plugin_api.callers`` (``Authenticated``, ``PartnerCaller``, ``OperatorCaller``), which the hub's routers and
plugins' routes use alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastapi import Request

from hub.api.tls import client_cert_fingerprint
from hub.plugin_api.callers import Caller
from hub.plugin_api.problems import Forbidden, Unauthenticated

if TYPE_CHECKING:
    from hub.runtime import Hub


def authenticate(request: Request) -> Caller:
    """The caller of this request, by client certificate or bearer token; raises ``Unauthenticated``.

    A certificate alone identifies its partner; a certificate and a token must name the same one. The
    caller is kept on ``request.state.caller`` (the audit of an error answer names it).
    """
    hub: Hub = request.app.state.hub
    partners, metrics = hub.config.partners, hub.metrics
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    fingerprint = client_cert_fingerprint(request.scope)
    by_cert = partners.authenticate_certificate(fingerprint) if fingerprint else None
    # the caller is kept in the request's state (request.state.caller), set without building a State object
    state = request.scope.setdefault("state", {})
    if by_cert is not None and not token.strip():
        state["caller"] = by_cert
        return by_cert
    if scheme.lower() != "bearer" or not token.strip():
        metrics.inc("hub_requests_refused_total", reason="unauthenticated")
        raise Unauthenticated("Send 'Authorization: Bearer <token>' with the token the hub issued to you.")
    caller = partners.authenticate(token.strip())
    if caller is None:
        metrics.inc("hub_requests_refused_total", reason="unauthenticated")
        raise Unauthenticated("This token is not known to the hub (revoked, mistyped, or for another hub).")
    if by_cert is not None and by_cert.id != caller.id:
        raise Unauthenticated("The client certificate and the token belong to different partners.")
    state["caller"] = caller
    if caller.role == "scheduler" and not may_scheduler_call(request.method, route_path(request.scope)):
        raise Forbidden("A scheduler identity may only fire pathway timers (POST /v1/pathway/timers/{id}/fire).")
    return caller


FIRE_PATH = re.compile(r"^/v1/pathway/timers/[A-Za-z0-9_.-]{1,207}/fire$")


def route_path(scope: Mapping[str, Any]) -> str:
    """The path the app routes on: ``scope["path"]`` without the ``root_path`` the app is served under (a server's
    ``--root-path`` or a mount puts it in front of ``scope["path"]``, and so in ``request.url.path``)."""
    path = str(scope["path"])
    root = str(scope.get("root_path") or "").rstrip("/")
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root) :] or "/"
    return path


def may_scheduler_call(method: str, path: str) -> bool:
    """Least privilege: the one request a scheduler identity may make is firing a timer."""
    return method == "POST" and FIRE_PATH.match(path) is not None
