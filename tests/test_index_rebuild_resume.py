"""A rebuild of the blind index outlives the process running it: the running hubs finish it, one at a time.

A real hub on loopback (``hub serve --no-worker``) with two ``hub worker`` processes beside it, on one store
(SQLite, or PostgreSQL under ``HUB_TEST_STORE=postgresql``). The operator's ``hub keys rebuild-index`` is
killed with SIGKILL after its first batch; a worker resumes the rebuild from its cursor; that worker is killed
with SIGKILL in turn, and the other one finishes it and retires the old key. Messages are accepted, delivered
and found by NHS number throughout.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rekeying_kit import hub_without_worker, query, start_worker

from hub.crypto.blind_index import nhs_index
from hub.crypto.keyring import FileKeyRing
from hub.testing import stop_process, wait_until
from hub.testing.messages import housing_request
from hub.testing.world import HubWorld

SETTLE_SECONDS = 45.0
"""``[keys] index_settle_seconds``: a resumed rebuild cannot finish sooner than this after the rotation, which
leaves the test time to kill the worker running it (the scan itself takes well under a second)."""
NUMBER = housing_request()["payload"]["person"]["nhs_number"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[HubWorld]:
    """The standard partners and ``hub serve --no-worker`` (delivery and rebuilds are left to the workers)."""
    with hub_without_worker(tmp_path, SETTLE_SECONDS) as built:
        yield built


def rebuild_row(world: HubWorld) -> tuple[str, str | None, float]:
    """(phase, runner, started_at) of the latest rebuild."""
    ((phase, runner, started),) = query(world, "SELECT phase, runner, started_at FROM index_rebuild "
                                               "ORDER BY started_at DESC LIMIT 1")  # fmt: skip
    return str(phase), runner, float(started)


def runner_pid(runner: str | None) -> int | None:
    match = re.fullmatch(r"hub on .+ \(pid (\d+)\)", runner or "")
    return int(match.group(1)) if match else None


def statuses(world: HubWorld) -> dict[str, str]:
    """The index keys' statuses in the key ring."""
    ring = FileKeyRing.open(world.config_dir / "keys", os.environ[world.passphrase_env])
    return {info.id: info.status for info in ring.infos() if info.purpose == "index"}


def key_events(world: HubWorld) -> list[tuple[str, str, dict[str, Any]]]:
    rows = query(world, "SELECT kind, actor, detail FROM events WHERE record_id = '' AND kind != 'searched' "
                        "ORDER BY seq")  # fmt: skip
    return [(kind, actor, json.loads(detail) if detail else {}) for kind, actor, detail in rows]


def test_a_killed_rebuild_is_finished_by_one_running_hub_at_a_time_and_the_old_key_retired_only_at_the_end(
    world: HubWorld,
) -> None:
    sent: list[str] = []

    def send(count: int = 1) -> None:
        for _ in range(count):
            message = housing_request()
            response = world.send("trust-a", message)
            assert response.status_code == 202, response.text
            sent.append(message["message_id"])

    def search_finds_everything() -> None:
        for who in ("ops", "trust-a"):
            response = world.get(who, f"/v1/messages?nhs_number={NUMBER}")
            assert response.status_code == 200, response.text
            assert sorted(item["message_id"] for item in response.json()["items"]) == sorted(sent)

    workers = [start_worker(world, n) for n in range(2)]
    try:
        # before
        send(6)
        search_finds_everything()
        (old_key,) = statuses(world)

        # rotated without a rebuild: it waits for the operator, hubs leave it alone
        done = world.cli("keys", "rotate-index", "--no-rebuild", "--operator", "ops")
        assert done.returncode == 0, done.stderr
        new_key = next(key for key, status in statuses(world).items() if status == "primary")
        new_material = FileKeyRing.open(world.config_dir / "keys", os.environ[world.passphrase_env]).key_material(
            new_key
        )

        def hub_indexes_under_the_new_key() -> bool:  # the hub re-reads the ring within a second
            send()
            ((value,),) = query(world, "SELECT nhs_index FROM messages WHERE message_id = ?", sent[-1])
            return bool(value == nhs_index(new_material, NUMBER))

        assert wait_until(hub_indexes_under_the_new_key, timeout=30)
        search_finds_everything()
        assert rebuild_row(world)[:2] == ("scan", None)
        assert "waiting for 'hub keys rebuild-index'" in world.cli("keys", "list").stdout

        # the operator's rebuild is killed after its first batch
        command = [sys.executable, "-m", "hub", "keys", "rebuild-index", "--batch-size", "1", "--settle-seconds",
                   "600", "--operator", "ops", "--config", str(world.config_dir)]  # fmt: skip
        operator = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert operator.stderr is not None and "scan: 1 of 6" in operator.stderr.readline()
        operator.send_signal(signal.SIGKILL)
        operator.communicate(timeout=30)

        # a worker resumes it (the other finds it held); the old key stays while it is unfinished
        def resumed_by(pids: set[int]) -> int | None:
            send()
            search_finds_everything()
            pid = runner_pid(rebuild_row(world)[1])
            return pid if pid in pids else None

        assert wait_until(lambda: resumed_by({w.pid for w in workers}), timeout=60)
        first_pid = runner_pid(rebuild_row(world)[1])
        phase, _, started_at = rebuild_row(world)
        assert phase == "scan" and statuses(world)[old_key] == "active"
        first = next(w for w in workers if w.pid == first_pid)
        first.send_signal(signal.SIGKILL)  # the worker running it dies too
        first.wait(30)
        assert rebuild_row(world)[0] != "finished", f"finished before the kill, {SETTLE_SECONDS} s after rotating?"
        (second,) = [w for w in workers if w is not first]
        assert wait_until(lambda: resumed_by({second.pid}), timeout=60)

        # the other worker finishes it, and only then retires the old key
        def finished() -> bool:
            send()
            search_finds_everything()
            return rebuild_row(world)[0] == "finished" and statuses(world)[old_key] == "retired"

        assert wait_until(finished, timeout=SETTLE_SECONDS + 90, interval=0.5)
        assert runner_pid(rebuild_row(world)[1]) == second.pid
        assert started_at == rebuild_row(world)[2]

        # after: everything under the new key, found and delivered; each step on the audit chain once
        send(2)
        search_finds_everything()
        assert query(world, "SELECT count(*) FROM messages WHERE nhs_index IS NOT NULL AND nhs_index != ?",
                     nhs_index(new_material, NUMBER)) == [(0,)]  # fmt: skip
        council = world.sims["council-luton"]
        assert council.wait_for(lambda s: set(sent) <= {m["message_id"] for m in s.messages()}, timeout=60)
        kinds = [(kind, actor, detail.get("purpose")) for kind, actor, detail in key_events(world)]
        assert kinds.count(("key_rotated", "ops", "index")) == 1
        assert [k for k in kinds if k[0] == "index_rebuilt"] == [("index_rebuilt", "ops", None)]
        assert [k for k in kinds if k[0] == "key_retired"] == [("key_retired", "hub", "index")]
        logs = [(world.config_dir / f"worker-{n}.log").read_text() for n in range(2)]
        assert sum(log.count("blind index rebuild resumed here and finished") for log in logs) == 1
        verified = world.cli("audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        for process in workers:
            stop_process(process)
