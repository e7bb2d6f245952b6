"""The disk holding the store fills under load, the hub is restarted on the full disk, then space returns.

The disk is a small tmpfs the test mounts (root only: without it the test is skipped with the reason, or fails
with ``HUB_REQUIRE_SERVICES=1``); the config directory, the SQLite store and the hub's own files (metrics) are on
it. Another program fills it to the last byte while senders send. What must hold:

- senders are answered 202 or 503 with ``Retry-After`` and a problem document: never a 500, never a dropped
  connection; ``/readyz`` says not ready with the reason, also after a restart on the full disk;
- nothing accepted is lost: every message answered 202 reaches the partner once space returns, and a message
  reaches it twice only as at-least-once allows (an outcome that could not be recorded), with the same key;
- the hub recovers by itself: once the space is back, it is ready and accepts again, with nobody restarting it.

Under ``HUB_TEST_STORE=postgresql`` the store is on the PostgreSQL server (its disk is not the test's to fill):
the full disk then holds only the hub's own files, and the hub must go on accepting and delivering.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.testing import RunningHub, postgres, wait_until
from hub.testing.messages import housing_request
from hub.testing.world import HubWorld, build_world

PROBLEM = "application/problem+json"
RESERVE_MB = 2


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs mounted on a folder of ``tmp_path``, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0755", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if made.returncode != 0:
        reason = f"mounting a tmpfs is not permitted here: {made.stderr.strip()}"
        if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
            pytest.fail(f"HUB_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write a file on ``disk`` until the disk is full (as another program would); the file."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 1):  # big writes, then the last pages and bytes
            with suppress(OSError):
                while os.write(descriptor, b"\0" * size):
                    pass
    finally:
        os.close(descriptor)
    return filler


class Senders:
    """Threads sending messages without pause; each answer is sorted into accepted, refused (503) or other."""

    def __init__(self, world: HubWorld, threads: int = 4) -> None:
        self.world = world
        self.accepted: dict[str, str] = {}
        self.refused: dict[str, dict[str, Any]] = {}
        self.other: list[tuple[int, str]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.restarting = threading.Event()
        """Set while the test restarts the hub: a refused connection is expected then."""
        self.threads = [threading.Thread(target=self._send) for _ in range(threads)]

    def _send(self) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.world.tokens['trust-a']}"
        while not self.stop.is_set():
            message = housing_request()
            try:
                response = session.post(f"{self.world.url}/v1/messages", json=message, timeout=30)
            except requests.RequestException as exc:
                if not self.restarting.is_set():
                    with self.lock:
                        self.other.append((0, repr(exc)))
                time.sleep(0.05)  # the hub is being restarted
                continue
            with self.lock:
                if response.status_code == 202:
                    self.accepted[message["message_id"]] = response.json()["id"]
                elif response.status_code == 503 and unavailable(response):
                    self.refused[message["message_id"]] = message
                else:
                    self.other.append((response.status_code, response.text[:300]))
            if response.status_code == 503:
                time.sleep(0.1)

    def __enter__(self) -> Senders:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def unavailable(response: requests.Response) -> bool:
    """A 503 problem document with ``Retry-After`` that names no path."""
    body = response.json()
    return (response.headers["content-type"].startswith(PROBLEM) and int(response.headers["Retry-After"]) >= 1
            and body["status"] == 503 and "/" not in body.get("reason", ""))  # fmt: skip


def delivery_states(world: HubWorld) -> dict[str, int]:
    """How many deliveries the hub's store holds in each state."""
    from hub.config import load_settings
    from hub.store import open_store

    store = open_store(load_settings(world.config_dir).store_url)
    try:
        counts = store.counts()
    finally:
        store.close()
    return {name.removeprefix("deliveries_"): n for name, n in counts.items() if name.startswith("deliveries_") and n}


def readiness(world: HubWorld) -> tuple[int, str]:
    response = requests.get(f"{world.url}/readyz", timeout=10)
    return response.status_code, response.text


