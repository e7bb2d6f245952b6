"""The SQLite store's claim walk: which due deliveries a claim takes, and what it says of those overtaking a dead one.

Run by ``SQLiteStore``'s claim job in its write transaction (statements in ``sqlite_sql``; PostgreSQL's own walk is
in ``hub.store.postgres``).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from hub.plugin_api.events import HubEvent
from hub.store import sqlite_sql as sql
from hub.store.records import OVERTAKING_WARNING

CLAIM_WALK_ROWS = 2_000
"""The most due deliveries one claim looks at (see ``claimable``)."""


def claimable(conn: sqlite3.Connection, limit: int, now: float, expired_by: float) -> list[str]:
    """The ids of up to ``limit`` due deliveries that nothing holds back, oldest due first.

    Walks the due pending deliveries until it has ``limit`` (``sqlite_sql.PENDING_DUE``); each
    held-back one it walks past is parked until its waiting elders' latest due time (or now, when
    an elder is due itself), so later claims do not walk it again before anything could have
    changed for it, and reach its elders first (see ``sqlite_sql``).
    One claim walks at most ``CLAIM_WALK_ROWS`` rows: a claim holds the write lock, and intake
    must not wait while a big held-back backlog is parked; the next claims go on from there.
    """
    taken: list[tuple[float, str]] = []
    parked: list[tuple[float, str]] = []
    walk = conn.execute(sql.PENDING_DUE, (now,))
    try:
        for walked, (delivery_id, due_at, held_until) in enumerate(walk, 1):
            if held_until is None:
                taken.append((due_at, delivery_id))
                if len(taken) == limit:
                    break
            else:  # parked no earlier than now: behind everything due, so the next walks start past it
                parked.append((max(held_until, now), delivery_id))
            if walked == CLAIM_WALK_ROWS:
                break
    finally:
        walk.close()
    if parked:
        conn.executemany(sql.PARK, parked)
    taken += [(due_at, delivery_id) for delivery_id, due_at in conn.execute(sql.EXPIRED_DUE, (expired_by, limit))]
    return [delivery_id for _, delivery_id in sorted(taken)[:limit]]


def overtaking_warnings(conn: sqlite3.Connection, claimed: list[Any], now: float) -> list[HubEvent]:
    """A ``warning`` event for each ordered delivery claimed for the first time before a dead-lettered elder.

    A dead delivery holds nothing back (a poison message must not stop a person's pathway), but
    a later message overtaking it is not silent: its timeline says which delivery it overtook.
    """
    events = []
    for delivery_id, record_id, partner, attempts, order_key, order_seq in claimed:
        if order_key is None or attempts != 1:
            continue
        dead = [r[0] for r in conn.execute(sql.DEAD_ELDERS, (order_key, order_seq))]
        if dead:
            detail = {"warning": OVERTAKING_WARNING, "overtook": dead}
            events.append(HubEvent("warning", record_id, now, delivery_id, partner, detail))
    return events
