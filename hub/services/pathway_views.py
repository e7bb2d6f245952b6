"""What operators and partners see of the care pathway: milestones with their timers, and the due-soon list."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from hub.plugin_api.events import HubEvent
from hub.services.errors import OperationRefused
from hub.store.ports import Store

STATES_SHOWN = ("open", "reminded", "met", "late", "breached", "cancelled")


def iso(seconds: float | None) -> str | None:
    """POSIX seconds as ISO 8601 in UTC, or None."""
    from hub.services.pathway import iso as to_iso

    return to_iso(seconds) if seconds is not None else None


def milestone_view(m: dict[str, Any]) -> dict[str, Any]:
    """One milestone as the API and the CLI show it (times in ISO 8601, UTC)."""
    return {
        "milestone_id": m["id"],
        "milestone": m["name"],
        "partner": m["partner"],
        "correlation_id": m["correlation_id"],
        "started_by": m["start_record"],
        "state": m["state"],
        "opened_at": iso(m["opened_at"]),
        "due_at": iso(m["due_at"]),
        "remind_at": iso(m["remind_at"]),
        "reminded_at": iso(m["reminded_at"]),
        "breached_at": iso(m["breached_at"]),
        "closed_at": iso(m["closed_at"]),
        "closed_by": m["closed_by"],
        "close_reason": m["close_reason"],
        "timers": [
            {"timer_id": t["id"], "action": t["action"], "due_at": iso(t["due_at"]), "state": t["state"],
             "fired_at": iso(t["fired_at"]), "fired_by": t["fired_by"], "pending_sync": t["sync"]}
            for t in m.get("timers", [])
        ],
    }  # fmt: skip


def pathway_view(store: Store, correlation_id: str, partner: str | None = None) -> dict[str, Any] | None:
    """The pathway of one correlation id: its milestones (a partner: those it is responsible for or started),
    and its closure; None when there is nothing (this partner may see)."""
    milestones = store.milestones(correlation_id=correlation_id)
    if partner is not None:
        milestones = [m for m in milestones if m["partner"] == partner or store.may_read(partner, m["start_record"])]
    if not milestones:
        return None
    closure = store.pathway_closure(correlation_id)
    return {
        "correlation_id": correlation_id,
        "closed": {**closure, "at": iso(closure["at"])} if closure else None,
        "milestones": [_with_notices_not_sent(store, milestone_view(m), m, partner) for m in milestones],
    }


def _with_notices_not_sent(store: Store, view: dict[str, Any], m: dict[str, Any],
                           partner: str | None) -> dict[str, Any]:  # fmt: skip
    """``view`` with, for each timer, the partners its notice was not sent to and why (``not_sent``: a partner
    whose data-sharing agreement does not list ``PathwayNotice``); a partner sees only itself there."""
    for timer, shown in zip(m.get("timers", []), view["timers"], strict=True):
        notice = store.message_view(timer["notice_record"]) if timer.get("notice_record") else None
        events = notice["timeline"] if notice else []
        shown["not_sent"] = [{"partner": e["partner"], "reason": (e.get("detail") or {}).get("reason")}
                             for e in events if e["event"] == "refused"
                             and (partner is None or e["partner"] == partner)]  # fmt: skip
    return view


def correlations_of_person(store: Store, index_keys: Sequence[bytes], nhs_number: str, *, actor: str) -> list[str]:
    """The correlation ids of the pathways of the person with this NHS number, through the keyed blind index.

    ``index_keys``: every live index key (``hub.crypto.blind_index.search_keys``), as ``find_by_nhs_number``
    looks; the search is audited as ``searched`` (how many found, never the number). Refused
    (``OperationRefused``, nothing audited) when ``nhs_number`` is not a valid NHS number.
    """
    from hub.crypto.blind_index import nhs_index
    from hub.identifiers import nhs_number_problem

    why = nhs_number_problem(nhs_number)
    if why:
        raise OperationRefused(why)
    found = store.milestones(nhs_index=[nhs_index(key, nhs_number) for key in index_keys])  # one snapshot
    correlations = sorted({m["correlation_id"] for m in found if m["correlation_id"]})
    detail = {"by": "nhs_number", "what": "pathways", "found": len(correlations)}
    store.audit([HubEvent("searched", "", time.time(), detail=detail, actor=actor)])
    return correlations


def due_list(store: Store, *, within_seconds: float | None = None, breached: bool = False,
             partner: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Milestones due within ``within_seconds`` (running), and/or breached, of one partner or all."""
    rows: list[dict[str, Any]] = []
    if within_seconds is not None:
        rows += store.milestones(partner=partner, due_before=time.time() + within_seconds)
    if breached:
        rows += store.milestones(partner=partner, states=["breached"])
    if within_seconds is None and not breached:
        rows = store.milestones(partner=partner, states=["open", "reminded"])
    seen: dict[str, dict[str, Any]] = {m["id"]: m for m in rows}
    return [milestone_view(m) for m in sorted(seen.values(), key=lambda m: (m["due_at"], m["id"]))]


def pathway_gauges(store: Store) -> dict[str, float]:
    """``hub_pathway_milestones{partner, milestone, state}``: how many milestones are in each state."""
    out: dict[str, float] = {}
    for partner, name, state, count in store.milestone_counts():
        out[f'hub_pathway_milestones{{partner="{partner}",milestone="{name}",state="{state}"}}'] = count
    return out
