"""A real Apache Airflow 3 on loopback for tests: ``airflow standalone`` in a temporary AIRFLOW_HOME.

Airflow runs from its own virtual environment (``make .airflow/bin/airflow`` builds it, ``pip install
apache-airflow==3.3.2``), found through ``HUB_AIRFLOW_BIN`` (the path of that environment's ``airflow``) or at
``.airflow/bin/airflow`` in the checkout. ``AirflowStandalone`` starts it in a process group of its own
(``setsid``: standalone starts the API server, scheduler, DAG processor and triggerer as children, which a plain
terminate would leave behind) on free ports, with the hub's DAG installed, signs in as a user of the simple auth
manager, and stops it by killing the whole group. ``restart()`` keeps the home (database, DAGs, queued runs).

Nothing here needs pytest: the fixtures live in the tests' conftest files.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from hub_airflow.dag_file import install_dag
from hub_airflow.settings import DEFAULT_DAG_ID

USER = "hub"
"""The simple auth manager's admin, for the tests' own calls (its password is generated at first start)."""

SCHEDULER_USER = "hubscheduler"
"""The user the hub's scheduler signs in as: role ``user``, the least of the simple auth manager's roles that may
trigger, read and delete DAG runs."""

START_TIMEOUT_SECONDS = 300.0


class AirflowDidNotStart(RuntimeError):
    """``airflow standalone`` did not become healthy; the message ends with the tail of its log."""


def airflow_bin(root: Path) -> Path | None:
    """Airflow's ``airflow`` executable: ``$HUB_AIRFLOW_BIN`` or ``ROOT/.airflow/bin/airflow``; None when absent."""
    configured = os.environ.get("HUB_AIRFLOW_BIN")
    path = Path(configured) if configured else root / ".airflow" / "bin" / "airflow"
    return path if path.exists() else None


