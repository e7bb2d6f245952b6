"""The navigators' queue on the operator dashboard (``hub_register_ui_screens``: ``/ui/plugins/hostels``).

For navigators (and operators and admins): each referral the matcher could not place or that needs a navigator's
decision (``OfferDesk.queue``), with why it waits, the offers made so far (declines with their reason codes) and
the linked services as matching sees them now for that person (``match_directory.match``): those that may be
offered first, best first, then the rest with why not. A navigator allocates it to a chosen service with a
reason (``OfferDesk.allocate``: the offer is sent at once) or closes it without a place with a reason code
(``OfferDesk.close``). Each form carries the dashboard's CSRF token; each showing of the queue (the services are
matched on the person's data) and each action is on the hub's audit chain with the user's name.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from hub import UiScreen, UiVisit, ui_audit, ui_page, ui_posted, ui_redirect, ui_signed_in
from hub_hostels.directory.database import now
from hub_hostels.directory.match_directory import match
from hub_hostels.directory.matching import Policy
from hub_hostels.offers.book import open_offers
from hub_hostels.offers.chain import deliver, offer_settings_of, read_message, run_desk
from hub_hostels.offers.desk import OfferRefused
from hub_hostels.offers.person import match_request
from hub_hostels.offers.terms import CLOSE_REASONS, QUEUE_REASONS, REASON_CODES

NAME = "hostels"
ROLE = "navigator"
HOME = f"/ui/plugins/{NAME}/"


def queue_view(hub: Any) -> list[dict[str, Any]]:
    """Each waiting referral, oldest first, with its offers and the linked services ranked for it (blocking)."""
    url, links, _ = offer_settings_of(hub)
    book = open_offers(url)
    try:
        with book.transaction() as tx:
            waiting = [(r, tx.offers(r.record_id)) for r in tx.referrals("waiting_for_navigator")]
        rows = []
        for referral, offers in waiting:
            message = read_message(hub, referral.record_id) or {}
            found = match(book, links, match_request(message, links.needs_from_terms, now()), Policy(), now())
            why = referral.queue_reason or ""
            rows.append({"record_id": referral.record_id, "referrer": referral.referrer, "since": referral.updated_at,
                         "reason": why, "reason_text": QUEUE_REASONS.get(why, ""),
                         "offers": offers, "ranked": [c.service_id for c in found.ranked],
                         "excluded": sorted(found.excluded.items())})  # fmt: skip
        return rows
    finally:
        book.close()


def build_screen() -> UiScreen:
    """The navigators' queue as a dashboard screen."""
    r = APIRouter()

    @r.get("/")
    async def queue_page(request: Request) -> Response:
        v = await ui_signed_in(request, ROLE)
        rows = await asyncio.to_thread(queue_view, v.hub)
        if rows:
            await asyncio.to_thread(ui_audit, v, NAME, "viewed_queue", detail={"shown": len(rows)})
        q = request.query_params
        return ui_page(v, f"{NAME}/allocation.html", title="Navigators' queue", rows=rows, reasons=CLOSE_REASONS,
                       declines=REASON_CODES, done=q.get("done", ""), error=q.get("error", ""))  # fmt: skip

    async def act(v: UiVisit, record_id: str, action: str, detail: dict[str, Any], do: Any) -> Response:
        try:
            outcome = await asyncio.to_thread(run_desk, v.hub, do)
        except OfferRefused as exc:
            return ui_redirect(v, HOME + "?" + urlencode({"error": str(exc)}))
        await asyncio.to_thread(ui_audit, v, NAME, action, record_id=record_id, detail=detail)
        await deliver(v.hub, outcome)
        return ui_redirect(v, HOME + "?" + urlencode({"done": f"{record_id}: {action}"}))

    @r.post("/allocate")
    async def allocate(request: Request) -> Response:
        v, form = await ui_posted(request, ROLE)
        assert v.user is not None
        record_id, service, reason = (_one(form, k) for k in ("record_id", "service_id", "reason"))
        name = v.user.name
        return await act(v, record_id, "allocated", {"service_id": service},
                         lambda desk: desk.allocate(record_id, service, name, reason))  # fmt: skip

    @r.post("/close")
    async def close(request: Request) -> Response:
        v, form = await ui_posted(request, ROLE)
        assert v.user is not None
        record_id, code = _one(form, "record_id"), _one(form, "reason_code")
        name = v.user.name
        return await act(v, record_id, "closed", {"reason_code": code},
                         lambda desk: desk.close(record_id, name, code))  # fmt: skip

    return UiScreen(NAME, "Navigators' queue", r, role=ROLE, templates=Path(__file__).parent / "templates")


def _one(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0].strip()
