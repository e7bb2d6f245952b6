"""The DAG file the hub ships for Airflow, and ``hub airflow dag`` that prints or installs it.

The file is package data (``hub_airflow/dags/hub_pathway_timer.py``), read with importlib.resources so a wheel
install finds it too. It imports only the standard library and ``airflow.sdk``: Airflow needs nothing of the hub.
"""

from __future__ import annotations

import os
import re
import tempfile
from importlib.resources import files
from pathlib import Path

import click

from hub_airflow.settings import DAG_ID, DEFAULT_DAG_ID

DAG_FILE = "hub_pathway_timer.py"
_DAG_ID_LINE = re.compile(r'^DAG_ID = "[^"]*"$', re.MULTILINE)


def dag_source(dag_id: str = DEFAULT_DAG_ID) -> str:
    """The DAG file's text, with ``dag_id`` as its DAG id (``[pathway.airflow] dag_id`` must name the same)."""
    if not DAG_ID.match(dag_id):
        raise ValueError(f"not an Airflow DAG id (1-250 characters of A-Z a-z 0-9 . _ -): {dag_id!r}")
    text = files("hub_airflow").joinpath("dags", DAG_FILE).read_text(encoding="utf-8")
    text, count = _DAG_ID_LINE.subn(f'DAG_ID = "{dag_id}"', text, count=1)
    if count != 1:  # the shipped file lost its DAG_ID line: a packaging fault, not the operator's
        raise RuntimeError(f"the shipped {DAG_FILE} has no DAG_ID line")
    return text


def install_dag(directory: Path, dag_id: str = DEFAULT_DAG_ID) -> Path:
    """Write the DAG file into Airflow's DAG folder ``directory`` as ``<dag_id>.py``, atomically; its path.

    Atomically: Airflow's DAG processor may read the folder at any moment and must never see half a file. An
    older copy is replaced (the runs already queued keep their conf and are picked up by the new version).
    """
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory (Airflow's dags_folder)")
    target = directory / f"{dag_id}.py"
    text = dag_source(dag_id)
    handle, temporary = tempfile.mkstemp(prefix=f".{dag_id}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


@click.group("airflow")
def airflow() -> None:
    """Apache Airflow as the pathway's milestone scheduler ([pathway] scheduler = "airflow")."""


@airflow.command("dag")
@click.option("--install", "install_dir", type=click.Path(path_type=Path), default=None,
              help="Write the DAG file into this folder (Airflow's dags_folder) instead of printing it.")  # fmt: skip
@click.option("--dag-id", default=DEFAULT_DAG_ID, show_default=True,
              help="The DAG's id; [pathway.airflow] dag_id must say the same.")  # fmt: skip
def dag(install_dir: Path | None, dag_id: str) -> None:
    """Print the hub's DAG file, or install it into Airflow's DAG folder with --install DIR."""
    try:
        if install_dir is None:
            click.echo(dag_source(dag_id), nl=False)
            return
        target = install_dag(install_dir, dag_id)
    except (ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"installed DAG {dag_id} at {target}", err=True)
