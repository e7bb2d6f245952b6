"""The pathway with several ``hub worker`` processes on one store: each timer fires once, each notice goes once,
and every pathway event reaches the observer plugins (``hub_message_event``) like any other event.

``hub serve --no-worker`` takes the messages; three ``hub worker`` processes run the pathway and deliver. An
observer plugin, installed for the test as a distribution on ``PYTHONPATH`` (found through its entry point,
like any third party's), appends each event it is told of, with its process id, to a file. On SQLite, and on
PostgreSQL with ``HUB_TEST_STORE=postgresql`` (tests/pathway is one of make test's PostgreSQL suites).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pathway.kit import milestone_toml

from hub.testing import stop_process, wait_until
from hub.testing.messages import discharge_notice
from hub.testing.world import HubWorld, build_world

WORKERS = 3
PEOPLE = 6
OBSERVER = """
import json, os
from hub import hookimpl

@hookimpl
def hub_message_event(event):
    line = {"pid": os.getpid(), "kind": event.kind, "record": event.record_id, "detail": event.detail or {}}
    with open(os.environ["HUB_TEST_OBSERVED"], "a") as out:
        out.write(json.dumps(line, default=str) + "\\n")
"""


def install_observer(directory: Path) -> None:
    """A distribution ``pathway-observer`` in ``directory``: its module and its ``hub.adapters`` entry point."""
    directory.mkdir(parents=True)
    (directory / "pathway_observer.py").write_text(OBSERVER)
    info = directory / "pathway_observer-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pathway-observer\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[hub.adapters]\npathway-observer = pathway_observer\n")


@pytest.fixture
def world_with_observer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[HubWorld, Path]]:
    """``hub serve --no-worker`` with a one-milestone pathway (due 4 s, reminded 2 s before) and the observer.

    The store is the test run's (``HUB_TEST_STORE``: SQLite, or a fresh PostgreSQL database in ``make test``'s
    second pass), shared by the hub and its workers.
    """
    install_observer(tmp_path / "observer")
    observed = tmp_path / "observed.jsonl"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "observer"), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("HUB_TEST_OBSERVED", str(observed))
    world = build_world(tmp_path / "config", settings={"delivery": {"concurrency": 4}}, hub_args=["--no-worker"],
                        start=False)  # fmt: skip
    (world.config_dir / "pathways.toml").write_text(milestone_toml(due_seconds=4, remind_seconds=2))
    try:
        world.start()
        yield world, observed
    finally:
        world.stop()


def start_workers(world: HubWorld, count: int) -> list[subprocess.Popen[bytes]]:
    started = []
    for n in range(count):
        log = (world.config_dir / f"worker-{n}.log").open("ab")
        started.append(subprocess.Popen([sys.executable, "-m", "hub", "worker", "--config", str(world.config_dir)],
                                        stdout=log, stderr=subprocess.STDOUT))  # fmt: skip
        log.close()
    return started


def opened_timers(events: list[dict[str, Any]]) -> set[str]:
    """The timers of the milestones opened: ``<id>.due`` for each, ``<id>.remind`` when it has a reminder."""
    timers = set()
    for event in events:
        if event["kind"] == "milestone_opened":
            timers.add(f"{event['detail']['milestone_id']}.due")
            if event["detail"].get("remind_at") is not None:
                timers.add(f"{event['detail']['milestone_id']}.remind")
    return timers


def read_observed(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_each_timer_fires_once_and_each_notice_is_sent_once_with_several_workers(world_with_observer) -> None:
    world, observed = world_with_observer
    processes = start_workers(world, WORKERS)
    try:
        assert world.post("trust-a", discharge_notice()).status_code == 202  # the first: once a worker runs it,
        assert wait_until(lambda: any(e["kind"] == "milestone_opened" for e in read_observed(observed)), 60)
        for _ in range(PEOPLE - 1):  # the others open at once, with their reminders still ahead
            assert world.post("trust-a", discharge_notice()).status_code == 202
        trust = world.sims["trust-a"]
        assert wait_until(lambda: len(opened_timers(read_observed(observed))) >= 2 * PEOPLE - 1, 30)
        expected = opened_timers(read_observed(observed))  # the first may have opened past its reminder's time
        assert trust.wait_for(lambda s: len(s.messages("PathwayNotice")) >= len(expected), timeout=60), \
            len(trust.messages("PathwayNotice"))  # fmt: skip
        time.sleep(3)  # time for a second firing or a second send, were there one
        events = read_observed(observed)
    finally:
        for process in processes:
            stop_process(process)
    notices = trust.messages("PathwayNotice")
    timers = Counter(n["payload"]["timer_id"] for n in notices)
    assert set(timers) == expected and set(timers.values()) == {1}, timers
    assert not [r for r in trust.received if r.duplicate], "a notice was delivered twice"
    kinds = Counter(e["kind"] for e in events)
    reminders = len([t for t in expected if t.endswith(".remind")])
    assert kinds["milestone_opened"] == PEOPLE and kinds["milestone_reminded"] == reminders, kinds
    assert kinds["milestone_breached"] == PEOPLE, kinds
    fired = Counter(
        e["detail"]["timer_id"] for e in events if e["kind"] in ("milestone_reminded", "milestone_breached")
    )
    assert set(fired) == set(timers) and set(fired.values()) == {1}, fired
    opened = {e["detail"].get("milestone_id") for e in events if e["kind"] == "milestone_opened"}
    assert len(opened) == PEOPLE
    notice_records = {e["record"] for e in events if e["kind"] == "received"
                      and e["detail"].get("type") == "PathwayNotice"}  # fmt: skip
    assert len(notice_records) == len(expected), "each notice is received (stored) once and observed"
    worker_pids = {p.pid for p in processes}
    pathway_pids = {e["pid"] for e in events if e["kind"].startswith("milestone_")}
    assert pathway_pids <= worker_pids, "the pathway ran outside the workers"
