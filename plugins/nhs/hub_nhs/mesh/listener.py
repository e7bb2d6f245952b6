"""The ``mesh`` listener: polls the hub's MESH inbox, commits each message, then acknowledges it.

Options (``[listeners.mesh]`` in hub.toml):

- ``url``, ``mailbox``, ``password_env``, ``shared_key_env``, ``client_cert``, ``client_key``,
  ``ca_file``: the hub's own mailbox (see ``connection``);
- ``workflows``: table ``WORKFLOW_ID = "content/type"``, e.g.
  ``TOC_FHIR_MH_DISCH = "application/fhir+json"``; only these workflows are read,
  others are left in the inbox for another system. A workflow given ``""`` uses
  the message's own ``Mex-Content-Type``;
- ``poll_interval_seconds`` (default 60), ``handshake_interval_seconds`` (default 86400).

Contract, for each inbox message of a known workflow:

1. download it (chunks are joined by ``mesh_client``);
2. the sender is the partner whose ``mesh_mailbox`` is ``Mex-From``;
3. ``submit`` it with ``idempotency_key = "mesh:<MESH message id>"``, which commits
   every HL7/FHIR message in the body in one transaction (the n-th of several gets
   ``mesh:<id>#<n>``), or refuses the whole body and stores nothing;
4. only then acknowledge it. A crash between 3 and 4 leaves it in the inbox; the
   next poll downloads it again and the hub answers each of its messages as a
   duplicate, so nothing is lost or stored twice.

A body the hub refuses (unknown sender, any message in it invalid) is committed to
the hub's audit log as a ``transmission_refused`` event (MESH id, mailbox, workflow,
reason and problem locations, never content; ``hub dlq list`` shows it) and only
then acknowledged, so it does not block the inbox. A failure to store it or to
record its refusal (the hub's own problem) leaves it in the inbox for the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any

from hub import ListenerContext, UnparseableInput
from hub_nhs.mesh.connection import MeshConnection

log = logging.getLogger("hub_nhs.mesh")


class MeshListener:
    """Polls one MESH mailbox and brings its messages into the hub."""

    name = "mesh"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._last_handshake = 0.0

    async def start(self, context: ListenerContext) -> None:
        """Check the options, shake hands with MESH once, and start polling."""
        options = context.options
        self.context = context
        self.connection = MeshConnection.from_options(options, where="hub.toml [listeners.mesh]",
                                                      base_dir=context.settings.config_dir)  # fmt: skip
        workflows = options.get("workflows", {})
        if isinstance(workflows, list):
            workflows = dict.fromkeys(workflows, "")
        if not workflows:
            raise ValueError("hub.toml [listeners.mesh]: workflows: name at least one workflow ID to read")
        self.workflows: dict[str, str] = {str(k): str(v) for k, v in workflows.items()}
        self.poll_interval = float(options.get("poll_interval_seconds", 60))
        self.handshake_interval = float(options.get("handshake_interval_seconds", 86400))
        # a test hook only: it kills the process, so it also needs HUB_TESTING=1 in the environment
        self._crash_before_acknowledge = bool(options.get("testing_crash_before_acknowledge", False)) and (
            os.environ.get("HUB_TESTING") == "1"
        )
        self._stop = asyncio.Event()
        self._event_loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop polling after the message in hand (never between commit and acknowledge)."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 30)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(self.poll_once)
            except Exception as error:
                log.warning("mesh poll of %s failed (%s); trying again", self.connection.mailbox, type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.poll_interval)

    def poll_once(self) -> int:
        """Handshake if due, then bring in every waiting message; return how many were acknowledged.

        Runs in a worker thread; each commit is handed to the hub's event loop.
        """
        done = 0
        with self.connection.open() as client:
            if time.monotonic() - self._last_handshake >= self.handshake_interval or not self._last_handshake:
                client.handshake()
                self._last_handshake = time.monotonic()
                log.info("mesh handshake for %s succeeded", self.connection.mailbox)
            for message_id in client.list_messages():
                if self._stop.is_set():
                    break
                if self._bring_in(client, message_id):
                    done += 1
        return done

    def _bring_in(self, client: Any, message_id: str) -> bool:
        message = client.retrieve_message(message_id)
        try:
            workflow = message.workflow_id or ""
            if workflow not in self.workflows:
                log.info("mesh message %s has workflow %r, which this hub does not read; left in the inbox",
                         message_id, workflow)  # fmt: skip
                return False
            body = message.read()
        finally:
            message.close()
        content_type = self.workflows[workflow] or message.content_type or "application/octet-stream"
        try:
            sender_id = self._sender(message.sender or "")
            future = asyncio.run_coroutine_threadsafe(
                self.context.submit(body, content_type=content_type, sender_id=sender_id,
                                    idempotency_key=f"mesh:{message_id}"),
                self._event_loop,
            )  # fmt: skip
            accepted = future.result()
        except Exception as error:
            if not hasattr(error, "status") or int(getattr(error, "status", 500)) >= 500:
                log.warning("mesh message %s could not be stored (%s); it stays in the inbox",
                            message_id, type(error).__name__)  # fmt: skip
                return False
            try:
                self._record_refusal(message_id, message.sender, workflow, error)
            except Exception as failure:
                log.warning("mesh message %s was refused, but the refusal could not be recorded (%s); "
                            "it stays in the inbox", message_id, type(failure).__name__)  # fmt: skip
                return False
            client.acknowledge_message(message_id)
            log.warning("mesh message %s refused (%s); recorded (see 'hub dlq list') and acknowledged",
                        message_id, type(error).__name__)  # fmt: skip
            return True
        if self._crash_before_acknowledge:  # fault injection for the restart test: die between commit and ack
            os._exit(70)
        client.acknowledge_message(message_id)
        duplicates = sum(1 for a in accepted if a.duplicate)
        log.info("mesh message %s: %d message(s) committed (%d of them duplicates) and acknowledged",
                 message_id, len(accepted), duplicates)  # fmt: skip
        return True

    def _sender(self, mailbox: str) -> str:
        partners = self.context.partners
        partner = partners.by_code("mesh_mailbox", mailbox) or partners.by_code("mesh_mailbox", mailbox.upper())
        if partner is None:
            raise UnparseableInput(f"MESH mailbox {mailbox!r} is not the mesh_mailbox of a partner of this hub.")
        return str(partner.id)

    def _record_refusal(self, message_id: str, sender: str | None, workflow: str, error: Exception) -> None:
        """Commit the refusal to the hub's audit log (no body, no personal data); raise if it was not committed."""
        record = self.context.record_refusal
        if record is None:
            raise RuntimeError("this hub gives listeners no way to record a refusal")
        future = asyncio.run_coroutine_threadsafe(
            record(listener="mesh", reference=message_id, source=sender or "", error=error, workflow=workflow),
            self._event_loop,
        )
        future.result()