@dataclass
class AirflowStandalone:
    """One ``airflow standalone`` with its home in ``home``; ``start()``, ``stop()``, ``restart()``.

    ``env`` is added to the environment of every Airflow process, so the DAG's task sees it (the hub's
    scheduler token, ``HUB_PATHWAY_RETRY_DELAY_SECONDS``, ...).
    """

    executable: Path
    home: Path
    env: dict[str, str] = field(default_factory=dict)
    dag_id: str = DEFAULT_DAG_ID
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    starts: int = 0
    worker_log_port: int = 0
    trigger_log_port: int = 0

    @property
    def url(self) -> str:
        """The API server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """Where standalone's output goes (appended across restarts)."""
        return self.home / "standalone.log"

    @property
    def dags_folder(self) -> Path:
        """The DAG folder the hub's DAG is installed into."""
        return self.home / "dags"

    def password(self, user: str = USER) -> str:
        """The generated password of ``user`` (the simple auth manager writes them at first start)."""
        generated = self.home / "simple_auth_manager_passwords.json.generated"
        return str(json.loads(generated.read_text())[user])

    def credentials_env(self) -> dict[str, str]:
        """Environment variables for ``[pathway.airflow] username_env / password_env`` naming them."""
        return {"HUB_AIRFLOW_USERNAME": SCHEDULER_USER, "HUB_AIRFLOW_PASSWORD": self.password(SCHEDULER_USER)}

    def settings(self, hub_url: str, **extra: Any) -> dict[str, Any]:
        """A ``[pathway.airflow]`` table for this Airflow, signing in with ``credentials_env()``'s variables."""
        return {"url": self.url, "hub_url": hub_url, "dag_id": self.dag_id, "username_env": "HUB_AIRFLOW_USERNAME",
                "password_env": "HUB_AIRFLOW_PASSWORD", **extra}  # fmt: skip

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Start standalone (free ports on the first start, the same ones after), wait until healthy with the DAG."""
        from hub.testing import free_port

        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("Airflow is already running")
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        install_dag(self.dags_folder, self.dag_id)
        if not self.port:
            self.port, self.worker_log_port, self.trigger_log_port = free_port(), free_port(), free_port()
        env = {
            **os.environ,
            "PATH": f"{self.executable.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin,{SCHEDULER_USER}:user",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.worker_log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.trigger_log_port),
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            **self.env,
        }
        env.pop("PYTHONPATH", None)  # Airflow's environment is its own: nothing of the hub's
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen([str(self.executable), "standalone"], env=env, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)  # fmt: skip
        finally:
            log.close()
        self.starts += 1
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, grace: float = 10.0) -> None:
        """Stop every process of standalone's group: SIGTERM, then SIGKILL after ``grace`` seconds."""
        process, self.process = self.process, None
        if process is None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _group_alive(process.pid):
                process.poll()
                time.sleep(0.2)
            if not _group_alive(process.pid):
                break
        process.poll()

    def restart(self, timeout: float = START_TIMEOUT_SECONDS, **env: str) -> None:
        """Stop and start again on the same ports and home (queued runs survive in its database)."""
        self.stop()
        self.env.update(env)
        self.start(timeout)

    def components_alive(self) -> bool:
        """Whether standalone and its scheduler and DAG processor are running (a scheduler that hits an error in its
        loop exits, and standalone does not start it again: seen on SQLite when a run is deleted while the
        scheduler updates it)."""
        if self.process is None or self.process.poll() is not None:
            return False
        running = [" ".join(argv) for argv in _group_argv(self.process.pid)]
        return all(any(f"airflow {name}" in cmd for cmd in running) for name in ("scheduler", "dag-processor"))

    def ensure_running(self) -> bool:
        """Restart Airflow (same home and ports) when a component has died; True when it had to."""
        if self.components_alive():
            return False
        print(f"\nAirflow's scheduler or DAG processor had stopped: restarting standalone ({self._log_tail(5)})")
        self.restart()
        return True

    def token(self) -> str:
        """A bearer token for the API, signed in as ``USER``."""
        answer = requests.post(f"{self.url}/auth/token", json={"username": USER, "password": self.password()},
                               timeout=10)  # fmt: skip
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call Airflow's REST API (``/api/v2`` + ``path``) signed in as ``USER``."""
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.url}/api/v2{path}", headers=headers, timeout=15, **kwargs)

    def set_variable(self, key: str, value: str) -> None:
        """Set Airflow Variable ``key`` (created, or replaced when it exists), e.g. ``hub_pathway_hub_url``."""
        answer = self.api("PATCH", f"/variables/{key}", json={"key": key, "value": value})
        if answer.status_code == 404:
            answer = self.api("POST", "/variables", json={"key": key, "value": value})
        answer.raise_for_status()

    def run(self, run_id: str) -> dict[str, Any] | None:
        """The DAG run ``run_id`` of the hub's DAG as Airflow shows it, or None when there is none."""
        answer = self.api("GET", f"/dags/{self.dag_id}/dagRuns/{run_id}")
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return dict(answer.json())

    def task_tries(self, run_id: str) -> int:
        """How many times the run's ``fire`` task has started (0 before it ran)."""
        answer = self.api("GET", f"/dags/{self.dag_id}/dagRuns/{run_id}/taskInstances/fire")
        if answer.status_code == 404:
            return 0
        answer.raise_for_status()
        body = answer.json()
        return int(body.get("try_number") or 0) if body.get("state") is not None else 0

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        healthy = False
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise AirflowDidNotStart(f"airflow standalone exited ({self._log_tail()})")
            try:
                if not healthy:
                    health = requests.get(f"{self.url}/api/v2/monitor/health", timeout=2).json()
                    healthy = all(health.get(part, {}).get("status") == "healthy"
                                  for part in ("metadatabase", "scheduler", "dag_processor"))  # fmt: skip
                if healthy and self.api("GET", f"/dags/{self.dag_id}").status_code == 200:
                    return
            except (requests.RequestException, ValueError, OSError):
                pass
            time.sleep(0.5)
        raise AirflowDidNotStart(f"airflow standalone was not ready with DAG {self.dag_id} within {timeout:.0f} s "
                                 f"({self._log_tail()})")  # fmt: skip

    def _log_tail(self, lines: int = 15) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return "no log"
        return "log tail:\n" + "\n".join(tail)


def _group_argv(pgid: int) -> list[list[str]]:
    """The argument lists of the running (not zombie) processes of group ``pgid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
                found.append((stat.parent / "cmdline").read_bytes().decode(errors="replace").split("\0"))
        except (OSError, IndexError):
            continue
    return found


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` is still running (zombies, which nobody may reap here, do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def standalone_env(
    token: str, retry_delay_seconds: float = 1.0, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment the DAG's task needs in tests: the scheduler token and quick retries."""
    return {"HUB_SCHEDULER_TOKEN": token, "HUB_PATHWAY_RETRY_DELAY_SECONDS": str(retry_delay_seconds),
            "HUB_PATHWAY_TASK_RETRIES": "8", **(extra or {})}  # fmt: skip
