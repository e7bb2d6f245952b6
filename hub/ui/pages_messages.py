"""Messages: the search (by NHS number through the blind index, correlation, partner, type, state, dates; keyset
paging), and one message as a tree (its source, what it derived, each delivery, the timeline; the body on
request, for roles that may see personal data, each read audited).

An NHS number is only ever sent in a POST body (never in a URL, which servers and proxies log).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from hub.crypto.blind_index import search_keys
from hub.services.console import search
from hub.services.errors import OperationRefused
from hub.services.messages import view_message
from hub.store.ports_console import MessageFilter
from hub.store.records import DELIVERY_STATES
from hub.ui.web import Refused, Visit, page, posted, signed_in

PAGE_SIZE = 50
FIELDS = ("nhs_number", "correlation_id", "partner", "type", "state", "from", "to")
HIDDEN_DETAIL = frozenset({"error", "last_error", "reason", "problems", "message"})


def _day(value: str, field: str, errors: list[str]) -> float | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        errors.append(f"{field}: enter a date as YYYY-MM-DD, like 2026-12-03")
        return None


def parse_filter(values: dict[str, str]) -> tuple[MessageFilter, tuple[float, str] | None, list[str]]:
    """The filter, the keyset position and what is wrong with the fields (dates are UTC days, ``to`` included)."""
    errors: list[str] = []
    state = values.get("state") or None
    if state is not None and state not in DELIVERY_STATES:
        errors.append(f"State: choose one of {', '.join(DELIVERY_STATES)}")
        state = None
    start, end = _day(values.get("from", ""), "From", errors), _day(values.get("to", ""), "To", errors)
    before = None
    if values.get("before"):
        at, _, record = values["before"].partition("|")
        try:
            before = (float(at), record)
        except ValueError:
            errors.append("The page position is not valid: start the search again")
    where = MessageFilter(
        correlation_id=values.get("correlation_id") or None, partner=values.get("partner") or None,
        message_type=values.get("type") or None, state=state, received_from=start,
        received_to=None if end is None else (datetime.fromtimestamp(end, UTC) + timedelta(days=1)).timestamp(),
    )  # fmt: skip
    return where, before, errors


def shown_view(v: Visit, view: dict[str, Any]) -> dict[str, Any]:
    """A message view as the user may see it: for roles without personal data, error texts are hidden."""
    if v.user is not None and v.user.sees_personal_data:
        return view
    hidden = "(hidden for your role)"
    view = {**view, "deliveries": [{**d, "last_error": hidden if d.get("last_error") else None}
                                   for d in view["deliveries"]]}  # fmt: skip
    view["timeline"] = [
        {**e, "detail": {k: (hidden if k in HIDDEN_DETAIL else val) for k, val in e["detail"].items()}}
        if isinstance(e.get("detail"), dict) else e
        for e in view["timeline"]
    ]  # fmt: skip
    return view


def router() -> APIRouter:
    """``/ui/messages`` (GET and POST: the search), ``/ui/messages/{id}`` (the tree), its ``.json`` and ``/body``."""
    r = APIRouter()

    async def results(v: Visit, values: dict[str, str], status: int = 200) -> Response:
        where, before, errors = parse_filter(values)
        nhs_number = values.get("nhs_number", "")
        if nhs_number:
            v.need(v.user is not None and v.user.sees_personal_data, "search by NHS number")
        rows: list[dict[str, Any]] = []
        searched = any(values.get(f) for f in FIELDS) or bool(values.get("all"))
        if not errors and searched:
            assert v.user is not None
            try:
                rows = await asyncio.to_thread(search, v.hub.store, where, nhs_number=nhs_number or None,
                                               index_keys=search_keys(v.hub.keys), actor=v.user.name,
                                               limit=PAGE_SIZE + 1, before=before)  # fmt: skip
            except OperationRefused as exc:
                errors.append(f"NHS number: {exc}")
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        after = f"{rows[-1]['received']!r}|{rows[-1]['id']}" if more and rows else None
        choices = {"states": DELIVERY_STATES, "types": sorted(v.hub.plugins.message_types),
                   "partners": sorted(v.hub.config.partners.partners)}  # fmt: skip
        return page(v, "messages.html", status=400 if errors else status, title="Messages", values=values,
                    rows=rows, errors=errors, next_page=after, searched=searched, **choices)  # fmt: skip

    @r.get("/messages")
    async def messages_get(request: Request) -> Response:
        v = await signed_in(request)
        values = {k: request.query_params.get(k, "").strip() for k in (*FIELDS, "before", "all")}
        if values["nhs_number"]:
            raise Refused(400, "Search by NHS number with the form (an NHS number must never be in a web address).")
        return await results(v, values)

    @r.post("/messages")
    async def messages_post(request: Request) -> Response:
        v, form = await posted(request)
        return await results(v, {k: (form.get(k) or [""])[0].strip() for k in (*FIELDS, "before", "all")})

    async def tree(v: Visit, record_id: str, with_body: bool) -> dict[str, Any] | None:
        assert v.user is not None
        store, name = v.hub.store, v.user.name
        view = await asyncio.to_thread(view_message, store, record_id, with_body=with_body, actor=name,
                                       via="dashboard")  # fmt: skip
        if view is None:
            return None
        view = shown_view(v, view)
        view["derived_views"] = [shown_view(v, d) for d in await asyncio.gather(
            *(asyncio.to_thread(store.message_view, child["id"]) for child in view["derived"])) if d]  # fmt: skip
        return view

    @r.get("/messages/{record_id}.json")
    async def message_json(request: Request, record_id: str) -> Response:
        v = await signed_in(request)
        view = await tree(v, record_id, False)
        if view is None:
            raise Refused(404, f"There is no message {record_id}.")
        return Response(orjson.dumps(view), media_type="application/json", headers={"Cache-Control": "no-store"})

    @r.get("/messages/{record_id}")
    async def message_page(request: Request, record_id: str) -> Response:
        v = await signed_in(request)
        view = await tree(v, record_id, False)
        if view is None:
            raise Refused(404, f"There is no message {record_id}.")
        return page(v, "message.html", title=f"Message {record_id}", view=view, body=None)

    @r.post("/messages/{record_id}/body")
    async def message_body(request: Request, record_id: str) -> Response:
        v, _ = await posted(request)
        assert v.user is not None
        v.need(v.user.sees_personal_data, "see message bodies (personal data)")
        try:
            view = await tree(v, record_id, True)
        except OperationRefused as exc:
            raise Refused(409, str(exc)) from None
        if view is None:
            raise Refused(404, f"There is no message {record_id}.")
        body = json.dumps(view.pop("body"), indent=2, ensure_ascii=False)
        return page(v, "message.html", title=f"Message {record_id}", view=view, body=body)

    return r
