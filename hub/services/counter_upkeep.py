"""Keeps the overview's per-minute counters to what a screen can show.

The store counts messages accepted and delivered per minute, partner and type (``ConsoleReads.activity``) as it
writes them; the dashboard's overview shows the last hour. ``prune_counters`` runs in each process hosting a
worker: at start and then every ``every`` seconds it drops the counters older than ``keep`` seconds, an hour of
them per transaction (the first run on a store that kept years of them takes many short ones, and stops when the
process does). Several processes pruning at once delete the same rows, which is harmless. A failure is logged and
tried again at the next turn: the counters only hold more rows meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from hub.store.ports import Store

log = logging.getLogger("hub.upkeep")

KEEP_SECONDS = 2 * 86400.0
"""Counters kept: two days (the overview shows one hour; the margin costs a few rows)."""
EVERY_SECONDS = 3600.0


async def prune_counters(store: Store, stop: asyncio.Event, every: float = EVERY_SECONDS,
                         keep: float = KEEP_SECONDS) -> None:  # fmt: skip
    """Prune ``store``'s counters older than ``keep`` seconds now and every ``every`` seconds, until ``stop``."""
    while not stop.is_set():
        dropped = 0
        try:
            before = time.time() - keep
            while not stop.is_set():  # an hour of counters per transaction: other commits go between them
                rows = await asyncio.to_thread(store.prune_activity, before)
                if not rows:
                    break
                dropped += rows
        except Exception as exc:  # a store that cannot be reached now, say: the next turn tries again
            log.warning("could not prune the overview's counters (%s); trying again in %g s", exc, every)
        if dropped:
            log.info("pruned %d rows of the overview's counters older than %g s", dropped, keep)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
