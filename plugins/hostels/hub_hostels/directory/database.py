"""Where the service directory is kept: tables the hostels plugin owns, on SQLite or PostgreSQL.

The directory is not the hub's store: it is the plugin's own data (services and their capacity, never
people), kept beside it. ``database_url(settings)`` says where:

- ``[plugins.hostels] directory_database = "URL"`` when set (``sqlite:///path`` or ``postgresql://...``);
- otherwise, for a hub whose store is PostgreSQL, that same database (tables named ``hostels_directory_*``,
  so every hub process, on any machine, sees one directory);
- otherwise a SQLite file ``directory.db`` in the hub's state directory (``[store] state_dir``).

``open_directory(url)`` opens it and creates the tables once (``DirectoryDatabase.ensure_schema``: a schema
version in ``hostels_schema``; an opening that finds it current runs no DDL, and processes starting together
create the tables once, under an advisory lock on PostgreSQL). Each ``DirectoryDatabase`` method is one
transaction. Writers never hold a transaction open across network calls: an import writes each page's
services in one short transaction after fetching them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub import use_wal
from hub_hostels.directory.records import Capacity, DirectoryService

PREFIX = "hostels_directory_"
SCHEMA = [
    f"""CREATE TABLE IF NOT EXISTS {PREFIX}service (
        id            TEXT PRIMARY KEY,
        feed          TEXT NOT NULL,
        name          TEXT NOT NULL,
        status        TEXT NOT NULL,
        digest        TEXT NOT NULL,
        summary       TEXT NOT NULL,
        first_seen_at DOUBLE PRECISION NOT NULL,
        changed_at    DOUBLE PRECISION NOT NULL,
        seen_at       DOUBLE PRECISION NOT NULL,
        last_run      TEXT NOT NULL,
        withdrawn_at  DOUBLE PRECISION
    )""",
    f"CREATE INDEX IF NOT EXISTS {PREFIX}service_feed_run ON {PREFIX}service (feed, last_run)",
    f"""CREATE TABLE IF NOT EXISTS {PREFIX}capacity (
        service_id  TEXT NOT NULL,
        unit        TEXT NOT NULL,
        available   DOUBLE PRECISION NOT NULL,
        maximum     DOUBLE PRECISION,
        updated     TEXT,
        description TEXT,
        source      TEXT NOT NULL,
        recorded_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (service_id, unit)
    )""",
    f"""CREATE TABLE IF NOT EXISTS {PREFIX}run (
        feed        TEXT PRIMARY KEY,
        run_id      TEXT NOT NULL,
        finished_at DOUBLE PRECISION NOT NULL,
        complete    INTEGER NOT NULL,
        report      TEXT NOT NULL
    )""",
]
SCHEMA_VERSION = 1
VERSIONS = "hostels_schema"
"""The table of the plugin's schema versions: one row per part (``directory``, ``offers``)."""
DEFAULT_FILE = "directory.db"


def database_url(settings: Any) -> str:
    """Where this hub's directory is kept (see the module's docstring)."""
    configured = (getattr(settings, "plugin_settings", {}) or {}).get("hostels", {}).get("directory_database")
    if configured is not None:
        if not isinstance(configured, str) or not configured.startswith(("sqlite:///", "postgresql://")):
            raise ValueError("hub.toml: plugins.hostels.directory_database must be a URL, sqlite:///PATH or "
                             "postgresql://...")  # fmt: skip
        if configured.startswith("sqlite:///") and not Path(configured[len("sqlite:///") :]).is_absolute():
            return f"sqlite:///{(Path(settings.config_dir) / configured[len('sqlite:///') :]).resolve()}"
        return configured
    store_url = str(getattr(settings, "store_url", ""))
    if store_url.startswith(("postgresql://", "postgres://")):
        return store_url
    return f"sqlite:///{Path(settings.state_dir) / DEFAULT_FILE}"


@dataclass(frozen=True)
class StoredService:
    """One service as the directory holds it, with when it was seen and changed (epoch seconds)."""

    service: DirectoryService
    feed: str
    first_seen_at: float
    changed_at: float
    seen_at: float
    withdrawn_at: float | None

    @property
    def withdrawn(self) -> bool:
        """True when a complete listing of its feed no longer named it, or its feed says it is closed."""
        return self.withdrawn_at is not None


@dataclass(frozen=True)
class StoredCapacity:
    """One capacity figure with where it came from (``feed`` or ``partner:ID``) and when it was recorded."""

    service_id: str
    capacity: Capacity
    source: str
    recorded_at: float


