"""Fresh PostgreSQL databases for tests, and the store backend a test run asks for (``HUB_TEST_STORE``).

``HUB_TEST_STORE=postgresql`` makes ``build_world`` (and so the ``hub_world`` fixtures of the pytest
plugin) put each world's store in a fresh database on the server of ``HUB_TEST_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/test``), unless the world's settings name a store
themselves; unset, or ``sqlite``, keeps the embedded SQLite file. A third-party plugin's suite runs
on PostgreSQL the same way.

Databases are named ``hubtest_pg_<random>`` and dropped when the test process ends (``atexit``), or
at once with ``drop_postgres_database``. Without a reachable server, ``postgres_server`` skips the
test with the reason, or fails it when ``HUB_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import atexit
import os
import uuid

from hub.store.url import describe

POSTGRES_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
DATABASE_PREFIX = "hubtest_pg_"
STORES = ("sqlite", "postgresql")

_made: list[str] = []


def test_store() -> str:
    """The backend this test run asks for: ``HUB_TEST_STORE`` (``sqlite`` when unset).

    An unknown value is refused with the values this kit knows, so a typo never silently tests SQLite.
    """
    store = os.environ.get("HUB_TEST_STORE", "sqlite") or "sqlite"
    if store not in STORES:
        raise ValueError(f"HUB_TEST_STORE={store!r}: the test kit knows {', '.join(STORES)}")
    return store


def postgres_server() -> str:
    """The URL of the test server's maintenance database; skip (or fail with HUB_REQUIRE_SERVICES=1) if none."""
    import psycopg
    import pytest

    try:
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = f"no PostgreSQL at {describe(POSTGRES_URL)} (set HUB_TEST_POSTGRES_URL): {type(exc).__name__}"
        if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
            pytest.fail(f"HUB_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    return POSTGRES_URL


def database_url(name: str) -> str:
    """The test server's URL with another database name."""
    base, _, query = POSTGRES_URL.partition("?")
    return f"{base.rpartition('/')[0]}/{name}" + (f"?{query}" if query else "")


def fresh_postgres_database(_: object = None) -> str:
    """Create an empty database on the test server; its URL. It is dropped when this process ends."""
    import psycopg
    from psycopg import sql

    name = DATABASE_PREFIX + uuid.uuid4().hex[:16]
    with psycopg.connect(postgres_server(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = database_url(name)
    if not _made:
        atexit.register(_drop_all)
    _made.append(url)
    return url


def drop_postgres_database(url: str) -> None:
    """Drop a database ``fresh_postgres_database`` made (closing whatever is still connected to it)."""
    import psycopg
    from psycopg import sql

    name = url.partition("?")[0].rpartition("/")[2]
    if not name.startswith(DATABASE_PREFIX):
        raise ValueError(f"{name!r} is not a database this kit made ({DATABASE_PREFIX}...)")
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    if url in _made:
        _made.remove(url)


def _drop_all() -> None:
    for url in list(_made):
        try:
            drop_postgres_database(url)
        except Exception:  # the server went away: nothing left to clean here
            _made.remove(url)
