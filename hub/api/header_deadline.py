"""A deadline on a request's headers: a client that has not sent them whole in time is disconnected.

uvicorn closes a kept-alive connection that stays silent, but not one that trickles its headers a byte at a
time: without a deadline each such connection holds a socket and a file descriptor for as long as the client
likes, so a few hundred slow clients exhaust the process's open-file limit. ``HeaderDeadlineProtocol`` (the
httptools protocol ``hub serve`` runs, over plain HTTP and TLS alike) starts a timer when a connection opens
and when a request's first byte arrives on a kept-alive one, stops it when the request's headers are complete,
and closes the connection when it fires (``[server] header_timeout_seconds``, 10 s by default). A body being
received, or a request being answered, is not subject to it.
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("hub.api")

DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on each request's headers (see the module docstring)."""

    header_timeout_seconds = DEFAULT_HEADER_TIMEOUT_SECONDS
    _header_deadline: asyncio.TimerHandle | None = None

    @classmethod
    def with_timeout(cls, seconds: float) -> type[HeaderDeadlineProtocol]:
        """This protocol class with a deadline of ``seconds`` (uvicorn takes a class, built with its own arguments)."""
        return type(cls.__name__, (cls,), {"header_timeout_seconds": float(seconds)})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the deadline for the first request's headers."""
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_message_begin(self) -> None:
        """A request begins: its headers have until the deadline (already running for a new connection)."""
        super().on_message_begin()
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        """The headers are here: no deadline for the rest."""
        self._disarm_header_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the timer with the connection."""
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout_seconds, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            log.info("closed a connection whose request headers were not complete within %g s",
                     self.header_timeout_seconds)  # fmt: skip
            self.transport.close()
