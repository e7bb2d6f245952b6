"""What the pathway's behavioural suite shares: the scheduler backends, a pathway world, polling (issue 11).

``scheduler_backend`` is parametrised over ``BACKENDS``: each entry names a ``SchedulerBackend`` factory. The
hub's own ``embedded`` backend is the one given here; an external backend (the Airflow plugin's) adds itself by
adding an entry to ``BACKENDS`` (as ``"airflow": "pathway.airflow_backend:AirflowBackend"`` does,
a ``module:callable`` path imported when the parameter is used, so that this file needs nothing installed).

A ``SchedulerBackend`` gives:

- ``name``: the scheduler's registered name (``[pathway] scheduler``);
- ``hub_settings(hub_url, scheduler_token) -> dict``: the ``[pathway.NAME]`` table for ``hub.toml`` (``{}`` for
  embedded); ``scheduler_token`` is the token of the world's scheduler identity, for the scheduler's callbacks;
- ``external``: whether an external scheduler holds queued runs;
- ``queued() -> dict[str, datetime] | None``: what the scheduler holds now (None for embedded);
- ``drop(timer_id)`` and ``inject(timer_id, due_at)``: make drift behind the hub's back (external only);
- ``restart()``: stop and start the scheduler, keeping what it holds (external only);
- ``scheduler_token`` (optional): the token the scheduler calls the hub back with, when it is not the hub's to
  choose (Airflow's workers hold theirs);
- ``slack``: seconds the scheduler may add before a due timer reaches the hub (an Airflow task takes seconds to
  start on a busy machine), added to the gaps and waits that depend on it;
- ``pathway_settings``: more ``[pathway]`` keys for the world's ``hub.toml`` (quicker sync backoff);
- ``stop()`` and ``start()``: take the scheduler down and bring it back (external only);
- ``close()``: stop what the backend started.

Due times are seconds away; no test sleeps long: each polls what it waits for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hub.testing.world import HubWorld

BACKENDS: dict[str, str] = {
    "embedded": "pathway.kit:EmbeddedBackend",
    "airflow": "pathway.airflow_backend:AirflowBackend",
}
"""Backend name -> ``module:callable`` taking the pytest request and returning a ``SchedulerBackend`` (see the
module docstring)."""


class EmbeddedBackend:
    """The hub's own scheduler: the store holds the timers and the worker fires them."""

    name = "embedded"
    external = False
    slack = 0.0
    pathway_settings: dict[str, Any] = {}

    def __init__(self, request: Any = None) -> None:
        pass

    def hub_settings(self, hub_url: str, scheduler_token: str) -> dict[str, Any]:
        return {}

    def queued(self) -> dict[str, datetime] | None:
        return None

    def drop(self, timer_id: str) -> None:
        raise NotImplementedError("the embedded scheduler has no second record to drift")

    def inject(self, timer_id: str, due_at: datetime) -> None:
        raise NotImplementedError("the embedded scheduler has no second record to drift")

    def restart(self) -> None:
        raise NotImplementedError("the embedded scheduler is the hub's worker")

    def stop(self) -> None:
        raise NotImplementedError("the embedded scheduler is the hub's worker")

    def start(self) -> None:
        raise NotImplementedError("the embedded scheduler is the hub's worker")

    def close(self) -> None:
        pass


def milestone_toml(due_seconds: float, remind_seconds: float | None = None, name: str = "follow-up") -> str:
    """A ``pathways.toml`` with one milestone: a DischargeNotice starts it, due ``due_seconds`` after it was
    received, its sender responsible, met by a performed FollowUp of kind 72h."""
    remind = f'remind_before = "{int(remind_seconds)}s"\n' if remind_seconds else ""
    return f"""timezone = "Europe/London"

[[milestone]]
name = "{name}"
start = {{ type = "DischargeNotice", on = "received" }}
due = {{ after = "{int(due_seconds)}s", from = "event" }}
{remind}responsible = "sender"
closed_by = [{{ type = "FollowUp", when = [{{ field = "payload.kind", equals = "72h" }},
                                         {{ field = "payload.performed_at", exists = true }}] }}]
on_breach = {{ notify = ["responsible"] }}

[[close_pathway]]
reason = "consent-withdrawn"
type = "Acknowledgement"
when = [{{ field = "payload.reason_code", equals = "consent_withdrawn" }}]
"""


@dataclass
class PathwayWorld:
    """A running hub with a pathway, its scheduler backend and a scheduler identity's token."""

    world: HubWorld
    backend: Any
    scheduler_token: str

    def pathway(self, correlation_id: str, who: str = "ops") -> dict[str, Any] | None:
        response = self.world.get(who, f"/v1/pathways/{correlation_id}")
        return response.json() if response.status_code == 200 else None

    def milestone(self, correlation_id: str) -> dict[str, Any] | None:
        view = self.pathway(correlation_id)
        return view["milestones"][0] if view and view["milestones"] else None

    def fire(self, timer_id: str, token: str | None = None) -> Any:
        import requests

        headers = {"Authorization": f"Bearer {token or self.scheduler_token}"}
        return requests.post(f"{self.world.hub.url}/v1/pathway/timers/{timer_id}/fire", json={}, headers=headers,
                             timeout=10)  # fmt: skip


def wait_until(check: Callable[[], Any], timeout: float = 20.0, every: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy (returned) or ``timeout`` passes (None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    return None


def write_pathway_settings(
    config_dir: Path, name: str, table: dict[str, Any], digest: str, extra: dict[str, Any] | None = None
) -> None:
    """Set ``[pathway]`` in the world's ``hub.toml``: the scheduler, its table, a scheduler identity, and ``extra``
    keys."""
    import tomllib

    from hub.testing.toml_writer import dumps

    path = config_dir / "hub.toml"
    data = tomllib.loads(path.read_text())
    data["pathway"] = {"scheduler": name, **(extra or {}), **({name: table} if table else {}),
                       "scheduler_identities": [{"name": "test-scheduler", "token_sha256": digest}]}  # fmt: skip
    path.write_text(dumps(data))
