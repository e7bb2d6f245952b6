"""The DAG's callback (``fire_timer``) sends the scheduler token only to the hub URL configured in Airflow, and only
over https unless that host is loopback; it calls nothing when no hub URL is configured.

The function runs in Airflow's own Python (its ``airflow.sdk``, outside a task: no Variable or Connection is set,
so only the worker environment configures it) against a loopback callback server; no Airflow server is started.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from callback_hub import CallbackHub
from hub_airflow.testing import airflow_bin

from hub.testing import free_port

DAG_FILE = Path(__file__).resolve().parents[1] / "hub_airflow" / "dags" / "hub_pathway_timer.py"
CHECKOUT = Path(__file__).resolve().parents[3]
TOKEN = "hub_callback-test-token"

RUNNER = """
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("hub_pathway_timer", sys.argv[1])
dag = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dag)
results = []
for case in json.loads(sys.stdin.read()):
    for name in ("HUB_PATHWAY_HUB_URL", "HUB_SCHEDULER_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(case["env"])
    try:
        results.append(["ok", dag.fire_timer(case["conf"])])
    except Exception as error:
        results.append([type(error).__name__, str(error)])
print("RESULTS " + json.dumps(results))
"""


@pytest.fixture
def hub() -> Iterator[CallbackHub]:
    server = CallbackHub(TOKEN)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def run_cases(tmp_path: Path, cases: list[dict[str, Any]]) -> list[list[str]]:
    """Each case's ``fire_timer`` result in Airflow's Python: ``["ok", outcome]`` or ``[exception class, message]``."""
    executable = airflow_bin(CHECKOUT)
    if executable is None:
        if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
            pytest.fail("Airflow's environment is required (HUB_REQUIRE_SERVICES=1): set HUB_AIRFLOW_BIN")
        pytest.skip("Airflow's environment is missing: run `make .airflow/bin/airflow` (or set HUB_AIRFLOW_BIN)")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HUB_", "AIRFLOW"))}
    env.pop("PYTHONPATH", None)
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow")
    result = subprocess.run([str(executable.parent / "python"), "-c", RUNNER, str(DAG_FILE)], input=json.dumps(cases),
                            capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULTS "))
    return list(json.loads(line.removeprefix("RESULTS ")))


def test_the_token_goes_only_to_the_configured_hub_over_https_or_loopback(hub: CallbackHub, tmp_path: Path) -> None:
    elsewhere = CallbackHub(token="")
    elsewhere.start()
    closed = free_port()
    try:
        results = run_cases(tmp_path, [
            # no hub URL in Airflow: the conf's URL is not trusted, nothing is sent
            {"env": {"HUB_SCHEDULER_TOKEN": TOKEN}, "conf": {"timer_id": "t-unset", "hub_url": elsewhere.url}},
            {"env": {"HUB_SCHEDULER_TOKEN": TOKEN}, "conf": {"timer_id": "t-unset-no-conf"}},
            # plain http to a host that is not loopback, and a URL that is not http(s)
            {"env": {"HUB_SCHEDULER_TOKEN": TOKEN, "HUB_PATHWAY_HUB_URL": "http://hub.example.org"},
             "conf": {"timer_id": "t-plain", "hub_url": "http://hub.example.org"}},
            {"env": {"HUB_SCHEDULER_TOKEN": TOKEN, "HUB_PATHWAY_HUB_URL": "ftp://127.0.0.1"},
             "conf": {"timer_id": "t-ftp"}},
            # the configured hub, and a conf naming another URL
            {"env": {"HUB_SCHEDULER_TOKEN": TOKEN, "HUB_PATHWAY_HUB_URL": hub.url},
             "conf": {"timer_id": "t-configured", "hub_url": hub.url}},
            {"env": {"HUB_SCHEDULER_TOKEN": TOKEN, "HUB_PATHWAY_HUB_URL": f"http://localhost:{hub.port}/"},
             "conf": {"timer_id": "t-localhost"}},
            {"env": {"HUB_SCHEDULER_TOKEN": TOKEN, "HUB_PATHWAY_HUB_URL": hub.url},
             "conf": {"timer_id": "t-diverted", "hub_url": elsewhere.url}},
            # https to any host passes the check (here a closed loopback port: not reached)
            {"env": {"HUB_SCHEDULER_TOKEN": TOKEN, "HUB_PATHWAY_HUB_URL": f"https://127.0.0.1:{closed}"},
             "conf": {"timer_id": "t-https"}},
        ])  # fmt: skip
    finally:
        elsewhere.stop()
    assert results[0][0] == "HubNotReached" and "no hub URL" in results[0][1]
    assert results[1][0] == "HubNotReached" and "no hub URL" in results[1][1]
    assert results[2][0] == "HubNotReached" and "plain http" in results[2][1]
    assert results[3][0] == "HubNotReached" and "not an https URL" in results[3][1]
    assert results[4] == ["ok", "fired"]
    assert results[5] == ["ok", "fired"]
    assert results[6][0] == "AirflowFailException" and "not the hub" in results[6][1]
    assert results[7][0] == "HubNotReached" and "could not be reached" in results[7][1]
    assert elsewhere.calls == []
    assert [call.timer_id for call in hub.calls] == ["t-configured", "t-localhost"]
    assert all(call.authorization == f"Bearer {TOKEN}" for call in hub.calls)
    assert all(TOKEN not in message for _, message in results)
