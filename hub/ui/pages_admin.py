"""The partners' health and the audit log: who viewed or changed what, searchable, and the chain's verification."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import Response

from hub.plugin_api.events import EVENT_KINDS
from hub.services.audit import verify_audit
from hub.services.console import audit_entries, partner_health
from hub.ui.web import Refused, page, posted, signed_in

PAGE_SIZE = 50


def router() -> APIRouter:
    """``GET /ui/partners``, ``GET /ui/audit`` and ``POST /ui/audit/verify``."""
    r = APIRouter()

    @r.get("/partners")
    async def partners_page(request: Request) -> Response:
        v = await signed_in(request)
        rows = await asyncio.to_thread(partner_health, v.hub.store, sorted(v.hub.config.partners.partners))
        return page(v, "partners.html", title="Partners", rows=rows)

    @r.get("/audit")
    async def audit_page(request: Request) -> Response:
        v = await signed_in(request)
        assert v.user is not None
        v.need(v.user.may_change, "read the audit log")
        q = request.query_params
        kind, actor, record = q.get("kind", "").strip(), q.get("actor", "").strip(), q.get("record", "").strip()
        if kind and kind not in EVENT_KINDS:
            raise Refused(400, f"{kind!r} is not an event kind.")
        try:
            before = int(q["before"]) if q.get("before") else None
        except ValueError:
            raise Refused(400, "The page position is not valid: start again from the audit page.") from None
        rows = await asyncio.to_thread(audit_entries, v.hub.store, kind=kind or None, actor=actor or None,
                                       record_id=record or None, before=before, limit=PAGE_SIZE + 1)  # fmt: skip
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        return page(v, "audit.html", title="Audit log", rows=rows, kinds=sorted(EVENT_KINDS), kind=kind, actor=actor,
                    record=record, next_before=rows[-1]["seq"] if more and rows else None, report=None)  # fmt: skip

    @r.post("/audit/verify")
    async def audit_verify(request: Request) -> Response:
        v, _ = await posted(request)
        assert v.user is not None
        v.need(v.user.may_change, "verify the audit log")
        report = await asyncio.to_thread(verify_audit, v.hub.store)
        rows = await asyncio.to_thread(audit_entries, v.hub.store, limit=PAGE_SIZE)
        return page(v, "audit.html", title="Audit log", rows=rows, kinds=sorted(EVENT_KINDS), kind="", actor="",
                    record="", next_before=None, report=report)  # fmt: skip

    return r
