"""Faults of the PostgreSQL store, with nothing lost: real hub processes on a real PostgreSQL.

- The database restarted under load (a cluster of the test's own, stopped and started): senders get 503
  with ``Retry-After`` and a problem document (never a 500 or a hang), ``/readyz`` says not ready with the
  reason while it lasts, the processes reconnect by themselves, and every accepted message is delivered.
- An exhausted pool: a prompt 503, then normal service.
- Three ``hub worker`` processes, one killed with SIGKILL while messages flow: every accepted message is
  delivered; a repeat reaches the partner only as at-least-once allows, always with the message's own
  Idempotency-Key. ``HUB_FAULTS_MESSAGES`` sets how many (1,000 by default; the long run uses 5,000).

Each test makes and drops its own databases (the shared server's are never stopped); without PostgreSQL
they are skipped with the reason, or fail with ``HUB_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from pg_cluster import own_cluster

from hub.testing import stop_process, wait_until
from hub.testing.messages import housing_request
from hub.testing.postgres import drop_postgres_database, fresh_postgres_database, postgres_server
from hub.testing.world import HubWorld, build_world

MESSAGES = int(os.environ.get("HUB_FAULTS_MESSAGES", "1000"))
PROBLEM = "application/problem+json"


def scalar(conn: psycopg.Connection[Any], statement: str, *args: object) -> Any:
    """The first column of the first row ``statement`` returns (it must return one)."""
    row = conn.execute(statement, args).fetchone()
    assert row is not None, statement
    return row[0]


@contextmanager
def workers(world: HubWorld, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` ``hub worker`` processes on the world's config (and store), stopped afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        for n in range(count):
            command = [sys.executable, "-m", "hub", "worker", "--config", str(world.config_dir)]
            with (world.config_dir / f"worker-{n}.log").open("ab") as log:
                started.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        yield started
    finally:
        for process in started:
            stop_process(process)


def listening(url: str) -> int:
    """How many connections to the database at ``url`` listen for due deliveries (one per running worker)."""
    with psycopg.connect(postgres_server(), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query LIKE 'LISTEN %%'",
                           (url.rpartition("/")[2],)).fetchone()  # fmt: skip
    return int(row[0]) if row else 0


def waiting(url: str) -> int:
    """How many deliveries at ``url`` are pending (waiting for a worker)."""
    with psycopg.connect(url, autocommit=True) as conn:
        return int(scalar(conn, "SELECT count(*) FROM deliveries WHERE state = 'pending'"))


def session_for(world: HubWorld, who: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))
    session.headers["Authorization"] = f"Bearer {world.tokens[who]}"
    return session


def assert_unavailable(response: requests.Response) -> None:
    """A 503 problem document with Retry-After, as every answer during a store fault must be."""
    assert response.status_code == 503, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1
    body = response.json()
    assert body["status"] == 503 and body["retry_after_seconds"] == retry_after
    assert "postgres" not in response.text.lower() and "127.0.0.1" not in response.text  # no location, no user


def test_the_database_restarted_under_load_loses_no_accepted_message(tmp_path: Path) -> None:
    with own_cluster(tmp_path) as cluster:
        url = cluster.database(f"pgfaults_{uuid.uuid4().hex[:8]}")
        settings: dict[str, dict[str, Any]] = {"store": {"url": url, "pool_timeout_seconds": 1.0},
                                               "delivery": {"concurrency": 8}}  # fmt: skip
        world = build_world(tmp_path / "config", settings=settings, hub_args=["--no-worker"])
        try:
            with workers(world, 1):
                restarted_under_load(world, cluster)
        finally:
            world.stop()


def restarted_under_load(world: HubWorld, cluster: Any) -> None:
    council = world.sims["council-luton"]
    session = session_for(world, "trust-a")
    accepted: dict[str, str] = {}
    refused: dict[str, dict[str, Any]] = {}  # 503: sent again after the outage
    other: list[tuple[int, str]] = []
    ready: list[tuple[float, int, str]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def send_continuously() -> None:
        while not stop.is_set():
            message = housing_request()
            try:
                response = session.post(f"{world.url}/v1/messages", json=message, timeout=30)
            except requests.RequestException as exc:  # a hang or a dropped connection: never allowed
                with lock:
                    other.append((0, repr(exc)))
                continue
            with lock:
                if response.status_code == 202:
                    accepted[message["message_id"]] = response.json()["id"]
                elif response.status_code == 503:
                    assert_unavailable(response)
                    refused[message["message_id"]] = message
                else:
                    other.append((response.status_code, response.text))
            if response.status_code == 503:
                time.sleep(0.2)

    def watch_readiness() -> None:
        while not stop.is_set():
            response = requests.get(f"{world.url}/readyz", timeout=30)
            ready.append((time.monotonic(), response.status_code, response.text))
            time.sleep(0.2)

    first = world.send("trust-a", housing_request()).json()["id"]
    assert wait_until(lambda: world.view(first)["status"] == "delivered", timeout=60), "the worker never started"
    threads = [threading.Thread(target=send_continuously) for _ in range(4)]
    threads.append(threading.Thread(target=watch_readiness))
    for thread in threads:
        thread.start()
    try:
        assert wait_until(lambda: len(accepted) >= 100, timeout=60)
        cluster.stop("fast")
        down_at = time.monotonic()
        assert wait_until(lambda: len(refused) >= 5, timeout=30), "no sender was answered 503 while the store was down"
        # the other faces answer the same way while it lasts: a read, and a batch
        assert_unavailable(world.get("ops", f"/v1/messages/{next(iter(accepted.values()))}"))
        batch = b"\n".join(json.dumps(housing_request()).encode() for _ in range(3))
        assert_unavailable(session.post(f"{world.url}/v1/messages:batch", data=batch, timeout=30,
                                        headers={"Content-Type": "application/x-ndjson"}))  # fmt: skip
        time.sleep(max(0.0, 4.0 - (time.monotonic() - down_at)))  # down for a few seconds
        cluster.start()
        up_at = time.monotonic()
        assert wait_until(lambda: any(at > up_at and status == 200 for at, status, _ in ready), timeout=60), (
            "/readyz never said ready again after the database came back"
        )
        count = len(accepted)
        assert wait_until(lambda: len(accepted) >= count + 100, timeout=60), "senders were not served again"
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not other, other[:5]  # only 202 or 503: never a 500, a hang or a dropped connection
    not_ready = [text for at, status, text in ready if down_at < at < up_at and status == 503]
    assert not_ready, "/readyz did not report the outage"
    assert all("Not ready" in text and "reason" in text and "127.0.0.1" not in text for text in not_ready)
    assert all(status == 200 for at, status, _ in ready if at < down_at)

    # what was refused is sent again, with the same message id: taken now (new, or a repeat of one the hub had)
    for message_id, message in refused.items():
        response = session.post(f"{world.url}/v1/messages", json=message, timeout=30)
        assert response.status_code == 202, response.text
        accepted[message_id] = response.json()["id"]
    assert council.wait_for(lambda s: set(accepted) <= s.unique_ids(), timeout=120), (
        f"{len(set(accepted) - council.unique_ids())} of {len(accepted)} accepted messages never arrived"
    )
    assert all(r.headers.get("Idempotency-Key") == r.message["message_id"] for r in council.received)
    last = list(accepted.values())[-1]
    assert wait_until(lambda: world.view(last)["status"] == "delivered", timeout=30)
    assert requests.get(f"{world.url}/readyz", timeout=10).status_code == 200
    keys = [r.headers.get("Idempotency-Key") for r in council.received]
    delivered = len(set(accepted) & council.unique_ids())
    print(f"PostgreSQL restarted under load: {len(accepted)} accepted ({len(refused)} of them refused with 503 "
          f"while it was down and sent again), {delivered} delivered, {len(keys) - len(set(keys))} repeats at "
          f"the partner, /readyz not ready {len(not_ready)} times during the outage, 0 lost")  # fmt: skip


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the shared test server, dropped afterwards."""
    postgres_server()
    url = fresh_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


