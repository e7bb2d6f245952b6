"""What one audit chain costs with concurrent writers on PostgreSQL: events/s with 1, 2, 4 writer processes.

Every transaction that appends events locks the chain's head row (``audit_head``) for its last
statements and its commit, so writers in several processes take turns there. This measures how
many events per second the store appends when 1, 2 or 4 processes write at once, each process
keeping ``--inflight`` single-event writes in flight (its writer thread groups them into one
transaction, as the hub's intake does). ``--kind accept`` writes whole intakes (a message, a
delivery and its ``received`` event) instead of bare audit events.

    python bench/audit_chain.py --processes 1 2 4 --seconds 5 --rounds 3
    python bench/audit_chain.py --processes 1 4 --compare-unlocked   # what the head's lock costs

``--compare-unlocked`` also runs each count with the head read but not locked (and not
updated), interleaved with the locked runs: the events then do not form one chain (it is
not verified, only counted), which is exactly what the lock prevents; the difference is its cost.

Each round makes a fresh database (``hubbench_<random>``) on ``HUB_TEST_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/test``) and drops it afterwards; the chain is
verified after each run (and the run fails if it is broken). Medians of the rounds are printed.
Nothing is asserted about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from typing import Any

import psycopg

from hub.bodies import CodecRegistry, PlainCodec
from hub.plugin_api.events import HubEvent
from hub.store import Intake, NewDelivery, NewMessage, open_store

SERVER = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def database_url(name: str) -> str:
    base, _, query = SERVER.partition("?")
    return f"{base.rpartition('/')[0]}/{name}" + (f"?{query}" if query else "")


async def _write(url: str, kind: str, seconds: float, inflight: int, start_at: float, unlocked: bool) -> int:
    if unlocked:  # for comparison only: every writer chains from whatever head it reads, forking the chain
        from hub.store import postgres_sql

        postgres_sql.LOCK_CHAIN_HEAD = "SELECT hash FROM audit_head WHERE id=1"
        postgres_sql.SET_CHAIN_HEAD = "SELECT %s::text"
    store = open_store(url, CodecRegistry(PlainCodec()))
    pid = os.getpid()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    deadline = time.time() + seconds
    done = 0

    async def one_writer(lane: int) -> None:
        nonlocal done
        n = 0
        while time.time() < deadline:
            n += 1
            record = f"{pid}-{lane}-{n}"
            if kind == "accept":
                message = NewMessage(record, record, "bench", "HousingRequest", b"{}", time.time())
                delivery = NewDelivery(f"d-{record}", record, "sink", "bench", "pull")
                await store.accept(Intake([message], [delivery], [HubEvent("received", record, time.time())]))
            else:
                await store.audit_async([HubEvent("body_read", record, time.time(), actor="bench")])
            done += 1

    try:
        await asyncio.gather(*(one_writer(lane) for lane in range(inflight)))
    finally:
        store.close()
    return done


def _process(url: str, kind: str, seconds: float, inflight: int, start_at: float, unlocked: bool, results: Any) -> None:
    results.put(asyncio.run(_write(url, kind, seconds, inflight, start_at, unlocked)))


def run_once(processes: int, kind: str, seconds: float, inflight: int, unlocked: bool = False) -> float:
    """Events/s appended by ``processes`` writer processes for ``seconds`` on a fresh database."""
    name = f"hubbench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = database_url(name)
    try:
        open_store(url).close()  # migrate once before the clock starts
        results: Any = multiprocessing.Queue()
        start_at = time.time() + 1.0
        job = (url, kind, seconds, inflight, start_at, unlocked, results)
        workers = [multiprocessing.Process(target=_process, args=job) for _ in range(processes)]
        for worker in workers:
            worker.start()
        total: int = sum(results.get(timeout=seconds + 60) for _ in workers)
        for worker in workers:
            worker.join()
        store = open_store(url)
        try:
            report = store.verify_audit()
        finally:
            store.close()
        if unlocked:  # the chain is forked on purpose: count the events instead
            with psycopg.connect(url) as conn:
                rows = conn.execute("SELECT count(*) FROM events").fetchone()
            if rows is None or rows[0] != total:
                sys.exit(f"{rows} events stored, {total} appended")
        elif report.rows != total or not report.ok:
            sys.exit(f"the chain is broken or incomplete: {report} (expected {total} rows)")
        return total / seconds
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--inflight", type=int, default=64, help="writes in flight per process")
    parser.add_argument("--kind", choices=["audit", "accept"], default="audit")
    parser.add_argument("--compare-unlocked", action="store_true", help="also run without the head's lock")
    args = parser.parse_args()
    modes = [False, True] if args.compare_unlocked else [False]
    figures: dict[tuple[int, bool], list[float]] = {(n, u): [] for n in args.processes for u in modes}
    for _ in range(args.rounds):  # interleaved: each round runs every process count (and mode) once
        for n in args.processes:
            for unlocked in modes:
                figures[(n, unlocked)].append(run_once(n, args.kind, args.seconds, args.inflight, unlocked))
    print(f"{args.kind}: events appended per second ({args.rounds} rounds of {args.seconds:g} s, {args.inflight} "
          f"writes in flight per process; median [min-max])")  # fmt: skip
    base = statistics.median(figures[(args.processes[0], False)])
    for (n, unlocked), values in figures.items():
        median = statistics.median(values)
        what = "no lock, forked chain" if unlocked else "one verified chain"
        print(f"  {n} writer process{'es' if n > 1 else '  '}, {what:22}: {median:7.0f} /s  "
              f"[{min(values):.0f}-{max(values):.0f}]  x{median / base:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
