"""The offer window on Airflow: the hub asks a real Airflow 3.3 to call it back when the window ends, Airflow's
task calls the fire endpoint, and the offer lapses and moves to the next service.

The session's ``airflow standalone`` (the ``airflow_standalone`` fixture of hub-plugin-airflow) runs the DAG; the
hub signs in to it as its user and the DAG's task calls the hub back with the scheduler identity's token.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hostels_feed import FeedServer
from offers_world import make_world, milestone_of, pathway, steps, three_service_feed, told, unmatched_referral

from hub.testing.toml_writer import dumps
from hub.testing.world import HubWorld

AIRFLOW_SLACK = 120.0
"""Seconds a due run may take to call the hub back on a loaded machine."""


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    server = three_service_feed()
    yield server
    server.close()


def test_an_offer_window_kept_by_airflow_lapses_when_airflow_calls_back(
    hub_world_factory: Callable[..., HubWorld], feed: FeedServer, airflow_standalone: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    airflow = airflow_standalone
    airflow.ensure_running()
    for name, value in airflow.credentials_env().items():
        monkeypatch.setenv(name, value)  # the hub process inherits them
    token = airflow.env["HUB_SCHEDULER_TOKEN"]

    def on_airflow(world: HubWorld) -> None:
        airflow.set_variable("hub_pathway_hub_url", world.hub.url)
        path = world.config_dir / "hub.toml"
        data = tomllib.loads(path.read_text())
        identity = {"name": "airflow", "token_sha256": "sha256:" + hashlib.sha256(token.encode()).hexdigest()}
        data["pathway"] = {
            "scheduler": "airflow",
            "sync_initial_seconds": 1.0,
            "sync_max_delay_seconds": 4.0,
            "airflow": dict(airflow.settings(world.hub.url)),
            "scheduler_identities": [identity],
        }
        path.write_text(dumps(data))

    world = make_world(hub_world_factory, feed, window="15s", before_start=on_airflow)
    record = unmatched_referral(world)
    assert world.sims["hostel-no"].wait_for(lambda s: s.messages("Referral"), timeout=30)
    first = world.sims["hostel-no"].messages("Referral")[0]
    # nobody answers: Airflow's run calls the hub back when the window ends, and the next service is offered
    assert world.sims["hostel-yes"].wait_for(lambda s: s.messages("Referral"), timeout=15 + AIRFLOW_SLACK)
    window = milestone_of(world, first["correlation_id"], "offer-window", "breached")
    assert window and window["partner"] == "hostel-no", pathway(world, first["correlation_id"])
    assert [(t["action"], t["state"], t["fired_by"]) for t in window["timers"]] == [("due", "fired", "airflow")]
    assert told(world, record)[:3] == [("offered", None), ("expired", None), ("offered", None)]
    assert len(world.sims["hostel-no"].messages("Referral")) == 1
    assert steps(world, record)[:1] == [("offered", None)]
