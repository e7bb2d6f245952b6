"""A partner simulator: a real HTTP server on loopback that receives what the hub pushes.

It records every request, can be told to fail (``fail_next``, ``down``, or
``refuse_when`` for the requests a function picks), to be
slow (``delay`` seconds per request) or to answer with a body of its own
(``answer_with``: a JSON reply carrying a reference and a decision), drops
nothing (duplicates are recorded and flagged by ``Idempotency-Key``), and can
answer each message by sending messages back to the hub with its own token, as
a real partner system would (acknowledgements, appointments).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web

Responder = Callable[[dict[str, Any]], list[dict[str, Any]]]
SEALED_TYPES = ("application/jose", "application/jose+json")
"""The media types of a sealed envelope: compact (one recipient key) and general JSON (several)."""
Answer = dict[str, Any] | list[Any] | bytes | Callable[["Received"], "dict[str, Any] | list[Any] | bytes"]


@dataclass(frozen=True)
class SimulatorKeys:
    """A sealing partner's own private keys and the hub's public keys.

    ``decryption`` is one private JWK or a list of them (an instance holding both keys while it rotates), and
    ``hub_signing`` one public JWK or a list (the hub's key set, ``hub keys export``, while the hub rotates). Replace
    the whole ``SimulatorKeys`` (``dataclasses.replace``) to switch keys while the simulator runs.
    """

    signing: Any
    decryption: Any
    hub_signing: Any
    hub_encryption: Any
    hub_id: str = "hub"


@dataclass
class Received:
    """One request the simulator received."""

    at: float
    path: str
    content_type: str
    headers: dict[str, str]
    body: bytes
    duplicate: bool
    sealed: bool = False
    envelope: bytes = b""
    """For a sealed delivery, the envelope exactly as it arrived (``body`` is what it held); else empty."""

    @property
    def message(self) -> dict[str, Any]:
        """The body parsed as JSON."""
        message: dict[str, Any] = orjson.loads(self.body)  # what the hub delivers: a JSON object
        return message


@dataclass
class Reply:
    """A message the simulator sent back to the hub, and the hub's answer."""

    message: dict[str, Any]
    status: int
    answer: dict[str, Any] = field(default_factory=dict)


class PartnerSimulator:
    """A loopback HTTP partner (see module docstring). Use as a context manager or call ``start``/``stop``."""

    def __init__(
        self,
        name: str,
        *,
        hub_url: str | None = None,
        token: str | None = None,
        responder: Responder | None = None,
        on_receive: Callable[[Received], None] | None = None,
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        hub_ssl: ssl.SSLContext | bool = True,
        keys: SimulatorKeys | None = None,
    ) -> None:
        self.keys = keys
        self.refused: list[str] = []
        self.ssl_context = ssl_context
        self.hub_ssl = hub_ssl
        self.name = name
        self.hub_url = hub_url
        self.token = token
        self.responder = responder
        self.on_receive = on_receive
        self.port = port
        self.received: list[Received] = []
        self.replies: list[Reply] = []
        self.down = False
        self.delay = 0.0
        self.refuse_when: Callable[[Received], int | None] | None = None
        """A function of each request (as it would be recorded); a status it returns is answered instead
        of accepting, and the request is not recorded. None accepts every request."""
        self._answer: Answer | None = None
        self._answer_type = "application/json"
        self._fail_budget = 0
        self._fail_status = 503
        self._seen: set[str] = set()
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._failed: Exception | None = None

    # -- control ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL of the simulator (``http://127.0.0.1:PORT``)."""
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` requests with ``status`` (and record nothing)."""
        with self._lock:
            self._fail_budget = count
            self._fail_status = status

    def answer_with(self, body: Answer | None, content_type: str = "application/json") -> None:
        """Answer each accepted request (200) with ``body`` instead of the default receipt.

        ``body`` is JSON (a dict or list), raw bytes (to send something malformed),
        or a function of the ``Received`` request returning either; None restores
        the default. The ``X-Receipt-Id`` header is sent either way.
        """
        with self._lock:
            self._answer = body
            self._answer_type = content_type

    def unique_ids(self) -> set[str]:
        """Idempotency keys (message ids) received at least once."""
        with self._lock:
            return set(self._seen)

    def messages(self, message_type: str | None = None) -> list[dict[str, Any]]:
        """Parsed bodies received, first copies only, optionally of one type."""
        with self._lock:
            items = [r.message for r in self.received if not r.duplicate]
        return [m for m in items if message_type is None or m.get("type") == message_type]

    def wait_for(self, predicate: Callable[[PartnerSimulator], object], timeout: float = 10.0) -> bool:
        """Block until ``predicate(self)`` holds (is truthy: a non-empty list will do) or ``timeout`` passes.

        Returns whether it held.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.05))
        return True

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> PartnerSimulator:
        """Start serving in a background thread (again after ``stop``, on the same port); returns once it is bound."""
        self._ready.clear()
        self._failed = None
        self._thread = thread = threading.Thread(target=self._serve, name=f"sim-{self.name}", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not self._ready.wait(0.05):
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"simulator {self.name} did not start") from self._failed
        return self

    def stop(self) -> None:
        """Stop the server and its thread; idempotent.

        A second ``stop``, a ``stop`` before any ``start`` or after a ``start`` that failed (the port was taken)
        does nothing and raises nothing. ``start`` may be called again afterwards.
        """
        loop, stop, thread = self._loop, self._stop, self._thread
        self._loop = self._stop = self._thread = None
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended (its thread failed or has stopped)
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(timeout=10)

    def __enter__(self) -> PartnerSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # e.g. the port is taken: ``start`` raises it, as its cause
            self._failed = exc

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port, ssl_context=self.ssl_context)
        await site.start()
        sockets = getattr(site._server, "sockets", None)  # the bound socket's port, when 0 was asked for
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self._session = aiohttp.ClientSession()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self._session.close()
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        with self._lock:
            if self.down:
                return web.Response(status=503, text="partner system is down")
            if self._fail_budget > 0:
                self._fail_budget -= 1
                return web.Response(status=self._fail_status, text="simulated failure")
        if self.delay:
            await asyncio.sleep(self.delay)
        body = envelope = await request.read()
        sealed = request.content_type in SEALED_TYPES
        if sealed:
            try:
                body = self._open(envelope)
            except Exception as exc:  # a partner refuses what it cannot open, and says so
                reason = getattr(exc, "reason", type(exc).__name__)
                with self._changed:
                    self.refused.append(reason)
                    self._changed.notify_all()
                return web.Response(status=400, text=f"envelope refused: {reason}")
        elif self.keys is not None:
            with self._changed:
                self.refused.append("unsealed delivery")
                self._changed.notify_all()
            return web.Response(status=400, text="this partner accepts only sealed envelopes")
        key = request.headers.get("Idempotency-Key", "")
        refuse = self.refuse_when
        if refuse is not None:
            status = refuse(Received(time.time(), request.path, request.content_type, dict(request.headers), body,
                                     False, sealed, envelope if sealed else b""))  # fmt: skip
            if status:
                return web.Response(status=status, text="simulated refusal")
        with self._changed:
            duplicate = bool(key) and key in self._seen
            if key:
                self._seen.add(key)
            item = Received(time.time(), request.path, request.content_type, dict(request.headers), body, duplicate,
                            sealed, envelope if sealed else b"")  # fmt: skip
            self.received.append(item)
            self._changed.notify_all()
        if self.on_receive is not None:
            self.on_receive(item)
        if not duplicate and self.responder is not None and self.hub_url:
            asyncio.get_running_loop().create_task(self._respond(item))
        with self._lock:
            answer, answer_type = self._answer, self._answer_type
        if answer is None:
            return web.json_response({"received": True, "receipt": key}, status=200, headers={"X-Receipt-Id": key})
        content = answer(item) if callable(answer) else answer
        data = content if isinstance(content, bytes) else orjson.dumps(content)
        return web.Response(body=data, status=200, headers={"Content-Type": answer_type, "X-Receipt-Id": key})

    async def _respond(self, item: Received) -> None:
        try:
            replies = self.responder(item.message) if self.responder else []
        except Exception as exc:  # a broken responder is a test bug; make it visible
            replies = []
            self.replies.append(Reply({}, 0, {"error": repr(exc)}))
        for message in replies:
            await self.send(message)

    def _open(self, body: bytes) -> bytes:
        from hub.envelope import open_envelope

        assert self.keys is not None, "a sealed delivery reached a simulator without keys"
        opened = open_envelope(body, sender_keys=self.keys.hub_signing, recipient_keys=self.keys.decryption,
                               expected_sender=self.keys.hub_id, expected_recipient=self.name)  # fmt: skip
        return opened.payload

    def seal(self, message: dict[str, Any]) -> bytes:
        """``message`` sealed by this partner for the hub."""
        from hub.envelope import EnvelopeMetadata, seal_envelope

        assert self.keys is not None
        metadata = EnvelopeMetadata(message["message_id"], message["type"], self.name, self.keys.hub_id)
        return seal_envelope(orjson.dumps(message), metadata=metadata, signing_key=self.keys.signing,
                             recipient_keys=[self.keys.hub_encryption]).encode("ascii")  # fmt: skip

    async def send(self, message: dict[str, Any]) -> Reply:
        """POST a canonical message to the hub as this partner (sealed when it has keys)."""
        content_type, data = "application/json", orjson.dumps(message)
        if self.keys is not None:
            content_type, data = "application/jose", self.seal(message)
        headers = {"Content-Type": content_type, "Authorization": f"Bearer {self.token}"}
        async with self._session.post(f"{self.hub_url}/v1/messages", data=data,
                                      headers=headers, ssl=self.hub_ssl) as response:  # fmt: skip
            answer = await response.json(content_type=None)
            reply = Reply(message, response.status, answer)
        with self._changed:
            self.replies.append(reply)
            self._changed.notify_all()
        return reply
