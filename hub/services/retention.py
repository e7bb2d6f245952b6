"""Retention: crypto-shred the bodies of finished messages kept longer than ``[retention]`` allows."""

from __future__ import annotations

import time
from dataclasses import dataclass

from hub.config import Settings
from hub.services.errors import OperationRefused
from hub.store.ports import Store


@dataclass
class RetentionRun:
    """What one run did: ``shredded`` messages, and whether the old pages left the write-ahead log.

    ``log_clean`` is False when a busy reader kept old pages (holding shredded keys) in
    the store's log: run again shortly so that they go too.
    """

    shredded: int
    log_clean: bool


def run_retention(store: Store, settings: Settings, now: float | None = None) -> RetentionRun:
    """Destroy the data key of every finished message past its type's retention, then flush the store's log.

    Refused (nothing changed) when ``hub.toml`` has no ``[retention]`` table. Each
    shredded message gets a ``shredded`` event (actor ``retention``) on the audit log.
    """
    if not settings.retention_days:
        raise OperationRefused("hub.toml has no [retention] table; nothing is ever shredded")
    count = store.shred_expired(settings.retention_days, time.time() if now is None else now)
    return RetentionRun(count, store.compact())
