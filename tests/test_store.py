"""The store's writer survives callers that give up, and never leaves a caller waiting forever."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

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


def test_a_failing_job_in_a_group_rolls_back_only_itself(tmp_path: Path) -> None:
    writer = committer(tmp_path)
    gate = threading.Event()

    def first(conn: sqlite3.Connection) -> str:
        gate.wait(5)  # holds the writer until the others are queued: the four run as one group
        conn.execute("INSERT INTO t VALUES (1)")
        return "first"

    def failing(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (2)")
        raise ValueError("refused")

    def inserting(value: int, answer: str) -> Callable[[sqlite3.Connection], str]:
        def job(conn: sqlite3.Connection) -> str:
            conn.execute("INSERT INTO t VALUES (?)", (value,))
            return answer

        return job

    futures: list[Future[Any]] = [writer.submit(first)]
    futures.append(writer.submit(inserting(3, "third")))
    futures.append(writer.submit(failing))
    futures.append(writer.submit(inserting(4, "fourth")))
    gate.set()
    assert [f.result(timeout=5) for f in futures[:2]] == ["first", "third"]
    with pytest.raises(ValueError, match="refused"):
        futures[2].result(timeout=5)
    assert futures[3].result(timeout=5) == "fourth"
    assert writer.run(lambda c: sorted(v for (v,) in c.execute("SELECT v FROM t"))) == [1, 3, 4]
    writer.close()


def test_the_audit_chain_holds_when_a_job_between_appends_is_rolled_back(tmp_path: Path) -> None:
    from hub.bodies import CodecRegistry, PlainCodec
    from hub.plugin_api.events import HubEvent
    from hub.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "hub.db", CodecRegistry(PlainCodec()))
    gate = threading.Event()

    def event(n: int) -> list[HubEvent]:
        return [HubEvent("note", f"r{n}", float(n), detail={"n": n})]

    def held(conn: sqlite3.Connection) -> None:
        gate.wait(5)
        store._append_events(conn, event(1))

    def failing(conn: sqlite3.Connection) -> None:
        store._append_events(conn, event(2))  # moves the chain's head, then the job is rolled back
        raise ValueError("refused")

    futures = [store._writer.submit(held), store._writer.submit(failing)]
    futures.append(store._writer.submit(lambda conn: store._append_events(conn, event(3))))
    gate.set()
    futures[0].result(timeout=5)
    futures[2].result(timeout=5)
    with pytest.raises(ValueError):
        futures[1].result(timeout=5)
    report = store.verify_audit()
    assert report.ok and report.rows == 2, report
    store.close()


def test_async_callers_get_each_their_own_result_and_a_cancelled_one_is_skipped(tmp_path: Path) -> None:
    """``submit_async``: a group's futures settle on their loop with their own results and errors."""
    writer = committer(tmp_path)
    gate = threading.Event()

    def slow(conn: sqlite3.Connection) -> str:
        gate.wait(5)  # holds the writer while the others queue up: they run as one group
        conn.execute("INSERT INTO t VALUES (1)")
        return "slow"

    def failing(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (3)")
        raise ValueError("refused")

    async def scenario() -> list[object]:
        blocker = writer.submit_async(slow)
        await asyncio.sleep(0.05)  # the writer has taken the blocker's group
        given_up = writer.submit_async(lambda c: c.execute("INSERT INTO t VALUES (2)"))
        group: list[asyncio.Future[object]] = [
            writer.submit_async(lambda c: c.execute("INSERT INTO t VALUES (4)") and "fourth"),
            writer.submit_async(failing),
            writer.submit_async(lambda c: c.execute("INSERT INTO t VALUES (5)") and "fifth"),
        ]
        given_up.cancel()  # before its group begins: it must not be written
        gate.set()
        return [await blocker, *await asyncio.gather(*group, return_exceptions=True)]

    slow_result, fourth, refused, fifth = asyncio.run(scenario())
    assert (slow_result, fourth, fifth) == ("slow", "fourth", "fifth")
    assert isinstance(refused, ValueError)
    assert writer.run(lambda c: sorted(v for (v,) in c.execute("SELECT v FROM t"))) == [1, 4, 5]
    writer.close()


class _Insert:
    """A job that may run together with others of its kind: one ``executemany`` for all of them."""

    calls: list[int] = []

    def __init__(self, value: int) -> None:
        self.value = value

    def __call__(self, conn: sqlite3.Connection) -> int:
        if self.value < 0:
            raise ValueError("negative")
        conn.execute("INSERT INTO t VALUES (?)", (self.value,))
        return self.value * 10

    @staticmethod
    def run_together(conn: sqlite3.Connection, jobs: list[_Insert]) -> list[int]:
        _Insert.calls.append(len(jobs))
        if any(job.value < 0 for job in jobs):
            raise ValueError("negative")
        conn.executemany("INSERT INTO t VALUES (?)", [(job.value,) for job in jobs])
        return [job.value * 10 for job in jobs]


def test_jobs_that_run_together_are_one_call_and_a_failure_among_them_fails_alone(tmp_path: Path) -> None:
    writer = committer(tmp_path)
    gate = threading.Event()
    _Insert.calls = []
    blocker = writer.submit(lambda c: gate.wait(5))
    time.sleep(0.05)  # the writer has taken the blocker's group; the next ones queue up as one group
    good = [writer.submit(_Insert(v)) for v in (1, 2, 3)]
    gate.set()
    blocker.result(timeout=5)
    assert [f.result(timeout=5) for f in good] == [10, 20, 30]
    assert _Insert.calls == [3]  # the three ran as one call

    gate.clear()
    blocker = writer.submit(lambda c: gate.wait(5))
    time.sleep(0.05)
    mixed = [writer.submit(_Insert(v)) for v in (4, -1, 5)]
    gate.set()
    blocker.result(timeout=5)
    assert mixed[0].result(timeout=5) == 40 and mixed[2].result(timeout=5) == 50
    with pytest.raises(ValueError, match="negative"):
        mixed[1].result(timeout=5)
    assert writer.run(lambda c: sorted(v for (v,) in c.execute("SELECT v FROM t"))) == [1, 2, 3, 4, 5]
    writer.close()
