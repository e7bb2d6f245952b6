"""The overview's old per-minute counters are pruned by every process hosting a worker."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from contract.stores import T0, plan

from hub.bodies import CodecRegistry, PlainCodec
from hub.services.counter_upkeep import prune_counters
from hub.store.sqlite import SQLiteStore


async def run_for(store: SQLiteStore, seconds: float, every: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(prune_counters(store, stop, every=every))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, timeout=5)


def test_counters_older_than_two_days_go_and_recent_ones_stay(tmp_path: Path, caplog) -> None:
    store = SQLiteStore(tmp_path / "hub.db", CodecRegistry(PlainCodec()))
    try:
        now = time.time()
        store.accept_now(plan("m-old", at=T0))
        store.accept_now(plan("m-3-days", at=now - 3 * 86400))
        store.accept_now(plan("m-1-day", at=now - 86400))
        store.accept_now(plan("m-now", at=now))
        assert sum(count for *_, count in store.activity(0)) == 4
        with caplog.at_level(logging.INFO, logger="hub.upkeep"):
            asyncio.run(run_for(store, 0.2, every=0.05))
        assert sorted(minute * 60 for _, _, _, minute, _ in store.activity(0)) == [
            (now - 86400) // 60 * 60,
            now // 60 * 60,
        ]
        said = [r.getMessage() for r in caplog.records if r.name == "hub.upkeep"]
        assert said == ["pruned 2 rows of the overview's counters older than 172800 s"]  # once: then none left
    finally:
        store.close()


def test_a_prune_that_fails_is_said_and_tried_again(tmp_path: Path, caplog) -> None:
    store = SQLiteStore(tmp_path / "hub.db", CodecRegistry(PlainCodec()))
    store.close()  # its writer has stopped: every write fails
    with caplog.at_level(logging.WARNING, logger="hub.upkeep"):
        asyncio.run(run_for(store, 0.2, every=0.05))
    said = [r.getMessage() for r in caplog.records if r.name == "hub.upkeep"]
    assert len(said) >= 2
    assert said[0].startswith("could not prune the overview's counters (the store's writer has stopped")
