"""What ordered delivery costs ``claim`` on a big queue: the SQLite store with 100,000 pending deliveries.

Fills a fresh store (in a temporary directory, bodies encrypted as in production) through
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

It prints the plan SQLite makes for the claim statement and, per queue, the median and 95th
percentile claim time and the rows per claim. It asserts nothing about timing.

    python bench/claim_order.py --pending 100000 --rounds 50
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
from pathlib import Path

from hub.bodies import CodecRegistry
from hub.crypto.at_rest import AesGcmCodec
from hub.crypto.keyring import FileKeyRing
from hub.plugin_api.events import HubEvent
from hub.store import DeliveryState, Intake, NewDelivery, NewMessage, Outcome, Store, open_store
from hub.store import sqlite_sql as sql
from hub.store.sqlite import _claimable
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


def time_claims(
    store: Store, path: Path, rounds: int, limit: int, now: float
) -> tuple[list[float], list[float], list[float], list[int]]:
    """Per round: the whole claim (commit included), its selection alone, the old selection alone; rows claimed."""
    claims, selections, before, sizes = [], [], [], []
    reader = sqlite3.connect(path, isolation_level=None)
    for r in range(rounds):
        at = now + r * 0.001
        started = time.perf_counter()
        reader.execute("BEGIN IMMEDIATE")  # the selection as the claim makes it (parking included), undone
        _claimable(reader, limit, at)
        reader.execute("ROLLBACK")
        selections.append(time.perf_counter() - started)
        started = time.perf_counter()
        reader.execute(SELECTION_BEFORE, {"now": at, "limit": limit}).fetchall()
        before.append(time.perf_counter() - started)
        started = time.perf_counter()
        jobs = asyncio.run(store.claim(limit, at, LEASE))
        claims.append(time.perf_counter() - started)
        sizes.append(len(jobs))
        outcomes = [Outcome(j.delivery_id, j.record_id, j.partner, DeliveryState.DELIVERED, j.attempts, at,
                            lease_id=j.lease_id) for j in jobs]  # fmt: skip
        asyncio.run(store.record(outcomes))
    reader.close()
    return claims, selections, before, sizes


def figures(seconds: list[float]) -> str:
    ms = sorted(t * 1000 for t in seconds)
    return f"median {statistics.median(ms):7.2f} ms, p95 {ms[min(len(ms) - 1, int(len(ms) * 0.95))]:7.2f} ms"


def run(kind: str, args: argparse.Namespace, directory: Path, codecs: CodecRegistry) -> None:
    path = directory / f"{kind}.db"
    store = open_store(sqlite_url(path), codecs)
    try:
        t0 = time.time() - 3600
        keys = queue_keys(kind if kind != "backoff" else "people", args.pending, args.per_person)
        others = max(args.pending // 100, args.rounds * args.limit)  # enough for every timed claim to find work
        if kind == "backoff":
            keys = keys[: args.pending - others]
        started = time.perf_counter()
        fill(store, keys, t0)
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
        claims, selections, before, sizes = time_claims(store, path, args.rounds, args.limit, t0 + 3)
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


def explain(directory: Path, codecs: CodecRegistry) -> None:
    path = directory / "plan.db"
    open_store(sqlite_url(path), codecs).close()
    conn = sqlite3.connect(path)
    try:
        for name in ("PENDING_DUE", "EXPIRED_DUE", "WAKE_NEXT"):
            print(f"EXPLAIN QUERY PLAN of sqlite_sql.{name}:")
            for row in conn.execute(
                "EXPLAIN QUERY PLAN " + getattr(sql, name),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pending", type=int, default=100_000, help="deliveries in the queue (100000)")
    parser.add_argument("--per-person", type=int, default=5, help="messages per person in ordered queues (5)")
    parser.add_argument("--rounds", type=int, default=50, help="claims timed per queue (50)")
    parser.add_argument("--limit", type=int, default=64, help="deliveries asked for per claim (64)")
    parser.add_argument("--queues", default="unordered,people,backoff", help="which queues, comma-separated")
    args = parser.parse_args()
    os.environ.setdefault("HUB_TEST_SCRYPT_N", "1024")
    with tempfile.TemporaryDirectory(prefix="claim-order-") as tmp:
        directory = Path(tmp)
        codecs = CodecRegistry(AesGcmCodec(FileKeyRing.create(directory / "keys", "bench-passphrase")))
        print(f"claim_order: {args.pending:,} pending, {args.per_person} per person, {args.rounds} rounds, "
              f"sqlite {sqlite3.sqlite_version}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")  # fmt: skip
        explain(directory, codecs)
        for kind in args.queues.split(","):
            run(kind, args, directory, codecs)


if __name__ == "__main__":
    main()
