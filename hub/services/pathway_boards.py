"""The dashboard's pathway boards, over the store's milestone reads (as ``hub pathway list``), each list
``BOARD_ROWS`` long at most, with how many there are.

- ``milestone_board``: the running milestones by due time (open and reminded) and the breached ones, of one partner
  and one milestone (its kind) or all, with how many there are per partner, milestone and state.
- ``provider_deadline_board``: the milestones a provider must meet within ``hours`` of receiving a message (a
  ``pathways.toml`` milestone whose responsible partner is the one the starting message was delivered to, and whose
  due offset is that many hours: the 48-hour assessment), running or breached, breached first, with time left.

Milestones carry ids, partners, names and times: no personal data, so nothing here is audited.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.pathway.spec import DELIVERED_TO, MilestoneSpec, Pathways
from hub.services.pathway_views import milestone_view
from hub.store.ports import Store

RUNNING = ("open", "reminded")
BOARD_ROWS = 200
"""How many milestones each list of a board shows at most (the soonest due); the board says how many there are."""
HOURS_OF_UNIT = {"h": 1, "d": 24, "w": 168}
"""Units whose offsets are a whole number of hours (minutes and seconds are never a deadline in hours; working days
and months are not a fixed number of hours)."""


def seconds_of(iso: str | None) -> float | None:
    """An ISO 8601 time of ``milestone_view`` as POSIX seconds (None stays None)."""
    return None if iso is None else datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@dataclass
class MilestoneBoard:
    """``running``: open and reminded milestones, soonest due first; ``breached``: breached ones, earliest due
    first; each list ``BOARD_ROWS`` at most, of ``running_total`` and ``breached_total``; ``counts``:
    ``{"partner", "milestone", "open", "reminded", "breached"}`` per partner and milestone; ``partners`` and
    ``milestones``: the values the filters may take (those seen)."""

    running: list[dict[str, Any]]
    breached: list[dict[str, Any]]
    counts: list[dict[str, Any]]
    partners: list[str] = field(default_factory=list)
    milestones: list[str] = field(default_factory=list)
    running_total: int = 0
    breached_total: int = 0


def milestone_board(store: Store, *, partner: str | None = None, milestone: str | None = None,
                    now: float | None = None, names: Sequence[str] | None = None) -> MilestoneBoard:  # fmt: skip
    """The running and breached milestones (of ``partner``, of the milestone ``milestone`` or of ``names``), each
    with ``seconds_left`` (negative: overdue) from ``now``: ``BOARD_ROWS`` of each at most, soonest due first, and
    how many there are (``Store.milestone_board_counts``). Each list is read by milestone name, of the names
    counted (``Store.milestone_board_rows``), so its cost grows with the rows shown, not with the milestones held:
    a milestone of a name first opened between the two reads is left for the next read of the board."""
    now = time.time() if now is None else now
    wanted = list(names) if names is not None else None if milestone is None else [milestone]
    per: dict[tuple[str, str], dict[str, Any]] = {}
    for p, name, state, count in store.milestone_board_counts():
        if state in RUNNING or state == "breached":
            row = per.setdefault((p, name), {"partner": p, "milestone": name, "open": 0, "reminded": 0,
                                             "breached": 0})  # fmt: skip
            row[state] += count
    partners = sorted({p for p, _ in per})
    milestones = sorted({n for _, n in per})
    counts = [r for (p, n), r in sorted(per.items())
              if (partner is None or p == partner) and (wanted is None or n in wanted)]  # fmt: skip

    def listed(states: list[str]) -> list[dict[str, Any]]:
        held = sorted({r["milestone"] for r in counts if any(r[s] for s in states)})
        rows = store.milestone_board_rows(states, held, partner, BOARD_ROWS) if held else []
        out = []
        for m in rows:
            view = milestone_view(m)
            due = seconds_of(view["due_at"])
            out.append({**view, "seconds_left": None if due is None else due - now})
        return out

    return MilestoneBoard(listed(list(RUNNING)), listed(["breached"]), counts, partners, milestones,
                          sum(r["open"] + r["reminded"] for r in counts),
                          sum(r["breached"] for r in counts))  # fmt: skip


def deadline_specs(pathways: Pathways, hours: int) -> list[MilestoneSpec]:
    """The milestones of ``pathways.toml`` a provider must meet within ``hours`` of a message delivered to it."""
    return [m for m in pathways.milestones
            if m.responsible == DELIVERED_TO and m.due_after.unit in HOURS_OF_UNIT
            and m.due_after.amount * HOURS_OF_UNIT[m.due_after.unit] == hours]  # fmt: skip


def provider_deadline_board(store: Store, pathways: Pathways, *, hours: int = 48, partner: str | None = None,
                            now: float | None = None) -> tuple[list[str], list[dict[str, Any]], int]:  # fmt: skip
    """The milestones of ``deadline_specs`` (their names, first) running or breached: breached first (longest
    overdue first), then by time left; each with ``seconds_left`` (negative: overdue). ``BOARD_ROWS`` breached and
    ``BOARD_ROWS`` running at most; last, how many there are in all."""
    now = time.time() if now is None else now
    names = [m.name for m in deadline_specs(pathways, hours)]
    if not names:
        return [], [], 0
    board = milestone_board(store, partner=partner, now=now, names=names)
    rows = board.breached + board.running
    rows.sort(key=lambda m: (m["state"] != "breached", m["seconds_left"] if m["seconds_left"] is not None else 0.0,
                             m["milestone_id"]))  # fmt: skip
    return names, rows, board.running_total + board.breached_total
