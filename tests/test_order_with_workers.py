"""Order where it matters, on a running hub: ``hub serve --no-worker`` and three ``hub worker`` processes on one store.

Each test runs on SQLite and on PostgreSQL.

Each person's messages to the council reach it in the order the hub accepted them, while different
people's messages go in parallel (they interleave); a person whose first message the council refuses
for a while holds back only their own later messages.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.store.records import OVERTAKING_WARNING
from hub.testing import stop_process, wait_until
from hub.testing.messages import housing_request
from hub.testing.simulator import Received
from hub.testing.world import HubWorld, build_world, example_routes

WORKERS = 3
# retries wait about 0.5, 1 and 1 s: long enough that everyone else's messages are delivered meanwhile
SETTINGS: dict[str, dict[str, Any]] = {
    "delivery": {"concurrency": 8},
    "retry": {"initial_seconds": 0.5, "max_delay_seconds": 1.0},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_and_workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubWorld]:
    """The standard partners, ``hub serve --no-worker`` and no worker yet (``workers`` starts them).

    On each store: one SQLite file, or a fresh PostgreSQL database (skipped without a server, unless
    ``HUB_REQUIRE_SERVICES=1``), where the workers' claims meet only in the database.
    """
    settings = SETTINGS
    database = None
    if request.param == "postgresql":
        from hub.testing.postgres import fresh_postgres_database

        database = fresh_postgres_database()
        settings = {**SETTINGS, "store": {"url": database}}
    try:
        world = build_world(tmp_path / "config", routes=example_routes(), settings=settings, hub_args=["--no-worker"])
        try:
            yield world
        finally:
            world.stop()
    finally:
        if database is not None:
            from hub.testing.postgres import drop_postgres_database

            drop_postgres_database(database)


@contextmanager
def workers(world: HubWorld, count: int = WORKERS) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` ``hub worker`` processes on the world's config (and store), stopped afterwards."""
    started = []
    try:
        for n in range(count):
            log = (world.config_dir / f"worker-{n}.log").open("ab")
            started.append(subprocess.Popen([sys.executable, "-m", "hub", "worker", "--config", str(world.config_dir)],
                                            stdout=log, stderr=subprocess.STDOUT))  # fmt: skip
            log.close()
        yield started
    finally:
        for process in started:
            stop_process(process)


def accept_in_turns(world: HubWorld, people: int, each: int) -> tuple[dict[str, tuple[int, int]], dict[str, str]]:
    """Send each of ``people`` people's ``each`` HousingRequests in turns (everyone's first, then everyone's second...).

    Returns, by message_id, (person, n) and the hub's record id. Every 202 comes after the commit,
    so the order sent is the order accepted.
    """
    episodes = [str(uuid.uuid4()) for _ in range(people)]
    sent: dict[str, tuple[int, int]] = {}
    records: dict[str, str] = {}
    session = world.as_("trust-a")
    for n in range(each):
        for person, episode in enumerate(episodes):
            message = {**housing_request(), "correlation_id": episode}
            response = session.post(f"{world.url}/v1/messages", json=message, timeout=10)
            assert response.status_code == 202, response.text
            sent[message["message_id"]] = (person, n)
            records[message["message_id"]] = response.json()["id"]
    return sent, records


def arrivals(world: HubWorld, sent: dict[str, tuple[int, int]]) -> list[tuple[int, int]]:
    """(person, n) of each first copy the council received, in the order it arrived."""
    return [sent[m["message_id"]] for m in world.sims["council-luton"].messages("HousingRequest")]


def each_persons_order(arrived: list[tuple[int, int]]) -> dict[int, list[int]]:
    order: dict[int, list[int]] = {}
    for person, n in arrived:
        order.setdefault(person, []).append(n)
    return order


def test_each_persons_messages_arrive_in_acceptance_order_while_people_interleave(hub_and_workers) -> None:
    world = hub_and_workers
    council = world.sims["council-luton"]
    council.delay = 0.005  # deliveries overlap: several are in flight at once in each worker
    people, each = 12, 6
    sent, _ = accept_in_turns(world, people, each)  # all queued before any worker runs
    with workers(world):
        assert council.wait_for(lambda s: set(sent) <= s.unique_ids(), timeout=90), "not every message arrived"
    arrived = arrivals(world, sent)
    assert len(arrived) == people * each
    order = each_persons_order(arrived)
    assert all(order[p] == list(range(each)) for p in range(people)), order
    # different people's messages go in parallel: the council did not get one person's in a block
    switches = sum(1 for a, b in itertools.pairwise(arrived) if a[0] != b[0])
    assert switches > people


def test_a_persons_refused_first_message_holds_back_only_that_persons_later_ones(hub_and_workers) -> None:
    world = hub_and_workers
    council = world.sims["council-luton"]
    people, each = 8, 4
    refused: list[float] = []
    held: dict[str, str] = {}

    def refuse_first_three_tries(request: Received) -> int | None:
        if request.headers.get("Idempotency-Key") == held.get("first") and len(refused) < 3:
            refused.append(request.at)
            return 503
        return None

    council.refuse_when = refuse_first_three_tries
    sent, records = accept_in_turns(world, people, each)
    held["first"] = next(m for m, (person, n) in sent.items() if (person, n) == (0, 0))
    with workers(world):
        assert council.wait_for(lambda s: set(sent) <= s.unique_ids(), timeout=90), "not every message arrived"
    assert len(refused) == 3  # refused twice, retried with back-off, taken the fourth time
    arrived = arrivals(world, sent)
    order = each_persons_order(arrived)
    assert all(order[p] == list(range(each)) for p in range(people)), order
    first_of_person_0 = arrived.index((0, 0))
    others_before = [a for a in arrived[:first_of_person_0] if a[0] != 0]
    assert len(others_before) == (people - 1) * each  # everyone else's went while person 0's first waited
    view = world.view(records[held["first"]])
    assert view["deliveries"][0]["attempts"] == 4


def test_a_dead_lettered_first_message_lets_the_later_ones_go_and_says_they_overtook_it(hub_and_workers) -> None:
    world = hub_and_workers
    council = world.sims["council-luton"]
    poison: dict[str, str] = {}
    council.refuse_when = lambda request: 400 if request.headers.get("Idempotency-Key") == poison.get("id") else None
    sent, records = accept_in_turns(world, 3, 3)
    poison["id"] = next(m for m, (person, n) in sent.items() if (person, n) == (1, 0))
    with workers(world):
        expected = set(sent) - {poison["id"]}
        assert council.wait_for(lambda s: expected <= s.unique_ids(), timeout=90)
        assert wait_until(lambda: world.view(records[poison["id"]])["status"] == "dead_lettered", timeout=30)
    assert poison["id"] not in council.unique_ids()
    by_n = {n: m for m, (person, n) in sent.items() if person == 1}
    second = world.view(records[by_n[1]])
    [warning] = [e for e in second["timeline"] if e["event"] == "warning"]
    dead_delivery = world.view(records[poison["id"]])["deliveries"][0]["id"]
    assert warning["detail"] == {"warning": OVERTAKING_WARNING, "overtook": [dead_delivery]}
    third = world.view(records[by_n[2]])  # it overtook the dead one too, but after the second went: warned as well
    assert [e["detail"]["overtook"] for e in third["timeline"] if e["event"] == "warning"] == [[dead_delivery]]
    assert requests.get(f"{world.url}/readyz", timeout=5).status_code == 200
