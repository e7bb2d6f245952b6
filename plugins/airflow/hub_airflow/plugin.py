"""Entry point of the Airflow plugin (group ``hub.adapters``, name ``airflow``).

Registers the ``airflow`` milestone scheduler (``[pathway] scheduler = "airflow"``, settings in
``[pathway.airflow]``) and the ``hub airflow dag`` command that prints or installs the DAG it drives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hub import MilestoneScheduler, SchedulerSpec, hookimpl


def _open(settings: Mapping[str, Any]) -> MilestoneScheduler:
    from hub_airflow.scheduler import open_airflow_scheduler  # imports the Airflow client only when chosen

    return open_airflow_scheduler(settings)


@hookimpl
def hub_register_schedulers(register: Callable[[SchedulerSpec], None]) -> None:
    """Register ``airflow``: one queued DAG run per pathway timer, calling the hub back when it is due."""
    register(SchedulerSpec("airflow", _open))


@hookimpl
def hub_register_commands(register: Callable[[Any], None]) -> None:
    """Register ``hub airflow dag``."""
    from hub_airflow.dag_file import airflow

    register(airflow)
