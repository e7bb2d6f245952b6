"""The store's schema version, for ``hub db status`` and ``hub db upgrade``, whatever the backend.

Every backend applies its pending migrations when it is opened (``open_store``); these let an
operator see the version first, and upgrade without starting the hub (before a rolling
restart, say). Each backend's module in ``url.SCHEMAS`` provides ``schema_status(url)`` and
``upgrade_schema(url)``; nothing here needs the keys.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from hub.store.url import SCHEMAS, SETTING, scheme_of


@dataclass(frozen=True)
class SchemaStatus:
    """The version a store's schema is at (0: not created yet) and the latest this hub knows."""

    current: int
    latest: int

    @property
    def up_to_date(self) -> bool:
        """True when no migration is pending."""
        return self.current >= self.latest


def _module(url: str, setting: str) -> object:
    return importlib.import_module(SCHEMAS[scheme_of(url, setting)])


def schema_status(url: str, *, setting: str = SETTING) -> SchemaStatus:
    """The schema version of the store ``url`` names, without changing anything (a missing SQLite file: 0)."""
    current, latest = _module(url, setting).schema_status(url)  # type: ignore[attr-defined]
    return SchemaStatus(current, latest)


def upgrade_schema(url: str, *, setting: str = SETTING) -> tuple[SchemaStatus, SchemaStatus]:
    """Apply the pending migrations (creating the store if need be); the status before and after."""
    before, after = _module(url, setting).upgrade_schema(url)  # type: ignore[attr-defined]
    return SchemaStatus(*before), SchemaStatus(*after)