def test_an_exhausted_pool_is_a_prompt_503_then_normal_service(tmp_path: Path, postgres_url: str) -> None:
    settings = {"store": {"url": postgres_url, "pool_size": 1, "pool_timeout_seconds": 0.5}}
    world = build_world(tmp_path / "config", settings=settings)
    try:
        record = world.send("trust-a", housing_request()).json()["id"]
        assert wait_until(lambda: world.view(record)["status"] == "delivered")
        database = postgres_url.rpartition("/")[2]
        with psycopg.connect(postgres_url) as holder:  # a long transaction holds the table the reads need
            holder.execute("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
            with ThreadPoolExecutor(1) as pool:
                blocked = pool.submit(world.get, "ops", f"/v1/messages/{record}")  # takes the pool's one connection
                with psycopg.connect(postgres_server(), autocommit=True) as watcher:
                    assert wait_until(lambda: scalar(watcher,
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                        database) >= 1, timeout=10)  # fmt: skip
                assert_unavailable(world.get("ops", f"/v1/messages/{record}"))  # no connection free: 503, no wait
                not_ready = requests.get(f"{world.url}/readyz", timeout=10)
                assert not_ready.status_code == 503 and "no database connection came free" in not_ready.text
                assert "Retry-After" in not_ready.headers
                holder.commit()  # the lock goes: the blocked read finishes, and everything is served again
                assert blocked.result(timeout=30).status_code == 200
        assert world.get("ops", f"/v1/messages/{record}").status_code == 200
        assert requests.get(f"{world.url}/readyz", timeout=10).status_code == 200
        again = world.send("trust-a", housing_request()).json()["id"]
        assert wait_until(lambda: world.view(again)["status"] == "delivered")
    finally:
        world.stop()


def test_kill_9_of_one_of_three_workers_while_messages_flow_loses_none(tmp_path: Path, postgres_url: str) -> None:
    # a lease that the heartbeat keeps on a loaded machine: a delivery claimed twice is then one the killed worker held
    settings: dict[str, dict[str, Any]] = {"store": {"url": postgres_url},
                                           "delivery": {"concurrency": 8, "lease_seconds": 5.0}}  # fmt: skip
    world = build_world(tmp_path / "config", settings=settings, hub_args=["--no-worker"])
    council = world.sims["council-luton"]
    council.delay = 0.2  # a slow partner: deliveries stay in flight in every worker, and a backlog builds up
    session = session_for(world, "trust-a")
    accepted: dict[str, str] = {}
    failed: list[str] = []

    def send_one(_: int) -> None:
        message = housing_request()
        try:
            response = session.post(f"{world.url}/v1/messages", json=message, timeout=30)
        except requests.RequestException as exc:
            failed.append(repr(exc))
            return
        if response.status_code == 202:
            accepted[message["message_id"]] = response.json()["id"]
        else:
            failed.append(f"{response.status_code} {response.text}")

    try:
        with workers(world, 3) as started, ThreadPoolExecutor(16) as pool:
            assert wait_until(lambda: listening(postgres_url) >= 3, timeout=60), "the workers did not all start"
            futures = [pool.submit(send_one, n) for n in range(MESSAGES)]
            assert wait_until(lambda: len(council.unique_ids()) >= MESSAGES // 4, timeout=120)
            # kill only while deliveries wait for a worker: every worker then holds all it may (concurrency 8), so
            # the killed one holds leases (on a starved machine intake can fall behind and leave workers idle)
            assert wait_until(lambda: waiting(postgres_url) >= 24, timeout=120), "no backlog built up"
            started[0].kill()  # SIGKILL: its leases are left to run out
            started[0].wait(10)
            outstanding = len(accepted) - len(council.unique_ids() & set(accepted))
            for future in futures:
                future.result()
            assert not failed, failed[:5]
            assert len(accepted) == MESSAGES
            assert council.wait_for(lambda s: set(accepted) <= s.unique_ids(), timeout=300), (
                f"{len(set(accepted) - council.unique_ids())} of {len(accepted)} accepted messages never arrived"
            )
            assert all(process.poll() is None for process in started[1:])
        assert outstanding > 0, "nothing was outstanding at the kill; the test proves nothing"
        with psycopg.connect(postgres_url) as conn:  # the partner never failed: a second claim is a lease taken over
            retaken = scalar(conn, "SELECT count(*) FROM deliveries WHERE attempts > 1")
            undelivered = scalar(conn, "SELECT count(*) FROM deliveries WHERE state <> 'delivered'")
        assert retaken > 0, "the killed worker held no delivery; the test proves nothing"
        # repeats only as at-least-once allows: each with the message's own key, and none of a message not accepted
        keys = [r.headers.get("Idempotency-Key") for r in council.received]
        assert all(key == r.message["message_id"] for key, r in zip(keys, council.received, strict=True))
        assert set(keys) == set(accepted)
        repeats = len(keys) - len(set(keys))
        print(f"{MESSAGES} messages: {retaken} deliveries taken over from the killed worker, {repeats} repeats at "
              f"the partner, {undelivered} deliveries not (yet) recorded delivered")  # fmt: skip
    finally:
        world.stop()
