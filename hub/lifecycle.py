"""One lifecycle for what runs beside a hub's faces: transports, listeners, the delivery worker and the alerts.

With the delivery worker run the pathway's ticks, the look-out for a blind-index rebuild left unfinished
(``hub.services.index_rebuild_tender``) and the pruning of the overview's old counters
(``hub.services.counter_upkeep``).

``hub serve`` runs it inside the HTTP app's lifespan; ``hub worker`` runs it alone. Start order: the
transports (each opened on first use), the delivery worker, then the listeners, so that a body a listener
takes is delivered by a running worker. Stop order is the reverse: listeners first (nothing new comes in),
then the worker (its in-flight deliveries finish), then the transports it used. The alerts' evaluator
(``hub.services.alerts``, when ``[alerts]`` is configured) runs in every process, ``hub serve --no-worker`` too;
a lease in the store lets one at a time evaluate and send.

A listener that fails to start stops the start: what was already started is stopped again and the error
is raised. A listener that fails to stop is logged; the others still stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from hub.outbound import OutboundTransports
from hub.plugin_api.problems import ConfigError
from hub.plugin_api.records import Listener, ListenerContext
from hub.services.counter_upkeep import prune_counters
from hub.services.index_rebuild_tender import tend_index_rebuild

if TYPE_CHECKING:
    from hub.runtime import Hub

log = logging.getLogger("hub.lifecycle")


def state_dir(settings: Any) -> Path:
    """The directory where plugins keep their state (``[store] state_dir``)."""
    return Path(settings.state_dir)


def enabled_listeners(hub: Hub) -> list[tuple[str, dict[str, Any]]]:
    """The ``[listeners.NAME]`` tables of ``hub.toml`` not switched off with ``enabled = false``, in order.

    Raises ``ConfigError`` naming the first table whose listener no loaded plugin registers, so that a
    command can refuse to start before anything runs.
    """
    tables = [(n, o) for n, o in hub.config.settings.listeners.items() if o.get("enabled", True)]
    for name, _ in tables:
        if name not in hub.plugins.listeners:
            known = ", ".join(sorted(hub.plugins.listeners)) or "none"
            raise ConfigError(
                f"hub.toml: [listeners.{name}]: no loaded plugin registers this listener (known: {known})"
            )
    return tables


class HubLifecycle:
    """Starts and stops a hub's transports, delivery worker and listeners (see the module docstring).

    Use as ``async with HubLifecycle(hub): ...`` or call ``start()`` and ``stop()``. ``run_worker`` and
    ``run_listeners`` choose what this process hosts (several ``hub serve --no-worker`` may share one
    ``hub worker``; only one process should host the listeners).
    """

    def __init__(self, hub: Hub, *, run_worker: bool = True, run_listeners: bool = True) -> None:
        self.hub = hub
        self.run_worker = run_worker
        self.run_listeners = run_listeners
        settings = hub.config.settings
        self.transports = OutboundTransports(settings.delivery_timeout_seconds, settings.delivery_concurrency)
        self.listeners: list[Listener] = []
        self._stop_worker = asyncio.Event()
        self._worker_task: asyncio.Task[None] | None = None
        self._pathway_task: asyncio.Task[None] | None = None
        self._rebuild_task: asyncio.Task[None] | None = None
        self._alerts_task: asyncio.Task[None] | None = None
        self._upkeep_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the worker and the enabled listeners; on a failure stop what started, then raise."""
        tables = enabled_listeners(self.hub) if self.run_listeners else []
        if self.run_worker:
            worker = self.hub.make_worker(self.transports)
            self._worker_task = asyncio.create_task(worker.run(self._stop_worker))
            interval = max(0.05, self.hub.config.settings.poll_interval_seconds)
            self._pathway_task = asyncio.create_task(self.hub.pathway.run(self._stop_worker, interval))
            settle = self.hub.config.settings.index_settle_seconds
            tending = tend_index_rebuild(self.hub.store, self.hub.keys, self._stop_worker, settle_seconds=settle)
            self._rebuild_task = asyncio.create_task(tending)
            self._upkeep_task = asyncio.create_task(prune_counters(self.hub.store, self._stop_worker))
        if self.hub.alerts.enabled:  # in every process: one at a time evaluates (a lease in the store)
            self._alerts_task = asyncio.create_task(self.hub.alerts.run(self._stop_worker))
        try:
            await self._start_listeners(tables)
        except BaseException:
            await self.stop()
            raise

    async def _start_listeners(self, tables: Iterable[tuple[str, dict[str, Any]]]) -> None:
        settings = self.hub.config.settings
        intake = self.hub.intake
        for name, options in tables:
            listener = self.hub.plugins.listeners[name]
            context = ListenerContext(submit=intake.submit_body, partners=self.hub.config.partners,
                                      settings=settings, options=options, state_dir=state_dir(settings),
                                      record_refusal=intake.record_refusal)  # fmt: skip
            await listener.start(context)
            self.listeners.append(listener)
            log.info("listener %s started", name)

    async def stop(self) -> None:
        """Stop the listeners (last started first), then the worker, then the transports. Safe to repeat."""
        while self.listeners:
            listener = self.listeners.pop()
            try:
                await listener.stop()
            except Exception:
                log.exception("listener %s failed to stop cleanly", listener.name)
        self._stop_worker.set()
        if self._worker_task is not None:
            task, self._worker_task = self._worker_task, None
            await task
        if self._pathway_task is not None:
            pathway_task, self._pathway_task = self._pathway_task, None
            await pathway_task
        if self._rebuild_task is not None:
            rebuild_task, self._rebuild_task = self._rebuild_task, None
            await rebuild_task
        if self._alerts_task is not None:
            alerts_task, self._alerts_task = self._alerts_task, None
            await alerts_task
        if self._upkeep_task is not None:
            upkeep_task, self._upkeep_task = self._upkeep_task, None
            await upkeep_task
        await self.transports.close()

    async def run_until(self, stop: asyncio.Event) -> None:
        """Start, wait until ``stop`` is set, then stop (what ``hub worker`` does)."""
        async with self:
            await stop.wait()

    async def __aenter__(self) -> HubLifecycle:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.stop()


__all__ = ["HubLifecycle", "enabled_listeners", "state_dir"]
