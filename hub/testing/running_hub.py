"""Run ``hub serve`` as a real process on loopback, for end-to-end tests and benchmarks."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from hub.crypto.keyring import FileKeyRing
from hub.shipped import copy_example_config, example_config
from hub.store.url import sqlite_url
from hub.testing.toml_writer import dumps

EXAMPLE_CONFIG = Path(str(example_config()))
"""The example deployment shipped in the hub's package data (a folder: pip installs plain files)."""
"""The example deployment's config directory (its routes are the default routes of a test config)."""


def stop_process(process: subprocess.Popen[Any] | None, grace: float = 15.0) -> None:
    """SIGTERM a child process, wait up to ``grace`` seconds, then SIGKILL it if it lingers."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


START_TIMEOUT = 60.0  # seconds a test hub may take to answer /readyz before the test fails


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> bool:
    """Poll ``predicate()`` until it is true (return True) or ``timeout`` seconds pass (return False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def run_hub_cli(config_dir: Path, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``hub ARGS --config CONFIG_DIR`` as a child process and capture its output."""
    return subprocess.run([sys.executable, "-m", "hub", *args, "--config", str(config_dir)], capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def _ephemeral_range() -> tuple[int, int]:
    """The range the kernel hands out for port 0 (Linux default when it cannot be read)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now, chosen outside the kernel's ephemeral range.

    A port chosen for a process started later must not be one the kernel can hand
    to a server bound to port 0 meanwhile (a partner simulator): that collision made
    a hub fail to start with "address already in use".
    """
    low, _high = _ephemeral_range()
    lowest = 10000 if low > 11000 else 1024
    rng = secrets.SystemRandom()
    for _ in range(200):
        port = rng.randrange(lowest, low) if low > lowest else 0
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    with socket.socket() as sock:  # every try was taken: let the kernel choose
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(
    directory: Path,
    *,
    partners: list[dict[str, Any]],
    operators: list[dict[str, Any]] | None = None,
    routes_from: Path | None = None,
    routes: list[dict[str, Any]] | None = None,
    settings: dict[str, dict[str, Any]] | None = None,
    make_keys: bool = True,
    default_tls_only: bool = True,
    passphrase_env: str = "HUB_KEY_PASSPHRASE",
) -> Path:
    """Write a config directory: ``hub.toml`` from ``settings``, the partners, and routes.

    The store is ``store.url = "sqlite:///DIRECTORY/hub.db"`` unless ``settings`` names one (``url``, or the
    older ``path``/``backend``); the state directory is then the store file's folder, ``directory``.

    Routes are copied from ``routes_from/routes.toml``, else from the example
    deployment shipped with the hub, unless ``routes`` is given. With ``make_keys`` a key ring is created in
    ``directory/keys`` under the passphrase in ``passphrase_env``, which is
    set to a random value in this process's environment if it is unset (child
    processes such as ``RunningHub`` inherit it). With ``default_tls_only`` a
    partner given with neither ``keys`` nor ``tls_only`` is written ``tls_only = true``. The store is
    ``hub.db`` in ``directory`` unless ``settings`` name another with ``store.url``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    base: dict[str, dict[str, Any]] = {
        "store": {"url": sqlite_url(directory / "hub.db")},
        "keys": {"dir": str(directory / "keys")},
    }
    if make_keys and not (directory / "keys" / "keyring.json").exists():
        passphrase = os.environ.setdefault(passphrase_env, secrets.token_urlsafe(24))
        FileKeyRing.create(directory / "keys", passphrase)
    for table, values in (settings or {}).items():
        if table == "store" and {"url", "path", "backend"} & set(values):
            del base["store"]["url"]  # the caller names the store itself (perhaps in the older form)
        base.setdefault(table, {}).update(values)
    (directory / "hub.toml").write_text(dumps(base))
    if default_tls_only:  # partners given without envelope keys exchange plain bodies over TLS
        partners = [p if "keys" in p or "tls_only" in p else {**p, "tls_only": True} for p in partners]
    (directory / "partners.toml").write_text(dumps({"partner": partners, "operator": operators or []}))
    if routes is not None:
        (directory / "routes.toml").write_text(dumps({"route": routes}))
    elif routes_from is not None:
        shutil.copy(routes_from / "routes.toml", directory / "routes.toml")
    else:
        copy_example_config(directory, names=("routes.toml",))
    return directory


class RunningHub:
    """``hub serve`` in a child process, with its output in ``log_path``."""

    def __init__(
        self,
        config_dir: Path,
        port: int | None = None,
        extra_args: list[str] | None = None,
        tls_ca: Path | None = None,
        client_cert: tuple[str, str] | None = None,
    ) -> None:
        self.tls_ca = tls_ca
        self.client_cert = client_cert
        self.config_dir = Path(config_dir)
        self.port = port or free_port()
        self.extra_args = extra_args or []
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.config_dir / f"hub-{self.port}.log"

    @property
    def url(self) -> str:
        """Base URL of the running hub."""
        return f"{'https' if self.tls_ca else 'http'}://127.0.0.1:{self.port}"

    def start(self, timeout: float = START_TIMEOUT, *, ready: bool = True) -> RunningHub:
        """Start the process and wait until ``/readyz`` answers 200 (with ``ready=False``: answers at all).

        Returns as soon as it does; ``timeout`` only bounds a hub that never gets there (a loaded machine can take
        20 s to import and open the store, so the default is generous).
        """
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "hub", "serve", "--config", str(self.config_dir), "--port", str(self.port),
                   *self.extra_args]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hub exited with {self.process.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                verify: str | bool = str(self.tls_ca) if self.tls_ca else True
                status = requests.get(f"{self.url}/readyz", timeout=1, verify=verify, cert=self.client_cert).status_code
                if status == 200 or not ready:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"hub did not become ready in {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the process (a crash: nothing is flushed or closed)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait (a clean shutdown); SIGKILL if it does not stop in 15 seconds."""
        stop_process(self.process)

    def __enter__(self) -> RunningHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
