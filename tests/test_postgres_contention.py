"""The PostgreSQL store under load: plans that follow the tables, and writers that never deadlock on counters.

Two faults found by ``bench/throughput.py --store postgresql`` (docs/performance.md, 2026-12-04):

- the server's generic plan of a prepared statement, made while the database was young, scanned whole tables
  for every row inserted long after they had grown (the store now plans each execution);
- two processes writing at once deadlocked on the overview's per-minute counters: one transaction counted an
  accepted message and then a delivery, the other the other way round. The counters are now kept per database
  session (``activity_minutes.writer``), so two writers never share a counter row.

Each test gets its own database on ``HUB_TEST_POSTGRES_URL`` (skipped without a server, failing instead under
``HUB_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from contract.stores import T0, plan

from hub.bodies import CodecRegistry, PlainCodec
from hub.store import DeliveryState, Outcome, Store, open_store
from hub.testing.postgres import drop_postgres_database, fresh_postgres_database


@pytest.fixture
def url() -> Iterator[str]:
    """A fresh database with the store's schema, dropped afterwards."""
    made = fresh_postgres_database()
    open_store(made, CodecRegistry(PlainCodec())).close()
    yield made
    drop_postgres_database(made)


def connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


def scans(url: str, store: Store) -> dict[str, int]:
    """Sequential scans of messages and deliveries so far, the store's own sessions' included.

    A session reports its statistics when it goes idle, at most once a second (PostgreSQL 15): each of the
    store's connections is told to report at once (``pg_stat_force_next_flush``) before they are read. Before
    version 15 a session sends them when a transaction ends half a second or more after its last report: one
    is ended after that wait.
    """
    for pool in (store._pools.write, store._pools.read):  # type: ignore[attr-defined]
        with pool.connection() as conn:
            if conn.info.server_version >= 150000:
                conn.execute("SELECT pg_stat_force_next_flush()")
            else:
                time.sleep(0.6)
                conn.execute("SELECT 1")
    with connect(url) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = conn.execute(
            "SELECT relname, seq_scan FROM pg_stat_user_tables WHERE relname IN ('messages', 'deliveries')"
        )
        return {r[0]: int(r[1]) for r in rows}


def test_the_stores_connections_plan_each_execution_for_its_arguments(url) -> None:
    store = open_store(url, CodecRegistry(PlainCodec()))
    try:
        for pool in (store._pools.read, store._pools.write):  # type: ignore[attr-defined]
            with pool.connection() as conn:
                assert conn.execute("SHOW plan_cache_mode").fetchone()[0] == "force_custom_plan"
    finally:
        store.close()


async def one_round(store: Store, name: str) -> None:
    """Three messages accepted at once, their deliveries claimed and recorded delivered: the statements of a day."""
    now = time.time()
    await asyncio.gather(*(store.accept(plan(f"{name}-{n}", at=now, order_key=f"{name}-{n}")) for n in range(3)))
    jobs = await store.claim(10, now + 1, 30.0)
    assert len(jobs) == 3
    await store.record([Outcome(job.delivery_id, job.record_id, job.partner, DeliveryState.DELIVERED, job.attempts,
                                now + 1, lease_id=job.lease_id) for job in jobs])  # fmt: skip


def test_statements_first_run_on_an_empty_database_do_not_scan_whole_tables_once_it_has_grown(url) -> None:
    """Intake, claim and outcome read by index on a grown database though their statements were prepared young."""
    store: Store = open_store(url, CodecRegistry(PlainCodec()))
    try:
        for n in range(12):  # on the empty database: psycopg prepares the statements, the server plans them
            asyncio.run(one_round(store, f"young-{n}"))
        with connect(url) as conn:  # the tables grow, as they do in a day's traffic
            # and no automatic ANALYZE meanwhile: it would make the server plan the statements afresh
            conn.execute("ALTER TABLE messages SET (autovacuum_enabled = off)")
            conn.execute("ALTER TABLE deliveries SET (autovacuum_enabled = off)")
            conn.execute(
                "INSERT INTO messages (id, message_id, sender, type, received_at, body_codec, body) "
                "SELECT 'filler-' || n, 'filler-' || n, 'trust-a', 'HousingRequest', %s, 'plain', '\\x7b7d'::bytea "
                "FROM generate_series(1, 20000) AS n",
                (T0,),
            )
            conn.execute(
                "INSERT INTO deliveries (id, record_id, partner, route, mode, state, attempts, created_at, order_key, "
                "order_seq, type, received_at, delivered_at) SELECT 'filler-d-' || n, 'filler-' || n, 'council-luton', "
                "'r', 'push', 'delivered', 1, %s, 'filler-key-' || n, 1, 'HousingRequest', %s, %s "
                "FROM generate_series(1, 20000) AS n", (T0, T0, T0))  # fmt: skip
        before = scans(url, store)
        for n in range(10):
            asyncio.run(one_round(store, f"grown-{n}"))
        after = scans(url, store)
    finally:
        store.close()
    scanned = {table: after[table] - before[table] for table in after}
    assert scanned == {"messages": 0, "deliveries": 0}, f"whole-table scans in 10 rounds of 3 messages: {scanned}"


def test_two_writers_counting_accepted_and_delivered_in_opposite_orders_do_not_deadlock(url) -> None:
    """What two hub processes did under load: A counts an accepted message then a delivery, B the reverse."""
    seed = open_store(url, CodecRegistry(PlainCodec()))
    try:
        intakes = [plan(f"seed-{n}", at=time.time()) for n in range(2)]
        for intake in intakes:
            seed.accept_now(intake)
    finally:
        seed.close()
    delivery_ids = [intake.deliveries[0].id for intake in intakes]
    now = time.time()
    errors: list[BaseException] = []
    first_writes_done = threading.Barrier(2, timeout=10)

    def insert_message(conn: Any) -> None:
        record = str(uuid.uuid4())
        conn.execute("INSERT INTO messages (id, message_id, sender, type, received_at, body_codec, body) "
                     "VALUES (%s, %s, 'trust-a', 'HousingRequest', %s, 'plain', '\\x7b7d'::bytea)",
                     (record, record, now))  # fmt: skip

    def deliver(conn: Any, delivery_id: str) -> None:
        conn.execute("UPDATE deliveries SET state = 'delivered', delivered_at = %s WHERE id = %s", (now, delivery_id))

    def writer(accepted_first: bool, delivery_id: str) -> None:
        try:
            with connect(url) as conn, conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '5s'")
                if accepted_first:
                    insert_message(conn)
                else:
                    deliver(conn, delivery_id)
                first_writes_done.wait()
                if accepted_first:
                    deliver(conn, delivery_id)
                else:
                    insert_message(conn)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(True, delivery_ids[0])),
               threading.Thread(target=writer, args=(False, delivery_ids[1]))]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, [f"{type(e).__name__}: {e}" for e in errors]
    reopened = open_store(url, CodecRegistry(PlainCodec()))
    try:
        counted: Counter[tuple[str, str]] = Counter()
        for kind, partner, _type, _minute, count in reopened.activity(now - 120):
            counted[(kind, partner)] += count
    finally:
        reopened.close()
    assert counted[("accepted", "trust-a")] == 4  # the two seeds and one message from each writer
    assert counted[("delivered", "council-luton")] == 2