def test_a_full_disk_is_a_503_and_not_ready_loses_nothing_and_passes_by_itself(tmp_path: Path, small_disk: Path):
    sqlite = postgres.test_store() == "sqlite"
    before_restart = 0
    world = build_world(small_disk / "config", settings={"store": {"reserve_mb": RESERVE_MB}}, start=False)
    world.hub.log_path = tmp_path / "hub.log"  # the hub's output is the operator's business, not on the full disk
    world.start()
    council = world.sims["council-luton"]
    council.delay = 0.02  # deliveries in flight when the disk fills
    try:
        with Senders(world) as senders:
            assert wait_until(lambda: len(senders.accepted) >= 100, timeout=60)
            filler = fill(small_disk)
            filled_at = len(senders.accepted)
            if sqlite:
                assert wait_until(lambda: len(senders.refused) >= 20, timeout=30), "no 503 on the full disk"
                status, text = readiness(world)
                assert status == 503 and "disk holding the store is full" in text, text
                # a restart on the full disk: it comes up, says it is not ready, and refuses with 503
                senders.restarting.set()
                world.hub.stop()  # outcomes it could not record go with it: their deliveries are due again
                before_restart = len(council.received)
                restarted = RunningHub(world.config_dir, port=world.hub.port)
                restarted.log_path = tmp_path / "hub-restarted.log"
                world.hub = restarted.start(ready=False)
                senders.restarting.clear()
                refused_before = len(senders.refused)
                assert wait_until(lambda: len(senders.refused) >= refused_before + 20, timeout=30)
                assert readiness(world)[0] == 503
                assert world.get("ops", "/metrics").status_code == 200  # the hub's own files do not break it
            else:  # the store is elsewhere: the hub's own files on a full disk stop nothing
                assert wait_until(lambda: len(senders.accepted) >= filled_at + 100, timeout=60)
                assert readiness(world)[0] == 200
            full_accepted = len(senders.accepted) - filled_at
            filler.unlink()  # space returns: the hub recovers by itself
            assert wait_until(lambda: readiness(world)[0] == 200, timeout=30), readiness(world)
            count = len(senders.accepted)
            assert wait_until(lambda: len(senders.accepted) >= count + 100, timeout=60), "not accepting again"
        assert not senders.other, senders.other[:5]  # only 202 or 503: never a 500 or a dropped connection
        for message in senders.refused.values():  # what was refused is sent again, as Retry-After asks
            assert world.send("trust-a", message).status_code == 202
        expected = set(senders.accepted) | set(senders.refused)
        assert council.wait_for(lambda s: expected <= s.unique_ids(), timeout=120), (
            f"{len(expected - council.unique_ids())} of {len(expected)} accepted messages never arrived"
        )
        keys = [r.headers.get("Idempotency-Key") for r in council.received]
        assert all(key == r.message["message_id"] for key, r in zip(keys, council.received, strict=True))
        times = {key: keys.count(key) for key in set(keys)}
        assert max(times.values()) <= 2, "a message reached the partner three times or more"
        # at-least-once and no more: a message reaches the partner again only when what happened to its delivery
        # on the full disk could not be recorded (its outcome, or the renewal of its lease), so only one the
        # partner had before the restart
        if sqlite:
            assert {key for key, n in times.items() if n > 1} <= set(keys[:before_restart])
        assert wait_until(lambda: set(delivery_states(world)) == {"delivered"}, 60), delivery_states(world)
        print(f"full disk ({'SQLite' if sqlite else 'PostgreSQL store elsewhere'}): {len(senders.accepted)} "
              f"accepted ({full_accepted} while full), {len(senders.refused)} refused with 503 and sent again, "
              f"{len(expected)} delivered, {sum(n - 1 for n in times.values())} repeats at the partner")  # fmt: skip
    finally:
        world.stop()


def test_below_the_reserve_a_new_message_is_refused_and_an_acknowledgement_is_taken(tmp_path: Path) -> None:
    """The reserve is for what happens to accepted messages: a partner's acknowledgement of one still goes in."""
    from contract.stores import delivery_of, plan

    from hub.bodies import CodecRegistry, PlainCodec
    from hub.plugin_api.problems import StoreUnavailable
    from hub.store.sqlite import SQLiteStore

    path = tmp_path / "hub.db"
    roomy = SQLiteStore(path, CodecRegistry(PlainCodec()), reserve_bytes=0)
    sent = plan("m-1")
    roomy.accept_now(sent)
    roomy.close()
    full = SQLiteStore(path, CodecRegistry(PlainCodec()), reserve_bytes=1 << 62)  # more than any disk has free
    try:
        with pytest.raises(StoreUnavailable) as refused:
            full.accept_now(plan("m-2"))
        assert refused.value.reason == "the disk holding the store is full"
        assert refused.value.retry_after_seconds == 30
        with pytest.raises(StoreUnavailable):
            full.ping()
        delivery = sent.deliveries[0].id
        ack = plan("ack-1", sender="council-luton", message_type="Acknowledgement",
                   acknowledges=(delivery, "acknowledged", "ack-record"))  # fmt: skip
        assert full.accept_now(ack).duplicate is False
        assert delivery_of(full, sent.messages[0].id, "council-luton")["state"] == "acknowledged"
        assert full.counts()["messages"] == 2
    finally:
        full.close()
