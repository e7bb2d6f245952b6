"""``hub airflow dag`` prints the DAG file the plugin ships, or installs it into Airflow's DAG folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hub_airflow.dag_file import dag_source

SHIPPED = Path(__file__).resolve().parents[1] / "hub_airflow" / "dags" / "hub_pathway_timer.py"


def hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub", "airflow", "dag", *args], capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_it_prints_the_shipped_dag_file() -> None:
    result = hub()
    assert result.returncode == 0, result.stderr
    assert result.stdout == SHIPPED.read_text()
    compile(result.stdout, "hub_pathway_timer.py", "exec")


def test_it_installs_the_file_into_a_dag_folder_replacing_an_older_copy(tmp_path: Path) -> None:
    (tmp_path / "hub_pathway_timer.py").write_text("# an older version\n")
    result = hub("--install", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hub_pathway_timer.py").read_text() == SHIPPED.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hub_pathway_timer.py"]  # no temporary file left
    assert f"installed DAG hub_pathway_timer at {tmp_path / 'hub_pathway_timer.py'}" in result.stderr


def test_another_dag_id_names_the_dag_and_its_file(tmp_path: Path) -> None:
    result = hub("--install", str(tmp_path), "--dag-id", "hub_b_timer")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "hub_b_timer.py").read_text()
    assert 'DAG_ID = "hub_b_timer"' in text
    assert text == dag_source("hub_b_timer")


def test_a_missing_folder_or_bad_dag_id_is_refused_changing_nothing(tmp_path: Path) -> None:
    missing = hub("--install", str(tmp_path / "absent"))
    assert missing.returncode == 1
    assert "absent is not a directory (Airflow's dags_folder)" in missing.stderr
    bad = hub("--install", str(tmp_path), "--dag-id", "../escape")
    assert bad.returncode == 1
    assert "not an Airflow DAG id" in bad.stderr
    assert list(tmp_path.iterdir()) == []
