"""The SQLite store's log is checkpointed by a thread of its own, never in the writer's commits."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from contract.stores import plan

from hub.bodies import CodecRegistry, PlainCodec
from hub.store.sqlite import SQLiteStore
from hub.store.sqlite_checkpoints import Checkpointer
from hub.store.sqlite_connect import connect


def fill(store: SQLiteStore, first: int, count: int) -> None:
    """Accept ``count`` messages of about 4 KiB each, a hundred at a time (grouped into few commits)."""

    async def hundred(start: int) -> None:
        await asyncio.gather(*(store.accept(plan(f"m-{i}", body=b"x" * 4096)) for i in range(start, start + 100)))

    for start in range(first, first + count, 100):
        asyncio.run(hundred(start))


def wait_for(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_the_writer_leaves_the_log_to_the_checkpointer_which_copies_it_into_the_database(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    store = SQLiteStore(path, CodecRegistry(PlainCodec()))
    try:
        assert store._writer.run(lambda conn: conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]) == 0
        # without the checkpointer, commits never copy the log into the database file, however long it grows
        store._checkpoints.close()
        before = path.stat().st_size
        fill(store, 0, 1500)  # some 8 MiB of log: past SQLite's own threshold (1,000 pages) several times
        wal = Path(f"{path}-wal")
        assert wal.stat().st_size > 4096 * 1000
        assert path.stat().st_size == before
        # a checkpointer copies what is committed, and the writer then starts the log again from its beginning
        checkpoints = store._checkpoints = Checkpointer(lambda: connect(path), interval=0.05)
        assert wait_for(lambda: checkpoints.turns >= 2)  # the first turn copied all: nothing was writing
        assert path.stat().st_size > before + 4096 * 1000
        grown = wal.stat().st_size
        fill(store, 1500, 300)
        assert wal.stat().st_size == grown  # the log's file was reused from its start, not extended
        assert store.counts()["messages"] == 1800
    finally:
        store.close()
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert check.execute("SELECT count(*) FROM messages").fetchone()[0] == 1800
    finally:
        check.close()


def test_a_checkpoint_that_fails_is_said_once_and_tried_again(tmp_path: Path, caplog) -> None:
    path = tmp_path / "hub.db"
    SQLiteStore(path, CodecRegistry(PlainCodec())).close()
    attempts: list[float] = []

    def flaky() -> sqlite3.Connection:
        attempts.append(time.monotonic())
        if len(attempts) <= 4:
            raise sqlite3.OperationalError("unable to open database file")
        return connect(path)

    with caplog.at_level(logging.WARNING, logger="hub.store"):
        checkpoints = Checkpointer(flaky, interval=0.02)
        try:
            assert wait_for(lambda: checkpoints.turns >= 3)
        finally:
            checkpoints.close()
    said = [r.getMessage() for r in caplog.records if r.name == "hub.store"]
    assert len(attempts) == 5
    assert said == [
        "checkpoint of the store's log failed (unable to open database file); trying again every 0.02 s",
        "checkpoints of the store's log work again",
    ]
