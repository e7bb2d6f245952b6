"""A loopback HTTP server that answers the DAG's callbacks the way the hub's fire endpoint does, recording each
(a plain module the tests import)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Callback:
    """One call the DAG's task made: when (wall clock), for which timer, with which credentials and body."""

    at: float
    timer_id: str
    authorization: str | None
    body: bytes


@dataclass
class CallbackHub:
    """A loopback HTTP server answering ``POST /v1/pathway/timers/{id}/fire`` like the hub.

    It answers 401 unless the bearer token is ``token``; otherwise it pops the next scripted answer for the
    timer (``script[timer_id]``, a list of ``(status, outcome)``) or answers 200 ``fired``.
    """

    token: str
    port: int = 0
    calls: list[Callback] = field(default_factory=list)
    script: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen (on the same port as before after a ``stop()``)."""
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.split("/")
                timer_id = parts[4] if len(parts) == 6 and parts[1:4] == ["v1", "pathway", "timers"] else ""
                authorization = self.headers.get("Authorization")
                hub.calls.append(Callback(time.time(), timer_id, authorization, body))
                if authorization != f"Bearer {hub.token}":
                    status, outcome = 401, ""
                else:
                    scripted = hub.script.get(timer_id)
                    status, outcome = scripted.pop(0) if scripted else (200, "fired")
                answer = json.dumps({"timer_id": timer_id, "outcome": outcome}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening: calls are refused until ``start()``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def calls_for(self, timer_id: str) -> list[Callback]:
        """The calls made for ``timer_id``, in order."""
        return [c for c in self.calls if c.timer_id == timer_id]
