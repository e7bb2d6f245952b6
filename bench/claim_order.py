"""What ordered delivery costs ``claim`` on a big queue: a store with 100,000 pending deliveries.

``--store sqlite`` (the default) or ``--store postgresql`` (a database of its own, made on the server
``--postgres-url`` names and dropped at the end). Fills a fresh store (SQLite in a temporary
directory; bodies encrypted as in production) through
``accept_all``, then times ``claim`` (``--limit`` at a time, as a worker with that much free
concurrency asks) in steady state: each round claims, then records every claimed delivery as
delivered, so the queue moves as a worker would move it. Queues:

- ``unordered``: every delivery without an order key (the cost before order existed);
- ``people``: ``--per-person`` messages for each of N people, accepted interleaved (person 1's
  first, person 2's first, ..., then everyone's second...), all ordered;
- ``backoff``: the same queue, but every person's first delivery failed and waits out a long
  back-off, so their later ones are due and held back: the worst case for the scan (claim
  walks the held ones, oldest due first, to find deliveries of other keys); the rest of the
  queue (1%, or enough for every timed claim) are other people's deliveries that can go. It
  prints the claims that first walk the held-back ones and park them (one claim looks at 2,000
  rows at most), then the claims after.

It prints the plan the database makes for the claim's statements and, per queue, the median and
95th percentile claim time and the rows per claim. It asserts nothing about timing.

    python bench/claim_order.py --pending 100000 --rounds 50
    python bench/claim_order.py --store postgresql --pending 100000 --rounds 50
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.bodies import CodecRegistry
from hub.crypto.at_rest import AesGcmCodec
from hub.crypto.keyring import FileKeyRing
from hub.plugin_api.events import HubEvent
from hub.store import (
    DeliveryState,
    Intake,
    NewDelivery,
    NewMessage,
    Outcome,
    Store,
    open_store,
    postgres_sql,
    sqlite_sql,
)
from hub.store.url import sqlite_url

BODY = b'{"synthetic": true, "padding": "' + b"x" * 1500 + b'"}'  # about the size of a HousingRequest
LEASE = 60.0


def intake(n: int, key: str | None, at: float) -> Intake:
    record = str(uuid.uuid4())
    message = NewMessage(record, f"m-{n}-{record}", "bench-trust", "HousingRequest", BODY, at)
    delivery = NewDelivery(str(uuid.uuid4()), record, "council", "bench", "push", key)
    return Intake([message], [delivery], [HubEvent("received", record, at)])


def fill(store: Store, keys: list[str | None], at: float, batch: int = 2000) -> None:
    for start in range(0, len(keys), batch):
        chunk = [intake(start + i, key, at) for i, key in enumerate(keys[start : start + batch])]
        asyncio.run(store.accept_all(chunk))


def queue_keys(kind: str, pending: int, per_person: int) -> list[str | None]:
    if kind == "unordered":
        return [None] * pending
    people = pending // per_person
    return [f"person-{p}" for _ in range(per_person) for p in range(people)]


# what claim read before order existed (one statement, a selection of due rows)
SELECTION_BEFORE = (
    "SELECT id FROM deliveries WHERE state IN ('pending','in_flight') AND due_at<=:now ORDER BY due_at LIMIT :limit"
)
POSTGRES_DATABASE_PREFIX = "hubbench_claim_order_"
POSTGRES_SELECTION_BEFORE = (
    "SELECT id, due_at FROM deliveries WHERE state IN ('pending','in_flight') AND due_at<=%(now)s "
    "ORDER BY due_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
)


class SQLiteSide:
    """What the bench reads behind an SQLite store: the claim's selection alone, and its plans."""

    name = "sqlite"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "none.db"

    def url(self, kind: str) -> str:
        self.path = self.directory / f"{kind}.db"
        return sqlite_url(self.path)

    def drop(self) -> None:
        """Nothing: the temporary directory goes at the end."""

    def settle(self) -> None:
        """Nothing: SQLite plans the claim from its indexes alone."""

    def selections(self) -> tuple[Callable[[int, float], None], Callable[[int, float], None], Callable[[], None]]:
        from hub.store.sqlite import _claimable

        reader = sqlite3.connect(self.path, isolation_level=None)

        def selection(limit: int, at: float) -> None:  # as the claim makes it (parking included), undone
            reader.execute("BEGIN IMMEDIATE")
            _claimable(reader, limit, at)
            reader.execute("ROLLBACK")

        def before(limit: int, at: float) -> None:
            reader.execute(SELECTION_BEFORE, {"now": at, "limit": limit}).fetchall()

        return selection, before, reader.close

    def explain(self, codecs: CodecRegistry) -> None:
        path = self.directory / "plan.db"
        open_store(sqlite_url(path), codecs).close()
        conn = sqlite3.connect(path)
        try:
            for name in ("PENDING_DUE", "EXPIRED_DUE", "WAKE_NEXT"):
                print(f"EXPLAIN QUERY PLAN of sqlite_sql.{name}:")
                for row in conn.execute(
                    "EXPLAIN QUERY PLAN " + getattr(sqlite_sql, name),
                    {"now": 0, "at": 0, "delivery_id": "d"}
                    if name == "WAKE_NEXT"
                    else (0.0, 64)[: 1 if name == "PENDING_DUE" else 2],
                ):
                    print(f"  {row[3]}")
            print("EXPLAIN QUERY PLAN of the next order_seq of a key (INSERT_ORDERED_DELIVERY):")
            for row in conn.execute(
                "EXPLAIN QUERY PLAN SELECT coalesce(max(order_seq), 0) + 1 FROM deliveries WHERE order_key=?", ("k",)
            ):
                print(f"  {row[3]}")
        finally:
            conn.close()

    def version(self) -> str:
        return f"sqlite {sqlite3.sqlite_version}"


