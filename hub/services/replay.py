"""Replay: put dead-lettered deliveries back in the delivery queue."""

from __future__ import annotations

import time
from collections.abc import Callable

from hub.plugin_api.events import HubEvent
from hub.store.ports import Store


def replay(
    store: Store,
    ids: list[str] | None,
    *,
    notify: Callable[[list[HubEvent]], None],
    now: float | None = None,
) -> list[HubEvent]:
    """Make dead deliveries due again; return one ``replayed`` event per delivery queued again.

    ``ids`` are delivery ids or message record ids (a message id replays each of
    its dead deliveries); ``None`` replays every dead delivery. Ids that name no
    dead delivery are skipped, so an empty result with ids given means none of
    them was dead. The events are committed with the change, then passed to
    ``notify`` (the observer plugins: ``hub.services.intake.emit_events``).
    """
    events = store.replay(ids, time.time() if now is None else now)
    notify(events)
    return events
