"""The ``embedded`` milestone scheduler: the hub's store holds the due timers and the worker fires them.

Nothing else runs: ``hub worker`` (and ``hub serve``) look for timers whose time has come and fire them through
the same service the HTTP callback uses, so a timer fires once whichever process or scheduler reaches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hub.plugin_api.problems import ConfigError


class EmbeddedScheduler:
    """The store is the scheduler: ``schedule`` and ``cancel`` have nothing to do, ``queued`` is None."""

    in_store = True

    def schedule(self, timer_id: str, due_at: datetime, conf: Mapping[str, str]) -> None:
        """Nothing to do: the timer is already in the store, which the worker reads."""

    def cancel(self, timer_id: str) -> None:
        """Nothing to do: a closed timer is closed in the store, which the worker reads."""

    def queued(self) -> dict[str, datetime] | None:
        """None: there is no second record of what is due to compare with the store's."""
        return None

    def close(self) -> None:
        """Nothing to release."""


def open_embedded_scheduler(settings: Mapping[str, Any]) -> EmbeddedScheduler:
    """Open the embedded scheduler; ``[pathway.embedded]`` takes no settings."""
    if settings:
        raise ConfigError(f"hub.toml: pathway.embedded.{sorted(settings)[0]}: unknown setting (the embedded "
                          "scheduler takes none)")  # fmt: skip
    return EmbeddedScheduler()