class PostgresSide:
    """The same for a PostgreSQL store: a fresh database per queue on the server ``server_url`` names."""

    name = "postgresql"

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.current: str | None = None
        self.explained = False

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(self.server_url, autocommit=True)

    def url(self, kind: str) -> str:
        name = f"{POSTGRES_DATABASE_PREFIX}{kind}_{uuid.uuid4().hex[:8]}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        base, _, query = self.server_url.partition("?")
        self.current = f"{base.rpartition('/')[0]}/{name}" + (f"?{query}" if query else "")
        return self.current

    def drop(self) -> None:
        if self.current is None:
            return
        name = self.current.partition("?")[0].rpartition("/")[2]
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.current = None

    def settle(self) -> None:
        """ANALYZE the filled tables, as autovacuum soon would on a live database (the planner needs their sizes)."""
        import psycopg

        assert self.current is not None
        with psycopg.connect(self.current, autocommit=True) as conn:
            conn.execute("ANALYZE messages, deliveries")
            if not self.explained:
                self.explained = True
                print(f"(plans on the first queue, {conn.execute('SELECT count(*) FROM deliveries').fetchone()[0]:,} "
                      "deliveries, analyzed)")  # fmt: skip
                self._show_plans(conn)

    def selections(self) -> tuple[Callable[[int, float], None], Callable[[int, float], None], Callable[[], None]]:
        import psycopg

        from hub.store.postgres import _claimable

        assert self.current is not None
        reader = psycopg.connect(self.current, autocommit=True)

        def selection(limit: int, at: float) -> None:  # as the claim makes it (parking included), undone
            with reader.transaction(force_rollback=True):
                _claimable(reader, limit, at)

        def before(limit: int, at: float) -> None:  # the claim's selection before order: locked too, undone
            with reader.transaction(force_rollback=True):
                reader.execute(POSTGRES_SELECTION_BEFORE, {"now": at, "limit": limit}).fetchall()

        return selection, before, reader.close

    def explain(self, codecs: CodecRegistry) -> None:
        """Nothing yet: PostgreSQL plans from the tables' statistics; ``settle`` shows the plans on the first queue."""

    def _show_plans(self, conn: Any) -> None:
        for name, statement, args in (
            ("PENDING_DUE (the walk's cursor)", "DECLARE walk CURSOR FOR " + postgres_sql.PENDING_DUE, (time.time(),)),
            ("EXPIRED_DUE", postgres_sql.EXPIRED_DUE, (time.time(), 64)),
            ("WAKE_NEXT", postgres_sql.WAKE_NEXT, {"at": 0.0, "delivery_id": "d"}),
            ("the next order_seq of a key (INSERT_ORDERED_DELIVERIES)",
             "SELECT coalesce(max(order_seq), 0) + 1 FROM deliveries WHERE order_key=%s", ("person-1",)),
        ):  # fmt: skip
            print(f"EXPLAIN of postgres_sql.{name}:")
            with conn.transaction(force_rollback=True):
                conn.execute(postgres_sql.NO_JIT)
                for (line,) in conn.execute("EXPLAIN " + statement, args):
                    print(f"  {line}")

    def version(self) -> str:

        with self._admin() as conn:
            return f"PostgreSQL {conn.execute('SHOW server_version').fetchone()[0]}"


Side = SQLiteSide | PostgresSide


def time_claims(
    store: Store, side: Side, rounds: int, limit: int, now: float
) -> tuple[list[float], list[float], list[float], list[int]]:
    """Per round: the whole claim (commit included), its selection alone, the old selection alone; rows claimed."""
    claims, selections, before, sizes = [], [], [], []
    selection, selection_before, close = side.selections()
    for r in range(rounds):
        at = now + r * 0.001
        started = time.perf_counter()
        selection(limit, at)
        selections.append(time.perf_counter() - started)
        started = time.perf_counter()
        selection_before(limit, at)
        before.append(time.perf_counter() - started)
        started = time.perf_counter()
        jobs = asyncio.run(store.claim(limit, at, LEASE))
        claims.append(time.perf_counter() - started)
        sizes.append(len(jobs))
        outcomes = [Outcome(j.delivery_id, j.record_id, j.partner, DeliveryState.DELIVERED, j.attempts, at,
                            lease_id=j.lease_id) for j in jobs]  # fmt: skip
        asyncio.run(store.record(outcomes))
    close()
    return claims, selections, before, sizes


