"""The ``mllp`` listener: HL7 v2 over MLLP on TCP, answered with an ACK per message.

Options (``[listeners.mllp]`` in hub.toml):

- ``host`` (default ``127.0.0.1``), ``port`` (default 2575);
- ``max_frame_bytes`` (default 1 MiB): a longer frame is discarded and answered AR;
- ``idle_timeout_seconds`` (default 300): a connection silent that long is closed;
- ``frame_timeout_seconds`` (default 30): a connection that has not completed a frame this long after it
  sent the frame's first byte (or anything outside a frame) is closed: a sender trickling bytes cannot hold a
  connection open for ever;
- ``facility`` (default ``HUB``): MSH-4 of the hub's ACKs;
- ``sources``: optional table ``ODS = ["10.1.2.0/24", ...]``; when present, only the
  listed sending facilities are accepted, and only from their addresses.

Contract: every complete frame gets exactly one ACK, in order, in the form of
the message's HL7 version (``ack``). ``AA`` is sent only after ``submit``
returned, that is after the message is committed, with the warnings the
adapter raised (v2.5+: ERR severity ``W``); ``AE`` and ``AR`` carry the reason
in MSA-3 and ERR. When the hub's store cannot be reached (a 503 from ``submit``)
the answer is ``AR`` with condition 207 and the reason "send again later": the
sender keeps the message and resends it, as HL7 has a receiving system that is
down answer. The sending partner is the one
whose ``ods_code`` is MSH-4. Garbage between frames is ignored; a truncated
frame at close is dropped (the sender never got an AA, so it resends); nothing
a peer sends stops the listener serving others.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from typing import Any

from hub import ListenerContext, UnparseableInput
from hub_nhs.hl7v2.ack import ack_for_error, build_ack
from hub_nhs.hl7v2.adapter import CONTENT_TYPE
from hub_nhs.hl7v2.adt import control_id, sending_facility
from hub_nhs.hl7v2.conditions import TABLE_VALUE_NOT_FOUND, Hl7Problem
from hub_nhs.hl7v2.framing import Frame, FrameDecoder, Garbage, Oversized, frame
from hub_nhs.hl7v2.parser import Hl7Message, parse_messages, read_header

log = logging.getLogger("hub_nhs.mllp")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class MllpListener:
    """Accepts MLLP connections and submits each framed HL7 v2 message to the hub."""

    name = "mllp"

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._context: ListenerContext | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self.max_frame_bytes = 1 << 20
        self.idle_timeout = 300.0
        self.frame_timeout = 30.0
        self.facility = "HUB"
        self.sources: dict[str, list[Network]] | None = None

    async def start(self, context: ListenerContext) -> None:
        """Read the options and start listening; return once the socket is bound."""
        options = context.options
        self._context = context
        self.max_frame_bytes = int(options.get("max_frame_bytes", 1 << 20))
        self.idle_timeout = float(options.get("idle_timeout_seconds", 300))
        self.frame_timeout = float(options.get("frame_timeout_seconds", 30))
        self.facility = str(options.get("facility", "HUB"))
        raw_sources = options.get("sources")
        if raw_sources is not None:
            self.sources = {code: [ipaddress.ip_network(n, strict=False) for n in nets]
                            for code, nets in raw_sources.items()}  # fmt: skip
        host, port = str(options.get("host", "127.0.0.1")), int(options.get("port", 2575))
        self._server = await asyncio.start_server(self._serve, host, port, limit=1 << 16)
        log.info("mllp listening on %s:%d", host, port)

    async def stop(self) -> None:
        """Stop accepting; let each connection finish the message it is committing."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(self._connections, timeout=5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        peer = writer.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else ""
        try:
            await self._converse(reader, writer, address)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("mllp connection failed; closing it (the listener keeps serving)")
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str) -> None:
        decoder = FrameDecoder(self.max_frame_bytes)
        loop = asyncio.get_running_loop()
        deadline: float | None = None  # when the bytes received since the last complete frame must form one
        while True:
            wait = self.idle_timeout if deadline is None else min(self.idle_timeout, deadline - loop.time())
            try:
                data = await asyncio.wait_for(reader.read(1 << 16), max(wait, 0.0))
            except TimeoutError:
                if deadline is not None and loop.time() >= deadline:
                    log.info("mllp connection closed: no complete frame within %g s of its first byte",
                             self.frame_timeout)  # fmt: skip
                raise
            if not data:
                if decoder.pending:
                    log.info("mllp peer closed inside a frame; the truncated message was not accepted")
                return
            if deadline is None:
                deadline = loop.time() + self.frame_timeout
            events = decoder.feed(data)
            for event in events:
                if isinstance(event, Frame):
                    answer = await self._answer(event.payload, address)
                elif isinstance(event, Oversized):
                    log.warning("mllp frame of %d bytes refused (limit %d)", event.size, self.max_frame_bytes)
                    answer = build_ack(None, "AR", f"The frame is larger than {self.max_frame_bytes} bytes.")
                elif isinstance(event, Garbage):
                    log.info("mllp ignored %d bytes outside any frame", event.size)
                    continue
                writer.write(frame(answer))
                await writer.drain()
            if any(isinstance(event, Frame | Oversized) for event in events):  # a frame ended: the next has its time
                deadline = loop.time() + self.frame_timeout if decoder.pending else None

    async def _answer(self, payload: bytes, address: str) -> bytes:
        """The ACK for one frame; commits the message first when it is acceptable."""
        assert self._context is not None
        original: Hl7Message | None = None
        try:
            messages = parse_messages(payload)
            original = messages[0]
            if len(messages) != 1:
                raise UnparseableInput("One MLLP frame carries one HL7 v2 message.")
            sender_id = self._sender(original, address)
            accepted = await self._context.submit(payload, content_type=CONTENT_TYPE, sender_id=sender_id)
        except Exception as error:  # every failure becomes an AE/AR; the connection lives on
            original = original or read_header(payload)
            if not hasattr(error, "status"):
                log.exception("mllp message could not be stored; answered AR")
            elif getattr(error, "status", 0) == 503:  # the store cannot be reached now: AR, "resend later"
                log.warning("mllp message %s not stored (store unavailable); answered AR", _safe_id(original))
            else:
                log.info("mllp message %s refused: %s", _safe_id(original), type(error).__name__)
            return ack_for_error(original, error, hub_facility=self.facility)
        log.info("mllp message %s accepted", _safe_id(original))
        answers = accepted if isinstance(accepted, list) else [accepted]
        warnings = [w for answer in answers for w in getattr(answer, "warnings", [])]
        return build_ack(original, "AA", "Accepted", warnings=warnings, hub_facility=self.facility)

    def _sender(self, message: Hl7Message, address: str) -> str:
        """The partner id for MSH-4, checked against the allowed source addresses."""
        assert self._context is not None
        facility = sending_facility(message)
        partner = self._context.partners.by_code("ods_code", facility) if facility else None
        if partner is None:
            why = Hl7Problem("MSH-4", "not the ODS code of a partner of this hub", TABLE_VALUE_NOT_FOUND)
            raise UnparseableInput("MSH-4: the sending facility is not the ODS code of a partner of this hub.", [why])
        if self.sources is not None:
            allowed = self.sources.get(facility, [])
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                ip = None
            if ip is None or not any(ip in network for network in allowed):
                why = Hl7Problem("MSH-4", "may not send from this address", TABLE_VALUE_NOT_FOUND)
                raise UnparseableInput("MSH-4: this sending facility may not send from this address.", [why])
        return str(partner.id)


def _safe_id(message: Hl7Message | None) -> str:
    """The control id for logs (an id, never personal data)."""
    if message is None:
        return "(unreadable)"
    return repr(control_id(message)[:40])
