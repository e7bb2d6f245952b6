"""Slow clients for fault tests: many TCP connections that trickle a request one byte at a time.

``SlowClients(host, port, payload, count)`` opens ``count`` connections and, in a thread of its own, sends the
next byte of ``payload`` on every one still open each ``interval`` seconds, then ``filler`` bytes for ever (so
a payload that stops inside a header or a frame is never finished). A connection the
server closed (end of stream, or a reset) is counted in ``closed``; ``open_count`` is how many are still open.
Use it as a context manager: every socket is closed at the end.
"""

from __future__ import annotations

import socket
import threading


class SlowClients:
    """``count`` connections trickling ``payload`` (see the module docstring)."""

    def __init__(self, host: str, port: int, payload: bytes, count: int, interval: float = 0.5,
                 filler: bytes = b"a") -> None:  # fmt: skip
        self.address = (host, port)
        self.payload = payload
        self.filler = filler
        self.count = count
        self.interval = interval
        self.closed = 0
        self.sent_bytes = 0
        self._open: dict[socket.socket, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, name="slow-clients", daemon=True)

    @property
    def open_count(self) -> int:
        """How many connections the server has not closed yet."""
        with self._lock:
            return len(self._open)

    def __enter__(self) -> SlowClients:
        for _ in range(self.count):
            sock = socket.create_connection(self.address, timeout=10)
            sock.setblocking(False)
            self._open[sock] = 0
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        with self._lock:
            for sock in self._open:
                sock.close()
            self._open.clear()

    def _trickle(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                for sock, at in list(self._open.items()):
                    if self._server_closed(sock):
                        del self._open[sock]
                        sock.close()
                        self.closed += 1
                        continue
                    try:
                        sock.send(self.payload[at : at + 1] or self.filler)
                    except OSError:
                        continue  # found closed at the next round
                    self._open[sock] = at + 1
                    self.sent_bytes += 1

    @staticmethod
    def _server_closed(sock: socket.socket) -> bool:
        """True when the server ended the connection (end of stream or reset); an answer's bytes are read."""
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return not data
