"""What only the PostgreSQL store promises: many processes on one database.

The ports' promises are checked for every backend by ``tests/contract/``; these tests add
what several processes need: migrations that do not race, one delivery handed out once
among processes claiming at the same time, one audit chain from concurrent writers,
notifications that wake other processes' workers, and no password in an error.
Each test gets its own database on ``HUB_TEST_POSTGRES_URL`` (skipped without a server,
failing instead under ``HUB_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from contract.stores import T0, delivery_of, plan

from hub.bodies import CodecRegistry, PlainCodec
from hub.plugin_api.events import HubEvent
from hub.plugin_api.problems import ConfigError
from hub.store import DeliveryState, Outcome, Store, open_store
from hub.store.postgres_schema import LATEST
from hub.testing.postgres import POSTGRES_URL, drop_postgres_database, fresh_postgres_database

PROCESS = Path(__file__).with_name("store_process.py")


@pytest.fixture
def url() -> Iterator[str]:
    """A fresh, empty database (no schema yet), dropped afterwards."""
    made = fresh_postgres_database()
    yield made
    drop_postgres_database(made)


def opened(url: str) -> Store:
    return open_store(url, CodecRegistry(PlainCodec()))


def run_processes(action: str, url: str, count: int, *extra: str) -> list[str]:
    """Start ``count`` processes of ``store_process.py`` together; their outputs, each checked to have succeeded."""
    start_at = time.time() + 1.5  # every process is past its imports by then
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, str(PROCESS), action, url, str(start_at), *extra]
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(count)]  # fmt: skip
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(out)
    return outputs


def schema_rows(url: str) -> list[int]:
    import psycopg

    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_processes_and_threads_opening_a_fresh_database_at_once_migrate_it_once(url) -> None:
    errors: list[BaseException] = []

    def open_and_close() -> None:
        try:
            opened(url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_and_close) for _ in range(4)]
    for thread in threads:
        thread.start()
    outputs = run_processes("open", url, 4)
    for thread in threads:
        thread.join()
    assert not errors
    assert [out.strip() for out in outputs] == ["opened"] * 4
    assert schema_rows(url) == list(range(1, LATEST + 1))


def test_two_processes_claiming_at_once_never_hand_out_one_delivery_twice(url) -> None:
    store = opened(url)
    try:
        for n in range(200):
            store.accept_now(plan(f"m-{n}", at=T0 + n))
    finally:
        store.close()
    taken = [d for out in run_processes("claim", url, 2) for d in json.loads(out)]
    assert len(taken) == 200 and len(set(taken)) == 200
    check = opened(url)
    try:
        assert check.counts()["deliveries_in_flight"] == 200
    finally:
        check.close()


def test_ordered_deliveries_accepted_by_several_processes_at_once_are_numbered_in_commit_order(url) -> None:
    opened(url).close()  # migrated before the processes start
    run_processes("ordered", url, 3, "40")
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT d.order_seq, m.id, (SELECT e.seq FROM events e WHERE e.record_id=m.id AND e.kind='received') "
            "FROM deliveries d JOIN messages m ON m.id=d.record_id ORDER BY d.order_seq"
        ).fetchall()
    assert [r[0] for r in rows] == list(range(1, 121))  # one place each, none skipped
    commits = [r[2] for r in rows]  # the audit chain's order is the commit order (its head is locked to commit)
    assert commits == sorted(commits)
    by_process: dict[str, list[int]] = {}
    for _, record_id, _ in rows:
        pid, _, i = record_id.partition("-")
        by_process.setdefault(pid, []).append(int(i))
    assert len(by_process) == 3
    assert all(submitted == list(range(40)) for submitted in by_process.values())  # grouped five at a time


def test_one_keys_deliveries_written_in_one_group_are_numbered_in_acceptance_order(url) -> None:
    import psycopg

    store = opened(url)
    try:
        store.accept_now(plan("anne-0", order_key="anne"))
        grouped = [plan(f"{who}-{n}", order_key=who) for n in range(1, 21) for who in ("anne", "bob")]
        asyncio.run(store.accept_all(grouped))  # one job: the group's deliveries go in one unnest insert

        async def one_by_one() -> None:  # queued together, so the writer groups them too
            await asyncio.gather(*(store.accept(plan(f"anne-{n}", order_key="anne")) for n in range(21, 41)))

        asyncio.run(one_by_one())
    finally:
        store.close()
    with psycopg.connect(url) as conn:
        statement = ("SELECT d.order_key, m.message_id, d.order_seq FROM deliveries d "
                     "JOIN messages m ON m.id=d.record_id ORDER BY d.order_key, d.order_seq")  # fmt: skip
        rows = conn.execute(statement).fetchall()
    anne = [(message_id, seq) for key, message_id, seq in rows if key == "anne"]
    assert anne == [(f"anne-{n}", n + 1) for n in range(41)]
    assert [(m, seq) for key, m, seq in rows if key == "bob"] == [(f"bob-{n}", n) for n in range(1, 21)]


def test_a_later_delivery_waits_while_another_process_is_claiming_its_elder(url) -> None:
    import psycopg

    store = opened(url)
    try:
        first = store.accept_now(plan("anne-1", order_key="anne"))
        store.accept_now(plan("anne-2", order_key="anne"))
        store.accept_now(plan("bob-1", order_key="bob"))
        elder = delivery_of(store, first.id, "council-luton")["id"]
        with psycopg.connect(url) as other:  # another process's claim of anne-1, not yet committed
            other.execute("SELECT id FROM deliveries WHERE id=%s FOR UPDATE", (elder,))
            other.execute("UPDATE deliveries SET state='in_flight', lease_id='other', due_at=%s WHERE id=%s",
                          (T0 + 300, elder))  # fmt: skip
            assert [j.message_id for j in asyncio.run(store.claim(10, T0 + 1, 30.0))] == ["bob-1"]
            other.commit()
        assert asyncio.run(store.claim(10, T0 + 2, 30.0)) == []  # anne-1 is out now, in the other process
    finally:
        store.close()


def test_processes_delivering_at_once_send_each_keys_deliveries_one_at_a_time_in_order(url) -> None:
    import psycopg

    store = opened(url)
    try:
        intakes = [plan(f"p{person}-{n}", order_key=f"person-{person}", at=T0 + n)
                   for n in range(12) for person in range(10)]  # fmt: skip
        intakes += [plan(f"plain-{n}", at=T0) for n in range(30)]
        asyncio.run(store.accept_all(intakes))
    finally:
        store.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE arrivals (seq BIGSERIAL PRIMARY KEY, message_id TEXT NOT NULL)")
    run_processes("deliver", url, 3)
    with psycopg.connect(url) as conn:
        arrived = [r[0] for r in conn.execute("SELECT message_id FROM arrivals ORDER BY seq")]
    assert sorted(arrived) == sorted(i.messages[0].message_id for i in intakes)  # each once
    order: dict[str, list[int]] = {}
    for message_id in arrived:
        person, _, n = message_id.partition("-")
        order.setdefault(person, []).append(int(n))
    assert all(order[f"p{person}"] == list(range(12)) for person in range(10)), order


def test_a_database_from_before_ordering_is_upgraded_and_its_deliveries_stay_unordered(url) -> None:
    import psycopg

    store = opened(url)
    try:
        for n in range(2):
            store.accept_now(plan(f"old-{n}"))
    finally:
        store.close()
    with psycopg.connect(url, autocommit=True) as conn:  # what version 1 left: nothing any later version adds
        conn.execute("ALTER TABLE deliveries DROP COLUMN order_key, DROP COLUMN order_seq")
        conn.execute("DROP TABLE pathway_timers, pathway_milestones, pathway_closures, pathway_cursor, index_rebuild")
        conn.execute("DROP TABLE alert_states, alert_outbox, alert_leases, alert_cursor, activity_minutes")
        conn.execute("DROP TRIGGER activity_accepted ON messages; DROP TRIGGER activity_delivered ON deliveries")
        conn.execute("ALTER TABLE messages DROP COLUMN status, DROP COLUMN status_at, DROP COLUMN answers_record")
        conn.execute("DELETE FROM schema_migrations WHERE version > 1")
    store = opened(url)
    try:
        assert schema_rows(url) == list(range(1, LATEST + 1))
        store.accept_now(plan("new-1", order_key="anne"))
        store.accept_now(plan("new-2", order_key="anne"))
        claimed = [j.message_id for j in asyncio.run(store.claim(10, T0 + 1, 30.0))]
        assert sorted(claimed) == ["new-1", "old-0", "old-1"]  # the old ones were never ordered; new-2 waits
        # the counters filled from the old rows (writer 0) and those of the new ones (this session's) add up
        accepted = sum(count for kind, *_, count in store.activity(T0 - 60) if kind == "accepted")
        assert accepted == 4
    finally:
        store.close()


def test_concurrent_writers_in_several_processes_form_one_verifiable_chain(url) -> None:
    run_processes("audit", url, 3, "60")
    store = opened(url)
    try:
        report = store.verify_audit()
        assert report.ok and report.rows == 3 * 60 * 2
        assert store.counts()["messages"] == 3 * 60
    finally:
        store.close()
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:  # cut one link in the middle: verify names it
        seq = conn.execute("SELECT seq FROM events ORDER BY seq OFFSET 100 LIMIT 1").fetchall()[0][0]
        conn.execute("DELETE FROM events WHERE seq=%s", (seq,))
        after = conn.execute("SELECT min(seq) FROM events WHERE seq > %s", (seq,)).fetchall()[0][0]
    store = opened(url)
    try:
        report = store.verify_audit()
        assert not report.ok and report.broken_at == after
        assert "link to the row before" in report.reason
    finally:
        store.close()


def test_a_commit_that_makes_deliveries_due_wakes_watchers_in_other_processes(url) -> None:
    watching, other = opened(url), opened(url)
    woken = threading.Event()
    try:
        watching.watch(woken.set)
        other.accept_now(plan("m-pull", to=(("steps-luton", "pull"),)))  # nothing due: nobody woken
        assert not woken.wait(1.0)
        accepted = other.accept_now(plan("m-push"))
        assert woken.wait(5.0)
        woken.clear()
        [job] = asyncio.run(other.claim(10, time.time(), 30.0))
        asyncio.run(other.record([Outcome(job.delivery_id, job.record_id, job.partner, DeliveryState.DEAD,
                                          job.attempts, time.time(), "gone", lease_id=job.lease_id)]))  # fmt: skip
        woken.clear()
        assert [e.record_id for e in other.replay([accepted.id], time.time())] == [accepted.id]
        assert woken.wait(5.0)
    finally:
        other.close()
        watching.close()


def test_the_end_of_an_earlier_delivery_wakes_watchers_for_the_next_of_its_key(url) -> None:
    watching, other = opened(url), opened(url)
    woken = threading.Event()

    def delivered(job) -> Outcome:
        return Outcome(job.delivery_id, job.record_id, job.partner, DeliveryState.DELIVERED, job.attempts,
                       time.time(), lease_id=job.lease_id)  # fmt: skip

    try:
        watching.watch(woken.set)
        other.accept_now(plan("plain"))
        other.accept_now(plan("anne-1", order_key="anne"))
        other.accept_now(plan("anne-2", order_key="anne"))
        jobs = asyncio.run(other.claim(10, time.time(), 30.0))
        assert sorted(j.message_id for j in jobs) == ["anne-1", "plain"]
        assert woken.wait(5.0)
        woken.clear()
        asyncio.run(other.record([delivered(j) for j in jobs if j.message_id == "plain"]))
        assert not woken.wait(1.0)  # nothing was waiting for it
        asyncio.run(other.record([delivered(j) for j in jobs if j.message_id == "anne-1"]))
        assert woken.wait(5.0)  # anne-2 may go now: another process's idle worker hears it
    finally:
        other.close()
        watching.close()


def test_an_unreachable_store_is_named_without_its_password() -> None:
    base = POSTGRES_URL.partition("://")[2].rpartition("@")[2].partition("/")[0]
    missing = f"hubtest_pg_missing_{uuid.uuid4().hex[:8]}"
    url = f"postgresql://someone:S3cret-Pa55word@{base}/{missing}"
    with pytest.raises(ConfigError) as refused:
        open_store(url)
    message = str(refused.value)
    assert "S3cret-Pa55word" not in message
    assert f"postgresql://{base}/{missing}" in message


def test_events_appended_while_another_process_holds_the_chain_head_wait_and_chain_after_it(url) -> None:
    import psycopg

    store = opened(url)
    try:
        store.audit([HubEvent("body_read", "r-1", T0)])
        with psycopg.connect(url) as holder:  # another process, mid-transaction, holding the head
            holder.execute("SELECT hash FROM audit_head WHERE id=1 FOR UPDATE")
            waiting = threading.Thread(target=store.audit, args=([HubEvent("body_read", "r-2", T0 + 1)],))
            waiting.start()
            waiting.join(0.5)
            assert waiting.is_alive()  # it waits for the head rather than forking the chain
        waiting.join(5)
        assert not waiting.is_alive()
        report = store.verify_audit()
        assert report.ok and report.rows == 2
    finally:
        store.close()


def test_serve_and_a_worker_process_on_postgresql_deliver_at_once_though_the_worker_polls_rarely(url, make_world):
    """A running hub on PostgreSQL: ``hub serve --no-worker`` accepts, a ``hub worker`` woken by NOTIFY delivers."""
    from hub.testing import RunningHub, stop_process, wait_until
    from hub.testing.messages import housing_request

    world = make_world({"store": {"url": url}, "delivery": {"poll_interval_seconds": 60}})
    world.hub.stop()
    world.hub = RunningHub(world.config_dir, port=world.hub.port, extra_args=["--no-worker"]).start()
    log = (world.config_dir / "worker.log").open("ab")
    worker = subprocess.Popen([sys.executable, "-m", "hub", "worker", "--config", str(world.config_dir)],
                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    council = world.sims["council-luton"]
    try:
        first = world.send("trust-a", housing_request()).json()["id"]
        assert wait_until(lambda: world.view(first)["status"] == "delivered", timeout=30)
        # the worker is idle now, next polling in a minute: only the accepting process's NOTIFY can wake it
        second = world.send("trust-a", housing_request()).json()["id"]
        assert wait_until(lambda: world.view(second)["status"] == "delivered", timeout=10)
        assert len(council.messages("HousingRequest")) == 2
        assert world.db_count("messages") == 2
    finally:
        stop_process(worker)
        log.close()


def test_two_worker_processes_on_postgresql_deliver_every_message_once(url, make_world) -> None:
    """Several ``hub worker`` processes share the deliveries: each message reaches the partner, none twice."""
    from concurrent.futures import ThreadPoolExecutor

    from hub.testing import RunningHub, stop_process, wait_until
    from hub.testing.messages import housing_request

    world = make_world({"store": {"url": url}, "delivery": {"concurrency": 8}})
    world.hub.stop()
    world.hub = RunningHub(world.config_dir, port=world.hub.port, extra_args=["--no-worker"]).start()
    logs = [(world.config_dir / f"worker-{n}.log").open("ab") for n in range(2)]
    workers = [subprocess.Popen([sys.executable, "-m", "hub", "worker", "--config", str(world.config_dir)],
                                stdout=log, stderr=subprocess.STDOUT) for log in logs]  # fmt: skip
    council = world.sims["council-luton"]
    council.delay = 0.005  # deliveries stay in flight long enough for both workers to claim at once
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: world.send("trust-a", housing_request()), range(200)))
        assert [a.status_code for a in answers] == [202] * 200
        sent = {a.json()["id"] for a in answers}
        assert wait_until(lambda: len(council.unique_ids()) == 200, timeout=60)
        time.sleep(0.5)
        assert len(council.received) == 200  # no message delivered twice
        assert all(world.view(record)["status"] == "delivered" for record in list(sent)[:20])
    finally:
        for worker in workers:
            stop_process(worker)
        for log in logs:
            log.close()
    worked = [log.read_text() for log in (world.config_dir / "worker-0.log", world.config_dir / "worker-1.log")]
    assert not any("Traceback" in text for text in worked), worked
