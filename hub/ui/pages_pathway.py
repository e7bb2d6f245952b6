"""The pathway boards: milestones due, reminded and breached per partner and milestone (``/ui/pathway``), one
pathway's timeline (``/ui/pathway/{correlation id}``, as ``hub pathway show``), and the providers' deadline board
(``/ui/assessments``: what a provider must assess within 48 hours of receiving it, breached first, time left).

Every role sees them: milestones carry ids, partners, names and times, never personal data.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import Response

from hub.services.pathway_boards import milestone_board, provider_deadline_board
from hub.services.pathway_views import pathway_view
from hub.ui.web import Refused, page, signed_in

ASSESSMENT_HOURS = 48


def router() -> APIRouter:
    """``GET /ui/pathway``, ``GET /ui/pathway/{correlation_id}`` and ``GET /ui/assessments``."""
    r = APIRouter()

    @r.get("/pathway")
    async def board_page(request: Request) -> Response:
        v = await signed_in(request)
        q = request.query_params
        partner, milestone = q.get("partner", "").strip(), q.get("milestone", "").strip()
        board = await asyncio.to_thread(milestone_board, v.hub.store, partner=partner or None,
                                        milestone=milestone or None)  # fmt: skip
        partners = sorted(set(board.partners) | set(v.hub.config.partners.partners))
        names = sorted({m.name for m in v.hub.pathway.pathways.milestones} | set(board.milestones))
        return page(v, "pathway.html", title="Pathway board", board=board, partner=partner, milestone=milestone,
                    partners=partners, milestones=names)  # fmt: skip

    @r.get("/pathway/{correlation_id}")
    async def timeline_page(request: Request, correlation_id: str) -> Response:
        v = await signed_in(request)
        view = await asyncio.to_thread(pathway_view, v.hub.store, correlation_id)
        if view is None:
            raise Refused(404, f"There is no pathway {correlation_id}.")
        return page(v, "pathway_one.html", title=f"Pathway {correlation_id}", view=view)

    @r.get("/assessments")
    async def assessments_page(request: Request) -> Response:
        v = await signed_in(request)
        partner = request.query_params.get("partner", "").strip()
        names, rows, total = await asyncio.to_thread(provider_deadline_board, v.hub.store, v.hub.pathway.pathways,
                                                     hours=ASSESSMENT_HOURS, partner=partner or None)  # fmt: skip
        return page(v, "assessments.html", title=f"{ASSESSMENT_HOURS}-hour board", names=names, rows=rows,
                    total=total, hours=ASSESSMENT_HOURS, partner=partner,
                    partners=sorted(v.hub.config.partners.partners))  # fmt: skip

    return r
