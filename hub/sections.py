"""Typed reads from the tables of the hub's TOML files, with errors that name the file and the key.

``hub.config`` reads ``hub.toml``, ``partners.toml`` and ``routes.toml`` through
``Section``; the partner directory, routes and reply mappings parse their own
tables with it. It imports nothing of the hub but its errors, so each of those
can import it without importing the others.
"""

from __future__ import annotations

from typing import Any

from hub.plugin_api.problems import ConfigError


class Section:
    """Typed reads from one TOML table, with errors that name file and key."""

    def __init__(self, file: str, prefix: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: {prefix} must be a table")
        self.file, self.prefix, self.data = file, prefix, data
        self.seen: set[str] = set()

    def where(self, key: str) -> str:
        return f"{self.file}: {self.prefix}.{key}" if self.prefix else f"{self.file}: {key}"

    def get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        self.seen.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise ConfigError(f"{self.where(key)}: expected {names}, got {value!r}")
        return value

    def positive(self, key: str, kind: type, default: Any) -> Any:
        value = self.get(key, kind, default)
        if value <= 0:
            raise ConfigError(f"{self.where(key)}: must be greater than 0, got {value!r}")
        return value

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise ConfigError(f"{self.where(unknown[0])}: unknown setting (known: {', '.join(sorted(self.seen))})")
