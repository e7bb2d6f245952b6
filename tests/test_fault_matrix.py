"""The fault matrix's running-hub faults, with counts of accepted against delivered (on either store).

- ``kill -9`` of ``hub serve`` three times in a row during a burst of ``HUB_FAULTS_BURST`` messages (500 in
  ``make test``, 2,000 in ``make faults``): every message a sender was answered 202 for reaches the partner; a
  sender whose request failed sends it again, as a partner's system does, and is answered 202 (or told it is a
  duplicate) once the hub is back.
- A partner that flaps, up ``FLAP`` seconds and down ``FLAP`` seconds (its server stopped: connections refused)
  for ``HUB_FAULTS_FLAP_SECONDS`` (20 in ``make test``, 60 in ``make faults``) while messages keep coming: all are
  delivered, none dead-lettered, with a retry schedule that outlasts one outage.

Each prints its figures (``pytest -s``); ``docs/reliability.md`` keeps them.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

import requests

from hub.testing import RunningHub, wait_until
from hub.testing.messages import housing_request
from hub.testing.world import HubWorld, build_world

BURST = int(os.environ.get("HUB_FAULTS_BURST", "500"))
FLAP_SECONDS = float(os.environ.get("HUB_FAULTS_FLAP_SECONDS", "20"))
FLAP = 5.0


class PatientSenders:
    """Threads that send each message of a queue until it is answered 202, as a partner's system does."""

    def __init__(self, world: HubWorld, messages: list[dict[str, Any]], threads: int = 16) -> None:
        self.world = world
        self.todo: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        for message in messages:
            self.todo.put(message)
        self.accepted: dict[str, str] = {}
        self.duplicates = 0
        self.failures = 0
        self.other: list[tuple[int, str]] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._send) for _ in range(threads)]

    def _send(self) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.world.tokens['trust-a']}"
        while True:
            try:
                message = self.todo.get_nowait()
            except queue.Empty:
                return
            while True:
                try:
                    response = session.post(f"{self.world.url}/v1/messages", json=message, timeout=30)
                except requests.RequestException:
                    with self.lock:
                        self.failures += 1
                    time.sleep(0.1)  # the hub is down: send it again
                    continue
                with self.lock:
                    if response.status_code == 202:
                        self.accepted[message["message_id"]] = response.json()["id"]
                        self.duplicates += response.json()["duplicate"]
                        break
                    if response.status_code != 503:
                        self.other.append((response.status_code, response.text[:300]))
                        break
                time.sleep(0.1)

    def __enter__(self) -> PatientSenders:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for thread in self.threads:
            thread.join(timeout=300)


def test_kill_9_three_times_during_a_burst_loses_no_accepted_message(tmp_path: Path) -> None:
    world = build_world(tmp_path / "config", settings={"delivery": {"concurrency": 8}})
    council = world.sims["council-luton"]
    council.delay = 0.01  # deliveries stay queued and in flight when the hub dies
    outstanding: list[int] = []
    try:
        with PatientSenders(world, [housing_request() for _ in range(BURST)]) as senders:
            for share in (1, 2, 3):
                assert wait_until(lambda: len(senders.accepted) >= BURST * share // 4, timeout=120)  # noqa: B023
                world.hub.kill()
                outstanding.append(len(set(senders.accepted) - council.unique_ids()))
                world.hub = RunningHub(world.config_dir, port=world.hub.port).start(60)
        assert not senders.other, senders.other[:5]
        assert len(senders.accepted) == BURST
        assert council.wait_for(lambda s: set(senders.accepted) <= s.unique_ids(), timeout=180), (
            f"{len(set(senders.accepted) - council.unique_ids())} of {BURST} accepted messages never arrived"
        )
        assert any(outstanding), "nothing was outstanding at any kill: the test proves nothing"
        received = list(council.received)  # one snapshot: a late redelivery may still be arriving
        keys = [r.headers.get("Idempotency-Key") for r in received]
        assert all(key == r.message["message_id"] for key, r in zip(keys, received, strict=True))
        last = list(senders.accepted.values())[-1]
        assert wait_until(lambda: world.view(last)["status"] == "delivered", timeout=60)
        assert world.db_count("messages") == BURST  # a message sent again after a kill is stored once
        print(f"kill -9 x3 during {BURST} messages: {len(senders.accepted)} accepted ({senders.duplicates} answered "
              f"as duplicates when sent again), {senders.failures} requests failed while the hub was down, "
              f"undelivered at each kill {outstanding}, {len(council.unique_ids())} delivered, "
              f"{len(keys) - len(set(keys))} repeats at the partner, 0 lost")  # fmt: skip
    finally:
        world.stop()


def test_a_partner_that_flaps_gets_every_message(tmp_path: Path) -> None:
    # a retry schedule that outlasts one outage of FLAP seconds: 0.2 s doubling to 2 s, 30 attempts
    retry = {"initial_seconds": 0.2, "multiplier": 2.0, "max_delay_seconds": 2.0, "jitter": 0.2, "max_attempts": 30}
    world = build_world(tmp_path / "config", settings={"retry": retry})
    council = world.sims["council-luton"]
    sent: dict[str, str] = {}
    outages = 0
    try:
        session = world.as_("trust-a")
        started = time.monotonic()
        phase_ends = started + FLAP
        up = True
        while time.monotonic() < started + FLAP_SECONDS:
            message = housing_request()
            response = session.post(f"{world.url}/v1/messages", json=message, timeout=30)
            assert response.status_code == 202, response.text
            sent[message["message_id"]] = response.json()["id"]
            if time.monotonic() >= phase_ends:
                if up:
                    council.stop()  # down: its port refuses connections
                    outages += 1
                else:
                    council.start()
                up = not up
                phase_ends = time.monotonic() + FLAP
            time.sleep(0.05)
        if not up:
            council.start()
        assert council.wait_for(lambda s: set(sent) <= s.unique_ids(), timeout=120), (
            f"{len(set(sent) - council.unique_ids())} of {len(sent)} accepted messages never arrived"
        )
        assert wait_until(lambda: world.view(list(sent.values())[-1])["status"] == "delivered", timeout=60)
        attempts = sum(world.view(record)["deliveries"][0]["attempts"] for record in sent.values())
        assert attempts > len(sent), "no delivery was ever retried: the partner never flapped"
        assert "No dead letters." in world.cli("dlq", "list").stdout
        print(f"partner flapping {FLAP:g} s up / {FLAP:g} s down for {FLAP_SECONDS:g} s ({outages} outages): "
              f"{len(sent)} accepted, {len(council.unique_ids())} delivered, {attempts} attempts in all, "
              "0 dead-lettered, 0 lost")  # fmt: skip
    finally:
        world.stop()
