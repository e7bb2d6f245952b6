"""The care pathway's service: milestones opened, reminded, closed and breached, and timers fired once."""

from __future__ import annotations

import time
from typing import Any

from hub.plugin_api.events import HubEvent


class PathwayService:
    """Fires timers for the embedded worker and for external schedulers' callbacks (``hub.services.pathway_fire``)."""

    def __init__(self, store: Any, scheduler: Any) -> None:
        self.store = store
        self.scheduler = scheduler

    def fire(self, timer_id: str, *, fired_by: str) -> str:
        """Fire ``timer_id`` at most once; return the outcome (recorded on the audit chain)."""
        outcome = "unknown"  # the store's timers arrive with the next commit
        self.store.audit([HubEvent("timer_fire", f"timer:{timer_id}", time.time(), detail={"outcome": outcome},
                                   actor=fired_by)])  # fmt: skip
        return outcome
