"""Firing a pathway timer: what the embedded worker and an external scheduler's callback both call."""

from __future__ import annotations

import re
from typing import Any

TIMER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,207}$")
"""A timer id: ``f"{milestone_id}.{action}"``, ``action`` ``remind`` or ``due``."""

OUTCOMES = ("fired", "already_fired", "closed", "not_yet_due", "unknown")


def fire(hub: Any, timer_id: str, *, fired_by: str) -> str:
    """Fire ``timer_id`` once; return one of ``OUTCOMES``. Every outcome is recorded on the audit chain."""
    return str(hub.pathway.fire(timer_id, fired_by=fired_by))
