"""Alerts (``hub alerts status`` and ``hub alerts list`` in the browser): every alert key's state, firing first, and
the alerts queued with where each got to. The overview shows the firing ones (``firing``).

Alerts hold partner ids, counts and names, never personal data: every role sees them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from hub.services.alerts import outbox_view, states_view
from hub.store.ports import Store
from hub.ui.web import page, signed_in

OUTBOX_READ = 1000
"""The outbox rows read (oldest first, as ``hub alerts list``); the newest ``OUTBOX_SHOWN`` of them are shown."""
OUTBOX_SHOWN = 200


def firing(store: Store) -> list[dict[str, Any]]:
    """The alert keys firing now (``states_view``'s rows), by key."""
    return [s for s in states_view(store) if s["state"] == "firing"]


def router() -> APIRouter:
    """``GET /ui/alerts``."""
    r = APIRouter()

    @r.get("/alerts")
    async def alerts_page(request: Request) -> Response:
        v = await signed_in(request)
        states = await asyncio.to_thread(states_view, v.hub.store)
        sent = await asyncio.to_thread(outbox_view, v.hub.store, OUTBOX_READ)
        return page(v, "alerts.html", title="Alerts", states=states, sent=list(reversed(sent[-OUTBOX_SHOWN:])),
                    enabled=v.hub.config.settings.alerts.enabled)  # fmt: skip

    return r
