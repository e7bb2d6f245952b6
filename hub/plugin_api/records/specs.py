"""Specifications plugins register: gauges, key providers, schedulers, schemas and HTTP routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hub.plugin_api.records.naming import check_name


@dataclass(frozen=True)
class GaugeSpec:
    """Gauges a plugin adds to ``/metrics``: ``collect(settings)`` returns ``{"name{labels}": value}``.

    With ``with_data=True``, ``collect`` receives the running hub's read-only data
    view (``hub.services.hub_data.HubData``) instead of the settings: a gauge reads
    the hub's store through it, never by opening the store itself.
    """

    name: str
    collect: Callable[[Any], dict[str, float]]
    with_data: bool = False

    def __post_init__(self) -> None:
        check_name("gauge", self.name)


@dataclass(frozen=True)
class KeyProviderSpec:
    """A named way to obtain key-encryption keys: ``open(settings)`` returns the provider."""

    name: str
    open: Callable[[Any], Any]

    def __post_init__(self) -> None:
        check_name("key provider", self.name)


class MilestoneScheduler(Protocol):
    """What decides *when* the hub is told to fire a pathway timer (``hub_register_schedulers``).

    The hub's store is the source of truth for timers; a scheduler only calls the hub back. A timer's id is
    ``f"{milestone_id}.{action}"`` with ``action`` ``remind`` or ``due``: at most 207 characters of
    ``[A-Za-z0-9_.-]``, deterministic, so scheduling it again is recognisably the same timer.
    """

    in_store: bool
    """True for the embedded scheduler (the hub's worker fires due timers from the store itself; ``schedule`` and
    ``cancel`` are never needed); False for an external one: the hub calls ``schedule`` / ``cancel`` after the commit
    that opened / closed a timer, retrying with backoff while ``SchedulerUnavailable`` is raised, and shows the
    syncs still pending (``hub pathway list --pending-syncs``)."""

    def schedule(self, timer_id: str, due_at: datetime, conf: Mapping[str, str]) -> None:
        """Make the scheduler call the hub back at or after ``due_at`` (aware) for ``timer_id``.

        Idempotent: scheduling an id already scheduled is a success. ``conf`` carries only non-personal routing
        data (``timer_id``, ``hub_url``). Raises ``SchedulerUnavailable`` for a fault that may pass.
        """
        ...

    def cancel(self, timer_id: str) -> None:
        """Make sure the scheduler never fires ``timer_id``. Idempotent: an unknown id is a success.

        Raises ``SchedulerUnavailable`` for a fault that may pass.
        """
        ...

    def queued(self) -> dict[str, datetime] | None:
        """``timer_id -> due_at`` of everything the scheduler still holds un-fired (for ``hub pathway reconcile``).

        None when the store is the scheduler (embedded). Raises ``SchedulerUnavailable`` when it cannot be asked.
        """
        ...

    def close(self) -> None:
        """Release connections; the scheduler is not used afterwards."""
        ...


@dataclass(frozen=True)
class SchedulerSpec:
    """A named milestone scheduler, chosen by ``hub.toml`` ``[pathway] scheduler = NAME``.

    ``open(settings)`` returns a ``MilestoneScheduler``; ``settings`` is the ``[pathway.NAME]`` table of
    ``hub.toml`` (a dict, empty when the table is absent), for the scheduler to check: it raises ``ConfigError``
    naming the key for a bad one.
    """

    name: str
    open: Callable[[Mapping[str, Any]], MilestoneScheduler]

    def __post_init__(self) -> None:
        check_name("scheduler", self.name)


@dataclass(frozen=True)
class SchemaSpec:
    """An extra JSON Schema a plugin contributes, by its ``$id`` URI."""

    uri: str
    schema: dict[str, Any]


PLUGIN_ROUTES_PREFIX = "/plugins"


@dataclass(frozen=True)
class RouteSpec:
    """HTTP routes a plugin adds to ``hub serve``: ``router`` (a ``fastapi.APIRouter``) under ``/plugins/NAME``.

    The hub mounts every route of ``router`` under ``prefix`` whatever path it declares, so a plugin cannot
    shadow the hub's own routes or another plugin's. Unless ``public`` is true, every route requires an
    authenticated caller (401 otherwise, before the parameters are looked at); narrow it with the
    dependencies in ``hub.plugin_api.callers`` (``PartnerCaller``, ``OperatorCaller``). With ``public`` the routes need
    no token and the OpenAPI document says so.

    ``background``, when given, is ``async def background(hub, stop)``: a task ``hub serve`` runs while the app
    runs, with the same ``hub`` the routes reach as ``request.app.state.hub``, until the ``asyncio.Event`` ``stop``
    is set (then it must return soon). It must not raise: it logs what fails and carries on. Every ``hub serve``
    process runs it, so what it changes must be safe to do from several processes at once.
    """

    name: str
    router: Any
    public: bool = False
    background: Callable[[Any, Any], Awaitable[None]] | None = None

    def __post_init__(self) -> None:
        check_name("routes", self.name)
        from fastapi import APIRouter  # only a plugin that adds routes pays for importing the web framework

        if not isinstance(self.router, APIRouter):
            raise TypeError(f"routes {self.name!r}: router is a {type(self.router).__name__}, not a fastapi.APIRouter")

    @property
    def prefix(self) -> str:
        """Where the routes are served: ``/plugins/NAME``."""
        return f"{PLUGIN_ROUTES_PREFIX}/{self.name}"
