"""The real ``mesh-sandbox`` server on loopback for the MESH tests (a plain module they import).

The sandbox runs from its own virtual environment (``make .mesh-sandbox/bin/uvicorn``
creates it), because it pins its own FastAPI. It is found through ``HUB_MESH_SANDBOX_UVICORN``
(the path of that environment's ``uvicorn``) or at ``.mesh-sandbox/bin/uvicorn``. When it is
absent the MESH tests are skipped with the reason, or fail when ``HUB_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.testing import free_port
from hub.testing import wait_until as _wait_until

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "password"
TRUST_MAILBOX, HUB_MAILBOX, OTHER_MAILBOX = "X26ABC1", "X26ABC2", "X26ABC3"


@dataclass
class MeshSandbox:
    """A running sandbox: its URL and shared key, and clients signed in as its mailboxes."""

    url: str
    shared_key: str
    process: subprocess.Popen[bytes]

    def client(self, mailbox: str, **kwargs: Any) -> Any:
        """A ``mesh_client.MeshClient`` signed in as ``mailbox`` (close it, or use it as a context manager)."""
        from mesh_client import MeshClient

        return MeshClient(self.url, mailbox, PASSWORD, shared_key=self.shared_key.encode(), max_retries=0, **kwargs)

    def inbox(self, mailbox: str) -> list[str]:
        """The message ids waiting in ``mailbox``."""
        with self.client(mailbox) as client:
            return list(client.list_messages())

    def reset(self) -> None:
        """Empty every mailbox."""
        requests.delete(f"{self.url}/admin/reset", timeout=10).raise_for_status()


def sandbox_uvicorn() -> Path | None:
    """The sandbox environment's uvicorn, or None."""
    configured = os.environ.get("HUB_MESH_SANDBOX_UVICORN")
    path = Path(configured) if configured else ROOT / ".mesh-sandbox" / "bin" / "uvicorn"
    return path if path.exists() else None


@pytest.fixture(scope="session")
def mesh_sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshSandbox]:
    """Start ``mesh-sandbox`` once for the session (memory store, full authentication)."""
    uvicorn = sandbox_uvicorn()
    try:
        import mesh_client  # noqa: F401
    except ImportError:
        uvicorn = None
    if uvicorn is None:
        reason = ("mesh-sandbox or mesh-client is not installed: run `make .mesh-sandbox/bin/uvicorn` "
                  "(or set HUB_MESH_SANDBOX_UVICORN) and install hub-plugin-nhs with mesh-client")  # fmt: skip
        if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        print(f"\nskipping MESH tests: {reason}")
        pytest.skip(reason)
    port = free_port()
    key = secrets.token_hex(16)
    env = {**os.environ, "STORE_MODE": "memory", "AUTH_MODE": "full", "SHARED_KEY": key}
    log = (tmp_path_factory.mktemp("mesh") / "sandbox.log").open("wb")
    process = subprocess.Popen([str(uvicorn), "mesh_sandbox.api:app", "--host", "127.0.0.1", "--port", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    sandbox = MeshSandbox(f"http://127.0.0.1:{port}", key, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{sandbox.url}/health", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.1)
    else:
        process.terminate()
        pytest.fail("mesh-sandbox did not start within 30 s")
    try:
        yield sandbox
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def mesh_sandbox(mesh_sandbox_server: MeshSandbox, monkeypatch: pytest.MonkeyPatch) -> MeshSandbox:
    """The sandbox, emptied, with the hub's MESH secrets in the environment a hub process inherits."""
    mesh_sandbox_server.reset()
    monkeypatch.setenv("HUB_MESH_PASSWORD", PASSWORD)
    monkeypatch.setenv("HUB_MESH_SHARED_KEY", mesh_sandbox_server.shared_key)
    monkeypatch.setenv("HUB_MESH_URL", mesh_sandbox_server.url)
    monkeypatch.setenv("HUB_MESH_MAILBOX", HUB_MAILBOX)
    return mesh_sandbox_server


def wait_until(predicate: Any, timeout: float = 20.0, interval: float = 0.1) -> bool:
    """The kit's ``wait_until`` with MESH's slower defaults (the sandbox is polled, not pushed)."""
    return _wait_until(predicate, timeout, interval)


class MeshFront:
    """A real loopback HTTP server in front of the sandbox: forwards every request, or fails the next send.

    MESH gives a sender no way to make it fail on demand, so the conformance suite's partner answers (a 503,
    a 400...) are given here, to the next message sent (the ``POST .../outbox`` of its first chunk), with a
    body shaped like MESH's own errors; ``stop`` makes the endpoint refuse connections, as a MESH that is down.
    """

    def __init__(self, upstream: str) -> None:
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        upstream_url = urlsplit(upstream)
        self.upstream = (str(upstream_url.hostname), int(upstream_url.port or 80))
        self._fail: list[int] = []
        self._lock = threading.Lock()
        front = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with front._lock:
                    fail = front._fail.pop(0) if front._fail and self.command == "POST" and \
                        self.path.endswith("/outbox") else None  # fmt: skip
                if fail is not None:
                    answer = json.dumps({"errorEvent": "TRANSFER", "errorCode": str(fail),
                                         "errorDescription": "simulated failure"}).encode()  # fmt: skip
                    self.send_response(fail)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                    return
                connection = http.client.HTTPConnection(*front.upstream, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                    connection.request(self.command, self.path, body=body or None, headers=headers)
                    response = connection.getresponse()
                    data = response.read()
                finally:
                    connection.close()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length", "date", "server"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests read outcomes, not access logs."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="mesh-front", daemon=True)
        self._thread.start()
        self._stopped = False

    def fail_next_send(self, status: int) -> None:
        """Answer the next message sent with ``status`` (and pass nothing on to the sandbox)."""
        with self._lock:
            self._fail.append(status)

    def stop(self) -> None:
        """Stop listening (once): connections to ``url`` are refused from now on."""
        if not self._stopped:
            self._stopped = True
            self._server.shutdown()
            self._server.server_close()