def figures(seconds: list[float]) -> str:
    ms = sorted(t * 1000 for t in seconds)
    return f"median {statistics.median(ms):7.2f} ms, p95 {ms[min(len(ms) - 1, int(len(ms) * 0.95))]:7.2f} ms"


def run(kind: str, args: argparse.Namespace, side: Side, codecs: CodecRegistry) -> None:
    store = open_store(side.url(kind), codecs)
    try:
        t0 = time.time() - 3600
        keys = queue_keys(kind if kind != "backoff" else "people", args.pending, args.per_person)
        others = max(args.pending // 100, args.rounds * args.limit)  # enough for every timed claim to find work
        if kind == "backoff":
            keys = keys[: args.pending - others]
        started = time.perf_counter()
        fill(store, keys, t0)
        side.settle()
        catch_up: list[float] = []
        if kind == "backoff":  # every person's first delivery fails and waits an hour; their later ones are held
            people = args.pending // args.per_person  # as queue_keys made them: everyone's first comes first
            failed = 0
            while failed < people:  # the first deliveries, accepted first, are walked first: no later one is walked
                jobs = asyncio.run(store.claim(min(1000, people - failed), t0 + 1, LEASE))
                failed += len(jobs)
                asyncio.run(store.record([Outcome(j.delivery_id, j.record_id, j.partner, DeliveryState.PENDING,
                                                  j.attempts, t0 + 1, error="HTTP 503", due_at=t0 + 7200,
                                                  lease_id=j.lease_id) for j in jobs]))  # fmt: skip
            assert store.counts()["deliveries_pending"] == len(keys), "every delivery is pending"
            fill(store, [f"other-{n}" for n in range(args.pending - len(keys))], t0 + 2)
            side.settle()
            held = len(keys) - people
            # the claims that walk the held-back ones (due first) and park them, until one finds a full batch
            while True:
                started_claim = time.perf_counter()
                jobs = asyncio.run(store.claim(args.limit, t0 + 3, LEASE))
                catch_up.append(time.perf_counter() - started_claim)
                asyncio.run(store.record([Outcome(j.delivery_id, j.record_id, j.partner, DeliveryState.DELIVERED,
                                                  j.attempts, t0 + 3, lease_id=j.lease_id) for j in jobs]))  # fmt: skip
                if len(jobs) == args.limit:
                    break
        else:
            held = 0
        filled = time.perf_counter() - started
        waiting = store.counts()["deliveries_pending"]
        claims, selections, before, sizes = time_claims(store, side, args.rounds, args.limit, t0 + 3)
        print(f"{kind}: {waiting:,} pending, {held:,} of them held back by an earlier one; filled in {filled:.1f} s; "
              f"rows per claim: median {statistics.median(sizes):.0f}")  # fmt: skip
        if catch_up:
            print(f"  the {len(catch_up)} claims that walked the {held:,} held back and parked them, until one found "
                  f"{args.limit}: {sum(catch_up):.2f} s in all, the longest {max(catch_up) * 1000:.0f} ms")  # fmt: skip
        print(f"  store.claim({args.limit}), commit included:      {figures(claims)}")
        print(f"  its selection alone (walk, park):       {figures(selections)}")
        print(f"  the selection before order (no guard):  {figures(before)}")
    finally:
        store.close()
        side.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pending", type=int, default=100_000, help="deliveries in the queue (100000)")
    parser.add_argument("--per-person", type=int, default=5, help="messages per person in ordered queues (5)")
    parser.add_argument("--rounds", type=int, default=50, help="claims timed per queue (50)")
    parser.add_argument("--limit", type=int, default=64, help="deliveries asked for per claim (64)")
    parser.add_argument("--queues", default="unordered,people,backoff", help="which queues, comma-separated")
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite", help="which store (sqlite)")
    parser.add_argument("--postgres-url", default=os.environ.get("HUB_TEST_POSTGRES_URL",
                        "postgresql://postgres@127.0.0.1:5432/test"),
                        help="a database on the PostgreSQL server to use (the bench makes its own there)")  # fmt: skip
    args = parser.parse_args()
    os.environ.setdefault("HUB_TEST_SCRYPT_N", "1024")
    with tempfile.TemporaryDirectory(prefix="claim-order-") as tmp:
        directory = Path(tmp)
        codecs = CodecRegistry(AesGcmCodec(FileKeyRing.create(directory / "keys", "bench-passphrase")))
        side: Side = SQLiteSide(directory) if args.store == "sqlite" else PostgresSide(args.postgres_url)
        print(f"claim_order: {args.pending:,} pending, {args.per_person} per person, {args.rounds} rounds, "
              f"{side.version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")  # fmt: skip
        side.explain(codecs)
        for kind in args.queues.split(","):
            run(kind, args, side, codecs)


if __name__ == "__main__":
    main()
