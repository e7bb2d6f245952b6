"""The PostgreSQL store's connection pools, and what their faults mean to a caller.

Every connection the store uses for reads and writes comes from a ``psycopg_pool`` pool whose wait
is bounded (``[store] pool_timeout_seconds``): a caller never waits longer for a connection, so an
exhausted pool or a database that is down is a prompt error, not a hang. The pool reconnects by
itself: an attempt that fails is repeated after 1 s, then 2 s, for ``RECONNECT_SECONDS`` in all,
after which the next caller starts a new attempt at once; a connection found broken is replaced.

``Pools.unavailable(exc)`` turns a fault of the database or the pool (``psycopg.OperationalError``,
``PoolTimeout`` among them) into ``StoreUnavailable`` with a reason safe to show anyone (no host,
user or password), and logs the database's own words for the operator (password scrubbed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from hub.plugin_api.problems import StoreUnavailable
from hub.store.ports import StoreOptions
from hub.store.postgres_connect import CONNECT_TIMEOUT_SECONDS, LIVENESS, unreachable

log = logging.getLogger("hub.store")

#: how long the pool keeps retrying one connection (after 1 s, then 2 s) before the next caller starts afresh
RECONNECT_SECONDS = 3.0
#: how long ``ping`` (``/readyz``) waits for a connection at most: an outage shows within this
PING_WAIT_SECONDS = 2.0
#: what a 503 asks senders to wait before sending again (``Retry-After``)
RETRY_AFTER_SECONDS = 5
#: a fault that persists is logged again after this long
LOG_EVERY_SECONDS = 5.0
#: set on every connection of the pools: plan each execution of a prepared statement for its own arguments
#: (see ``plan_each_execution``)
SESSION_SETTINGS = "SET plan_cache_mode = force_custom_plan"


def plan_each_execution(conn: psycopg.Connection[Any]) -> None:
    """Make the server plan every execution of a prepared statement for its arguments (the pools' ``configure``).

    psycopg prepares a statement on the server after its fifth execution, and the server then switches to one
    generic plan when that looks no dearer than the plans made so far. The store's statements take arrays
    (``unnest``, ``= ANY``) of any length, and their first executions run on a young database: the generic plan
    then scans whole tables, and kept doing so as the tables grew (measured, docs/performance.md: on a fresh
    database the insert of ordered deliveries scanned messages twice and deliveries once for every delivery it
    inserted, and one hub process delivered a quarter of what it does with custom plans). A plan made for each
    execution costs a fraction of a millisecond and follows the tables as they grow.
    """
    conn.execute(SESSION_SETTINGS)


class Reachability:
    """What the pools' last attempt to connect found: ``failed_at`` is None after a success, else when it failed."""

    def __init__(self) -> None:
        self.failed_at: float | None = None

    def connection_class(self) -> type[psycopg.Connection[Any]]:
        """A connection class that notes each connect's success or failure here."""
        reach = self

        class Noting(psycopg.Connection[Any]):
            @classmethod
            def connect(cls, conninfo: str = "", **kwargs: Any) -> Noting:
                try:
                    conn = super().connect(conninfo, **kwargs)
                except psycopg.Error:
                    reach.failed_at = time.monotonic()
                    raise
                reach.failed_at = None
                return conn

        return Noting


class Pools:
    """The read pool (``options.pool_size`` connections, checked before use) and the writer's own pool of one."""

    def __init__(self, url: str, options: StoreOptions) -> None:
        self.url = url
        self.options = options
        self.reach = Reachability()
        self._logged: dict[str, float] = {}
        # a connection broken by a restart is found and replaced before a reader gets it (one empty round trip)
        self.read = self._pool("hub-store-read", options.pool_size, ConnectionPool.check_connection)
        # the writer's connection, in a pool of one so that a broken one is replaced: readers never starve it
        self.write = self._pool("hub-store-write", 1, None)

    def _pool(self, name: str, size: int, check: Any) -> ConnectionPool[Any]:
        return ConnectionPool(
            self.url, min_size=1, max_size=size, timeout=self.options.pool_timeout_seconds, open=True, name=name,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS, **LIVENESS},
            connection_class=self.reach.connection_class(), reconnect_timeout=RECONNECT_SECONDS, check=check,
            configure=plan_each_execution,
        )  # fmt: skip

    @contextmanager
    def reading(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        """A read connection, waiting ``timeout`` (else ``pool_timeout_seconds``) at most.

        A fault of the database or the pool, getting the connection or using it, is ``StoreUnavailable``.
        """
        try:
            with self.read.connection(timeout=timeout) as conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise self.unavailable(exc) from exc

    def unavailable(self, exc: BaseException) -> StoreUnavailable:
        """``StoreUnavailable`` for a fault of the database or of a pool, with its reason; logged for the operator."""
        if isinstance(exc, PoolTimeout):
            if self.reach.failed_at is None:
                reason = f"no database connection came free within {self.options.pool_timeout_seconds:g} s"
            else:
                reason = "the database cannot be reached"
        else:
            state = getattr(exc, "sqlstate", None) or ""
            if state.startswith("57P"):
                reason = "the database is shutting down or restarting"
            elif state.startswith("53"):
                reason = "the database is out of resources"
            elif state == "" or state.startswith("08"):
                reason = "the connection to the database was lost"
            else:
                reason = "the database could not do the operation now"
        now = time.monotonic()
        if self._logged.get(reason, 0.0) + LOG_EVERY_SECONDS <= now:  # one line per fault every few seconds
            self._logged[reason] = now
            log.warning("store unavailable: %s (%s)", reason, unreachable(self.url, exc))
        return StoreUnavailable(reason, RETRY_AFTER_SECONDS)

    def close(self) -> None:
        """Close both pools."""
        self.write.close()
        self.read.close()


def fetch(conn: psycopg.Connection[Any], statement: str, args: Any = (), mapping: bool = False) -> list[Any]:
    """The rows of one statement on ``conn``: tuples, or with ``mapping`` dicts keyed by column name."""
    cursor = conn.cursor(row_factory=dict_row) if mapping else conn.cursor()
    rows: list[Any] = cursor.execute(statement, args).fetchall()
    return rows
