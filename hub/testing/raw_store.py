"""Reaching behind a test world's hub into its store, whatever the backend (``HUB_TEST_STORE``): test kit.

``raw_store(world)`` is a connection to the world's store (the SQLite file, or the PostgreSQL
database of ``store.url``) with ``execute(statement, args)`` taking ``?`` placeholders, and
``commit()``: what the protection tests use to look at what is stored, or to tamper with it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from hub.config import load_settings
from hub.store.url import SQLITE, sqlite_path


class _Postgres:
    """A psycopg connection in autocommit that takes ``?`` placeholders as sqlite3 does."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)

    def execute(self, statement: str, args: tuple[Any, ...] = ()) -> Any:
        return self.conn.execute(statement.replace("?", "%s"), args)

    def commit(self) -> None:
        """Nothing: every statement is committed as it runs."""


def raw_store(world: Any) -> Any:
    """A connection to ``world``'s store, behind the hub's back."""
    url = load_settings(world.config_dir).store_url
    if url.startswith(f"{SQLITE}:"):
        return sqlite3.connect(sqlite_path(url))
    return _Postgres(url)
