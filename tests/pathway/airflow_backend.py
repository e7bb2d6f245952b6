"""The ``airflow`` parameter of the pathway's behavioural suite: the hub on a real Airflow 3.3 (``pathway.kit``).

The session's ``airflow standalone`` (the ``airflow_standalone`` fixture of hub-plugin-airflow) runs the DAG;
the hub under test signs in to it as its user (``HUB_AIRFLOW_USERNAME`` / ``HUB_AIRFLOW_PASSWORD`` in the
environment the hub process inherits), and the DAG's task calls the hub back with the token Airflow's
workers hold, which is the scheduler identity's token of the hub (``scheduler_token``).

Without hub-plugin-airflow or Airflow's environment the parameter is skipped with the reason, or fails where
``HUB_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from typing import Any

import pytest


class AirflowBackend:
    """A ``SchedulerBackend`` (``pathway.kit``) on the session's Airflow; see the module's docstring."""

    name = "airflow"
    external = True
    slack = 45.0
    """Seconds a due run may take to call the hub back on a loaded machine (a task starts in 1-20 s here). Twice, in
    the PostgreSQL pass of a full CI run, a 3 s timer was not called back within 30 + 25 (then 45) s: Airflow's
    scheduler had exited (a run deleted while it updated it) and nothing started it again until the next test;
    the watchdog below now does, within the test (a restart takes about 10-20 s)."""
    pathway_settings = {"sync_initial_seconds": 1.0, "sync_max_delay_seconds": 4.0}
    """Retry schedule / cancel calls quickly, so a test need not wait minutes after Airflow is back."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        try:
            from hub_airflow.scheduler import run_id_of
        except ImportError:
            reason = "hub-plugin-airflow is not installed (pip install -e plugins/airflow)"
            if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
                pytest.fail(reason)
            pytest.skip(reason)
        self._run_id_of = run_id_of
        self.airflow = request.getfixturevalue("airflow_standalone")
        self.airflow.ensure_running()
        # Airflow's scheduler exits when a run it is updating is deleted (the hub deletes runs it cancels), and
        # standalone does not start it again: a watchdog restarts Airflow within the test, queued runs kept,
        # except while the test itself has stopped it (``stop``/``start``/``restart``)
        self._transition = threading.Lock()
        self._stopped = False
        self._done = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="airflow-watchdog", daemon=True)
        self._watchdog.start()
        request.addfinalizer(self._stop_watching)
        monkeypatch = request.getfixturevalue("monkeypatch")
        for name, value in self.airflow.credentials_env().items():
            monkeypatch.setenv(name, value)  # the hub process inherits them
        self.scheduler_token: str = self.airflow.env["HUB_SCHEDULER_TOKEN"]
        self.hub_url: str | None = None
        self._scheduler: Any = None

    def hub_settings(self, hub_url: str, scheduler_token: str) -> dict[str, Any]:
        """``[pathway.airflow]`` for the hub at ``hub_url``; the token must be the one Airflow's workers hold."""
        from hub_airflow.scheduler import open_airflow_scheduler

        assert scheduler_token == self.scheduler_token, "the world must use the backend's scheduler_token"

        self.hub_url = hub_url
        self.airflow.set_variable("hub_pathway_hub_url", hub_url)  # the only URL the DAG sends the token to
        settings = self.airflow.settings(hub_url)
        self._scheduler = open_airflow_scheduler(settings)  # the test's own view of Airflow's queue
        return dict(settings)

    def queued(self) -> dict[str, datetime] | None:
        assert self._scheduler is not None, "hub_settings() first"
        return dict(self._scheduler.queued())

    def drop(self, timer_id: str) -> None:
        """Delete the timer's run behind the hub's back."""
        answer = self.airflow.api("DELETE", f"/dags/{self.airflow.dag_id}/dagRuns/{self._run_id_of(timer_id)}")
        assert answer.status_code == 204, answer.text

    def inject(self, timer_id: str, due_at: datetime) -> None:
        """Queue a run the hub never asked for (a timer it does not hold), calling this hub back."""
        answer = self.airflow.api("POST", f"/dags/{self.airflow.dag_id}/dagRuns", json={
            "dag_run_id": self._run_id_of(timer_id), "logical_date": None, "run_after": due_at.isoformat(),
            "conf": {"timer_id": timer_id, "hub_url": self.hub_url},
        })  # fmt: skip
        assert answer.status_code == 200, answer.text

    def restart(self) -> None:
        """Restart Airflow, keeping its database (queued runs) and ports."""
        with self._transition:
            self.airflow.restart()

    def stop(self) -> None:
        """Stop Airflow (its API and scheduler): the hub cannot reach it until ``start()``."""
        with self._transition:
            self._stopped = True
            self.airflow.stop()

    def start(self) -> None:
        """Start Airflow again on the same ports, with what it held."""
        with self._transition:
            self.airflow.start()
            self._stopped = False

    def _stop_watching(self) -> None:
        self._done.set()
        self._watchdog.join(timeout=60)

    def _watch(self) -> None:
        """Every 2 s, restart Airflow if its scheduler or DAG processor died (not while the test stopped it)."""
        while not self._done.wait(2.0):
            with self._transition:
                if not self._stopped and not self._done.is_set():
                    self.airflow.ensure_running()

    def close(self) -> None:
        """Delete whatever runs are still held, so none calls a stopped hub back later in the session."""
        if self.airflow.process is None:  # a test stopped it and failed before starting it again
            self.airflow.start()
        if self._scheduler is None:
            return
        try:
            for timer_id in self._scheduler.queued():
                self._scheduler.cancel(timer_id)
        finally:
            self._scheduler.close()
