"""Fixtures of the Airflow plugin's tests: the session's real Airflow (``airflow_standalone``, from
``hub_airflow.pytest_plugin``), a scheduler signed in to it, and a loopback HTTP server that answers the DAG's
callbacks the way the hub's fire endpoint does, recording each.

The hub's own fire endpoint, behind the real pathway core, is exercised by the behavioural suite in
tests/pathway/; here the callback server lets a test choose what "the hub" answers (503, ``not_yet_due``, 422).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from callback_hub import CallbackHub
from hub_airflow.scheduler import AirflowScheduler, open_airflow_scheduler
from hub_airflow.testing import AirflowStandalone


@pytest.fixture(scope="session")
def callback_hub(airflow_standalone: AirflowStandalone) -> Iterator[CallbackHub]:
    """The callback server for the session, expecting the token the session's Airflow hands its task; its URL is
    the hub URL configured in that Airflow (Variable ``hub_pathway_hub_url``, kept in Airflow's database across
    restarts): the DAG calls no other."""
    hub = CallbackHub(airflow_standalone.env["HUB_SCHEDULER_TOKEN"])
    hub.start()
    airflow_standalone.set_variable("hub_pathway_hub_url", hub.url)
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def scheduler(
    airflow_standalone: AirflowStandalone, callback_hub: CallbackHub, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AirflowScheduler]:
    """An ``airflow`` scheduler signed in to the session's Airflow as its user, calling back ``callback_hub``."""
    for name, value in airflow_standalone.credentials_env().items():
        monkeypatch.setenv(name, value)
    airflow_standalone.ensure_running()
    opened = open_airflow_scheduler(airflow_standalone.settings(callback_hub.url, timeout_seconds=20))
    try:
        yield opened
    finally:
        opened.close()
