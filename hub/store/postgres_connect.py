"""Connecting to the PostgreSQL store, and saying where it is when that fails (never with its password)."""

from __future__ import annotations

from typing import Any

import psycopg

from hub.plugin_api.problems import ConfigError
from hub.store.url import SETTING, describe

CONNECT_TIMEOUT_SECONDS = 10
#: libpq settings on every connection the hub holds: a database host that vanishes without closing the
#: connection (a failover, a network that drops packets) is noticed within about 30 s, not after hours
LIVENESS: dict[str, Any] = {
    "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
    "tcp_user_timeout": 30_000,  # milliseconds: data sent but not acknowledged for this long breaks the connection
}  # fmt: skip


def unreachable(url: str, exc: BaseException, setting: str = SETTING) -> ConfigError:
    """The error for a store that cannot be opened: where it is (no password) and why, password scrubbed."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    password = _password(url)
    if password:
        reason = reason.replace(password, "***")
    return ConfigError(f"{setting}: cannot open the PostgreSQL store at {describe(url)}: {reason}")


def _password(url: str) -> str | None:
    """The password in the URL's user info or in a ``password=`` option, if any."""
    rest, _, query = url.partition("://")[2].partition("?")
    for option in query.split("&"):
        name, _, value = option.partition("=")
        if name == "password" and value:
            return value
    return rest.rpartition("@")[0].partition(":")[2] or None


def connect(url: str) -> psycopg.Connection[Any]:
    """One autocommit connection to the store (``ConfigError`` without the password if it fails)."""
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS, **LIVENESS)
    except psycopg.Error as exc:
        raise unreachable(url, exc) from None