@dataclass(frozen=True)
class UpsertCounts:
    """What writing one batch of services did."""

    added: int = 0
    changed: int = 0
    unchanged: int = 0


class DirectoryDatabase:
    """The directory's tables on one connection (SQLite or PostgreSQL); thread-safe, one lock."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self._conn = conn
        self._dialect = dialect
        self._lock = threading.Lock()

    # -- plumbing -----------------------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self._dialect == "postgresql" else text

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock:
            if self._dialect == "postgresql":
                with self._conn.transaction():
                    yield self._conn.cursor()
            else:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn.cursor()
                    self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:  # a failed COMMIT (disk full, I/O) leaves it open: end it
                        self._conn.execute("ROLLBACK")
                    raise

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._transaction() as cursor:
            cursor.execute(self._sql(sql), tuple(params))
            return list(cursor.fetchall())

    def create(self) -> None:
        """Create the directory's tables once (``ensure_schema``, part ``directory``)."""
        self.ensure_schema("directory", SCHEMA_VERSION, lambda cursor: [cursor.execute(s) for s in SCHEMA])

    def schema_version(self, part: str) -> int | None:
        """The schema version of ``part`` recorded in ``hostels_schema``, or None (no table, or no row)."""
        with self._transaction() as cursor:
            return self._recorded_version(cursor, part)

    def _recorded_version(self, cursor: Any, part: str) -> int | None:
        if self._dialect == "postgresql":
            cursor.execute(f"SELECT to_regclass('{VERSIONS}') IS NOT NULL")
        else:
            cursor.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSIONS,))
        if not cursor.fetchone()[0]:
            return None
        cursor.execute(self._sql(f"SELECT version FROM {VERSIONS} WHERE part = ?"), (part,))
        row = cursor.fetchone()
        return None if row is None else int(row[0])

    def ensure_schema(self, part: str, version: int, apply: Callable[[Any], Any]) -> None:
        """Run ``apply(cursor)`` (the DDL of ``part``'s tables) once per database and schema version.

        The version recorded in ``hostels_schema`` is read first with plain reads: when it is ``version`` or newer
        (a process of older code beside newer), no DDL
        runs at all. A ``CREATE ... IF NOT EXISTS`` or ``ALTER TABLE`` on PostgreSQL locks its table even when
        it changes nothing, so running them at every opening made processes wait for (and deadlock with) each
        other's transactions. Otherwise, under an advisory lock on PostgreSQL (``BEGIN IMMEDIATE`` on SQLite),
        the version is read again, and only when still older ``apply`` runs and the version is recorded, in one
        transaction: processes starting together create the tables once. ``apply`` must take a database made
        by any earlier version (``IF NOT EXISTS``, columns looked up before they are added).
        """
        with self._transaction() as cursor:
            if (self._recorded_version(cursor, part) or 0) >= version:  # a newer version is never taken back
                return
        with self._transaction() as cursor:
            if self._dialect == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext('hostels_schema'))")
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {VERSIONS} (part TEXT PRIMARY KEY, version INTEGER NOT NULL)")
            if (self._recorded_version(cursor, part) or 0) >= version:  # a newer version is never taken back
                return
            apply(cursor)
            cursor.execute(self._sql(f"DELETE FROM {VERSIONS} WHERE part = ?"), (part,))
            cursor.execute(self._sql(f"INSERT INTO {VERSIONS} (part, version) VALUES (?, ?)"), (part, version))

    def close(self) -> None:
        """Close the connection (after the transaction another thread may be in)."""
        with self._lock:
            self._conn.close()

    @property
    def broken(self) -> bool:
        """True when the connection can no longer be used (PostgreSQL: closed, or lost with the server)."""
        return self._dialect == "postgresql" and bool(self._conn.closed or self._conn.broken)

    # -- services -----------------------------------------------------------------------------------
    def upsert(self, feed: str, services: Sequence[DirectoryService], run_id: str, now: float) -> UpsertCounts:
        """Write one batch of a feed's services in one transaction: new ones added, changed ones replaced.

        A service is changed when its document's digest differs. Every service written is marked seen in
        ``run_id`` and, unless its feed says it is closed, no longer withdrawn (a service that comes back is
        taken back). Capacity the feed publishes replaces the feed's earlier figure for that unit, and a
        provider's own figure only when the feed's ``updated`` is later than when the provider recorded it.
        """
        if not services:
            return UpsertCounts()
        added = changed = unchanged = 0
        by_id = {s.id: s for s in services}
        with self._transaction() as cursor:
            marks = ",".join("?" for _ in by_id)
            cursor.execute(self._sql(f"SELECT id, digest, withdrawn_at FROM {PREFIX}service WHERE id IN ({marks})"),
                           tuple(by_id))  # fmt: skip
            known = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
            for service in by_id.values():
                summary = json.dumps(service.summary(), sort_keys=True)
                withdrawn = now if service.closed else None
                if service.id not in known:
                    added += 1
                    cursor.execute(self._sql(
                        f"INSERT INTO {PREFIX}service (id, feed, name, status, digest, summary, first_seen_at, "
                        "changed_at, seen_at, last_run, withdrawn_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                        (service.id, feed, service.name, service.status, service.digest, summary, now, now, now,
                         run_id, withdrawn))  # fmt: skip
                elif known[service.id][0] != service.digest or (known[service.id][1] is None) != (withdrawn is None):
                    changed += 1
                    was_withdrawn = known[service.id][1]
                    cursor.execute(self._sql(
                        f"UPDATE {PREFIX}service SET feed = ?, name = ?, status = ?, digest = ?, summary = ?, "
                        "changed_at = ?, seen_at = ?, last_run = ?, withdrawn_at = ? WHERE id = ?"),
                        (feed, service.name, service.status, service.digest, summary, now, now, run_id,
                         (was_withdrawn or withdrawn) if service.closed else None, service.id))  # fmt: skip
                else:
                    unchanged += 1
                    cursor.execute(self._sql(f"UPDATE {PREFIX}service SET seen_at = ?, last_run = ? WHERE id = ?"),
                                   (now, run_id, service.id))  # fmt: skip
                for capacity in service.capacities:
                    self._feed_capacity(cursor, service.id, capacity, now)
        return UpsertCounts(added, changed, unchanged)

    def _feed_capacity(self, cursor: Any, service_id: str, capacity: Capacity, now: float) -> None:
        cursor.execute(self._sql(f"SELECT source, recorded_at, updated FROM {PREFIX}capacity "
                                 "WHERE service_id = ? AND unit = ?"), (service_id, capacity.unit))  # fmt: skip
        row = cursor.fetchone()
        if row is not None and row[0] != "feed":
            feed_time = _epoch(capacity.updated)
            if feed_time is None or feed_time <= float(row[1]):
                return  # the provider's own figure is newer than what the feed publishes
        self._put_capacity(cursor, service_id, capacity, "feed", now)

    def _put_capacity(self, cursor: Any, service_id: str, capacity: Capacity, source: str, now: float) -> None:
        cursor.execute(self._sql(
            f"INSERT INTO {PREFIX}capacity (service_id, unit, available, maximum, updated, description, source, "
            "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (service_id, unit) DO UPDATE SET "
            "available = excluded.available, maximum = excluded.maximum, updated = excluded.updated, "
            "description = excluded.description, source = excluded.source, recorded_at = excluded.recorded_at"),
            (service_id, capacity.unit, capacity.available, capacity.maximum, capacity.updated,
             capacity.description, source, now))  # fmt: skip

    def keep_seen(self, service_ids: Sequence[str], run_id: str, now: float) -> int:
        """Mark services listed in ``run_id`` but not fetched (a failed fetch) as seen, changing nothing else.

        A failed fetch is never taken as a deletion: the service keeps what the directory last read of it.
        Returns how many of them the directory held.
        """
        if not service_ids:
            return 0
        with self._transaction() as cursor:
            marks = ",".join("?" for _ in service_ids)
            cursor.execute(self._sql(f"UPDATE {PREFIX}service SET last_run = ? WHERE id IN ({marks})"),
                           (run_id, *service_ids))  # fmt: skip
            return int(cursor.rowcount)

    def withdraw_unseen(self, feed: str, run_id: str, now: float) -> list[str]:
        """Mark withdrawn every service of ``feed`` that ``run_id`` did not list; return their ids.

        Call it only after a complete, successful listing. Nothing is deleted: the record stays, with
        ``withdrawn_at``, and comes back if a later listing names it again.
        """
        with self._transaction() as cursor:
            cursor.execute(self._sql(f"SELECT id FROM {PREFIX}service WHERE feed = ? AND last_run <> ? "
                                     "AND withdrawn_at IS NULL ORDER BY id"), (feed, run_id))  # fmt: skip
            ids = [row[0] for row in cursor.fetchall()]
            cursor.execute(self._sql(f"UPDATE {PREFIX}service SET withdrawn_at = ?, changed_at = ? WHERE feed = ? "
                                     "AND last_run <> ? AND withdrawn_at IS NULL"),
                           (now, now, feed, run_id))  # fmt: skip
        return ids

    def record_run(self, feed: str, run_id: str, complete: bool, report: dict[str, Any], now: float) -> None:
        """Keep the latest run of ``feed`` (for ``hub directory list`` and the refresh schedule)."""
        with self._transaction() as cursor:
            cursor.execute(self._sql(
                f"INSERT INTO {PREFIX}run (feed, run_id, finished_at, complete, report) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (feed) DO UPDATE SET run_id = excluded.run_id, finished_at = excluded.finished_at, "
                "complete = excluded.complete, report = excluded.report"),
                (feed, run_id, now, 1 if complete else 0, json.dumps(report, sort_keys=True)))  # fmt: skip

    def runs(self) -> list[dict[str, Any]]:
        """The latest run of each feed: feed, finished_at, complete and the run's report."""
        rows = self._rows(f"SELECT feed, finished_at, complete, report FROM {PREFIX}run ORDER BY feed")
        return [{"feed": r[0], "finished_at": float(r[1]), "complete": bool(r[2]), "report": json.loads(r[3])}
                for r in rows]  # fmt: skip

    _COLUMNS = "id, feed, digest, summary, first_seen_at, changed_at, seen_at, withdrawn_at"

    @staticmethod
    def _stored(row: tuple[Any, ...]) -> StoredService:
        service = DirectoryService.from_summary(json.loads(row[3]), row[2])
        return StoredService(service, row[1], float(row[4]), float(row[5]), float(row[6]),
                             None if row[7] is None else float(row[7]))  # fmt: skip

    def get(self, service_id: str) -> StoredService | None:
        """One service by the feed's id, withdrawn or not; None when the directory never held it."""
        rows = self._rows(f"SELECT {self._COLUMNS} FROM {PREFIX}service WHERE id = ?", (service_id,))
        return self._stored(rows[0]) if rows else None

    def services(self, *, include_withdrawn: bool = False, batch: int = 1000) -> Iterator[StoredService]:
        """Every service in id order, read ``batch`` at a time (bounded memory whatever the directory's size)."""
        after = ""
        withdrawn = "" if include_withdrawn else " AND withdrawn_at IS NULL"
        while True:
            rows = self._rows(f"SELECT {self._COLUMNS} FROM {PREFIX}service WHERE id > ?{withdrawn} "
                              f"ORDER BY id LIMIT {int(batch)}", (after,))  # fmt: skip
            for row in rows:
                yield self._stored(row)
            if len(rows) < batch:
                return
            after = rows[-1][0]

    def count(self) -> tuple[int, int]:
        """(services held, of which withdrawn)."""
        row = self._rows(f"SELECT count(*), count(withdrawn_at) FROM {PREFIX}service")[0]
        return int(row[0]), int(row[1])

    # -- capacity -----------------------------------------------------------------------------------
    def capacities(self, service_id: str) -> list[StoredCapacity]:
        """The capacity figures of one service, by unit."""
        rows = self._rows(f"SELECT unit, available, maximum, updated, description, source, recorded_at "
                          f"FROM {PREFIX}capacity WHERE service_id = ? ORDER BY unit", (service_id,))  # fmt: skip
        return [StoredCapacity(service_id, Capacity(r[0], float(r[1]), None if r[2] is None else float(r[2]), r[3],
                                                    r[4]), r[5], float(r[6])) for r in rows]  # fmt: skip

    def set_capacity(self, service_id: str, capacity: Capacity, source: str, now: float) -> None:
        """Record a provider's figure for one unit of a service (replacing the unit's earlier figure)."""
        with self._transaction() as cursor:
            self._put_capacity(cursor, service_id, capacity, source, now)


def _epoch(text: str | None) -> float | None:
    from datetime import datetime

    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def open_directory(url: str) -> DirectoryDatabase:
    """Open the directory at ``url`` (creating its tables when missing); close it with ``close()``."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            use_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            conn.close()
            raise
        database = DirectoryDatabase(conn, "sqlite")
    elif url.startswith(("postgresql://", "postgres://")):
        import psycopg

        database = DirectoryDatabase(psycopg.connect(url, autocommit=True, connect_timeout=10), "postgresql")
    else:
        raise ValueError("the directory database (hub.toml: plugins.hostels.directory_database, else the store's "
                         "url) must be sqlite:///PATH or postgresql://...")  # fmt: skip
    try:
        database.create()
    except BaseException:
        database.close()
        raise
    return database


def now() -> float:
    """The current time in epoch seconds (one place, so tests read the same clock)."""
    return time.time()
