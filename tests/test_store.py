"""The store's writer survives callers that give up, and never leaves a caller waiting forever."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from hub.store.group_commit import GroupCommitter


def committer(tmp_path: Path) -> GroupCommitter:
    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None, check_same_thread=False)
        conn.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER)")
        return conn

    return GroupCommitter(connect)


def test_a_cancelled_caller_does_not_kill_the_writer(tmp_path: Path) -> None:
    writer = committer(tmp_path)
    gate = threading.Event()

    def slow(conn: sqlite3.Connection) -> None:
        gate.wait(5)
        conn.execute("INSERT INTO t VALUES (1)")

    async def scenario() -> int:
        blocker = asyncio.wrap_future(writer.submit(slow))
        cancelled = asyncio.ensure_future(
            asyncio.wrap_future(writer.submit(lambda c: c.execute("INSERT INTO t VALUES (2)")))
        )
        await asyncio.sleep(0.05)
        cancelled.cancel()  # the caller gives up (a client hung up, a listener stopped)
        gate.set()
        await blocker
        return await asyncio.wrap_future(writer.submit(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]))

    assert asyncio.run(scenario()) in (1, 2)
    assert writer.alive
    assert writer.run(lambda c: c.execute("SELECT 1").fetchone()[0]) == 1
    writer.close()


def test_a_write_after_close_fails_instead_of_hanging(tmp_path: Path) -> None:
    writer = committer(tmp_path)
    writer.close()
    future = writer.submit(lambda c: None)
    with pytest.raises(RuntimeError, match="nothing was written"):
        future.result(timeout=5)
