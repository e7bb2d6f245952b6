"""pytest fixtures for tests against a real Apache Airflow (loaded through the ``pytest11`` entry point).

``airflow_standalone`` starts one ``airflow standalone`` for the whole session (a cold start takes about
45 s) with the hub's DAG installed, and stops it, with every process of its group, when the session ends. A
test about a restart calls its ``restart()``; the others share it, so each should use timer ids of its own.

When Airflow cannot start (its environment is missing: ``make .airflow/bin/airflow``, or it did not become
healthy) the tests that ask for it are skipped with the reason, or fail where ``HUB_REQUIRE_SERVICES=1``.

The DAG's task sees ``HUB_SCHEDULER_TOKEN`` = ``airflow_standalone.env["HUB_SCHEDULER_TOKEN"]`` (a fresh random
token: configure the hub's scheduler identity with it) and retries after 1 s.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported when the fixture is used: every pytest run of a venv with the plugin loads this file
    from hub_airflow.testing import AirflowStandalone

CHECKOUT = Path(__file__).resolve().parents[3]
"""The source checkout when the plugin is installed from it (where ``make`` builds ``.airflow``)."""


def _unavailable(reason: str) -> None:
    if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
        pytest.fail(f"Airflow is required (HUB_REQUIRE_SERVICES=1): {reason}")
    print(f"\nskipping Airflow tests: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def airflow_standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowStandalone]:
    """A running ``airflow standalone`` on loopback for the session, with the hub's DAG (see the module)."""
    from hub_airflow.testing import AirflowDidNotStart, AirflowStandalone, airflow_bin, standalone_env

    executable = airflow_bin(CHECKOUT)
    if executable is None:
        _unavailable("Airflow's environment is missing: run `make .airflow/bin/airflow` (or set HUB_AIRFLOW_BIN)")
    assert executable is not None
    airflow = AirflowStandalone(executable, tmp_path_factory.mktemp("airflow"),
                                env=standalone_env("hub_" + secrets.token_urlsafe(32)))  # fmt: skip
    try:
        airflow.start()
    except (AirflowDidNotStart, OSError) as error:
        _unavailable(f"airflow standalone did not start: {error}")
    try:
        yield airflow
    finally:
        airflow.stop()
