"""Who is calling the HTTP API, as FastAPI dependencies that the hub's routes and plugins' routes share.

Part of the plugin API: it imports nothing of the hub but ``hub.plugin_api.problems``. The HTTP face
(``hub.api.create_app``) installs the authenticator on the app; these dependencies ask it, so a plugin's
route (``hub_register_routes``) authenticates exactly as the hub's own do::

    from fastapi import APIRouter
    from hub.plugin_api.callers import Authenticated, OperatorCaller

    router = APIRouter()

    @router.get("/summary")
    async def summary(caller: OperatorCaller) -> dict: ...

Authentication is a dependency, so it runs before the request's parameters are validated: a request
without a valid token is answered 401 whatever else is wrong with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from hub.plugin_api.problems import Forbidden

AUTHENTICATOR = "hub_authenticator"
"""The ``app.state`` attribute holding ``authenticate(request) -> Caller`` (set by the HTTP face)."""


@dataclass(frozen=True)
class Caller:
    """The authenticated identity behind one request."""

    id: str
    role: str  # "partner", "operator" or "scheduler" (may only fire pathway timers)

    @property
    def is_operator(self) -> bool:
        """True for operators."""
        return self.role == "operator"


async def authenticated(request: Request) -> Caller:
    """The caller of this request, by client certificate or bearer token.

    A coroutine, like the two role checks below, so that FastAPI calls it on the event loop: a plain
    function dependency is sent to the thread pool, a hop that costs more than the lookup itself.

    Raises ``Unauthenticated`` (answered 401) when the request carries no token the hub knows. Raises
    ``RuntimeError`` when the app was not built by ``hub.api.create_app`` (nobody installed an authenticator).
    """
    authenticate: Callable[[Request], Caller] | None = getattr(request.app.state, AUTHENTICATOR, None)
    if authenticate is None:
        raise RuntimeError("this application has no hub authenticator; build it with hub.api.create_app")
    return authenticate(request)


Authenticated = Annotated[Caller, Depends(authenticated)]
"""Any authenticated caller, partner or operator."""


def partner_only(detail: str) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency admitting partners only; an operator is answered 403 with ``detail``."""

    async def partner(caller: Authenticated) -> Caller:
        if caller.role != "partner":
            raise Forbidden(detail)
        return caller

    return partner


def operator_only(detail: str) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency admitting operators only; a partner is answered 403 with ``detail``."""

    async def operator(caller: Authenticated) -> Caller:
        if not caller.is_operator:
            raise Forbidden(detail)
        return caller

    return operator


def scheduler_only(detail: str) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency admitting scheduler identities only; a partner or operator is answered 403 with ``detail``."""

    async def scheduler(caller: Authenticated) -> Caller:
        if caller.role != "scheduler":
            raise Forbidden(detail)
        return caller

    return scheduler


PartnerCaller = Annotated[Caller, Depends(partner_only("Only partners may do this; operators may not."))]
"""A partner (an operator is answered 403)."""

OperatorCaller = Annotated[Caller, Depends(operator_only("Only operators may do this."))]
"""An operator (a partner is answered 403)."""

SchedulerCaller = Annotated[Caller, Depends(scheduler_only("Only a scheduler identity may fire pathway timers."))]
"""A scheduler identity (``[[pathway.scheduler_identities]]``); anyone else is answered 403."""

__all__ = [
    "AUTHENTICATOR",
    "Authenticated",
    "Caller",
    "OperatorCaller",
    "PartnerCaller",
    "SchedulerCaller",
    "authenticated",
    "operator_only",
    "partner_only",
    "scheduler_only",
]
