"""A PostgreSQL cluster of a test's own, in a temporary directory on its own port, that the test may stop and start.

The shared server (``HUB_TEST_POSTGRES_URL``) is never stopped: a test that restarts the database under a
running hub makes its own cluster with ``own_cluster(tmp_path)`` (``initdb`` as the ``postgres`` user, trust
auth for local connections, the socket in the cluster's directory), and the cluster is stopped (immediate
mode) and its directory removed when the test ends, whatever happened. Without the PostgreSQL binaries or
root (to run them as ``postgres``) the test is skipped with the reason, or fails with
``HUB_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
import pytest

from hub.testing import free_port

BIN = Path(os.environ.get("HUB_TEST_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))


class Cluster:
    """A stopped or running cluster in ``directory`` listening on 127.0.0.1:``port``."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _as_postgres(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def init(self) -> None:
        """``initdb`` the directory (owned by ``postgres``) with trust auth."""
        self.directory.mkdir(parents=True)
        shutil.chown(self.directory, "postgres", "postgres")
        self._as_postgres(str(BIN / "initdb"), "-D", str(self.directory), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        """Start the server and wait until it answers."""
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.directory), "-o", options, "-w", "-l",
                          str(self.directory / "server.log"), "start")  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect every client, roll back what is open; ``immediate``: abort)."""
        self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.directory), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        """Whether the server's postmaster runs."""
        return (self.directory / "postmaster.pid").exists()

    def database(self, name: str) -> str:
        """Create database ``name``; its URL."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rpartition("/")[0] + f"/{name}"


def _unavailable(reason: str) -> None:
    if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
        pytest.fail(f"HUB_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@contextmanager
def own_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A fresh, started cluster of this test's own; stopped and removed afterwards."""
    if not (BIN / "initdb").exists():
        _unavailable(f"no PostgreSQL binaries in {BIN} (set HUB_TEST_POSTGRES_BIN)")
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        _unavailable("starting a PostgreSQL cluster needs root (to run it as the postgres user) and runuser")
    # a short path: the socket's path must fit in 107 bytes
    directory = Path(f"/tmp/pgfaults-{os.getpid()}-{free_port()}")
    cluster = Cluster(directory, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            with suppress(subprocess.SubprocessError):
                cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)
