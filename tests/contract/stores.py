"""Stores for tests: one backend by name, on a fresh temporary database, with real keys.

``BACKENDS`` maps a backend's name to a ``Backend``: how to make a URL for a fresh,
empty store of that kind, and how to run a statement on it behind the store's back
(only the audit tests do that: they tamper with the log to see ``verify_audit`` notice),
and how to drop it afterwards. Nothing else in the contract suite names a backend.

``postgresql``: a fresh database per test (``hub.testing.postgres``: ``hubtest_pg_<random>``) on the server of
``HUB_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``), dropped
after the test. Without a reachable server those tests are skipped with the reason, or fail
when ``HUB_REQUIRE_SERVICES=1``.

``open_test_store(tmp_path)`` is also what a unit test of the router or intake uses to
get a real store without starting a process (see ``test_intake_on_a_store.py``).
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.bodies import CodecRegistry
from hub.crypto.at_rest import AesGcmCodec
from hub.crypto.keyring import FileKeyRing
from hub.plugin_api.events import HubEvent
from hub.store import Intake, NewDelivery, NewMessage, Store, open_store
from hub.store.url import sqlite_path, sqlite_url
from hub.testing.postgres import drop_postgres_database, fresh_postgres_database

PASSPHRASE = "contract-suite-passphrase"


@dataclass(frozen=True)
class Backend:
    """How the suite gets a fresh store of one kind, and raw access to it."""

    fresh_url: Callable[[Path], str]
    execute: Callable[[str, str, tuple[Any, ...]], int]  # (url, statement, args) -> rows changed
    drop: Callable[[str], None] = lambda url: None  # remove what fresh_url made


def _sqlite_execute(url: str, statement: str, args: tuple[Any, ...]) -> int:
    conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
    try:
        return conn.execute(statement, args).rowcount
    finally:
        conn.close()


def _postgres_execute(url: str, statement: str, args: tuple[Any, ...]) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(statement.replace("?", "%s"), args).rowcount


BACKENDS: dict[str, Backend] = {
    "sqlite": Backend(lambda tmp: sqlite_url(tmp / "store" / "hub.db"), _sqlite_execute),
    "postgresql": Backend(fresh_postgres_database, _postgres_execute, drop_postgres_database),
}


def keyring(tmp_path: Path) -> FileKeyRing:
    """A fresh key ring (the suite's scrypt cost is lowered by the root conftest)."""
    os.environ.setdefault("HUB_TEST_SCRYPT_N", "1024")
    return FileKeyRing.create(tmp_path / "keys", PASSPHRASE)


def open_test_store(tmp_path: Path, backend: str = "sqlite", keys: FileKeyRing | None = None) -> Store:
    """A fresh store of ``backend`` whose bodies are encrypted with ``keys`` (a new ring if None)."""
    url = BACKENDS[backend].fresh_url(tmp_path)
    return open_store(url, CodecRegistry(AesGcmCodec(keys or keyring(tmp_path))))


T0 = 1_700_000_000.0  # a fixed clock: every time in the suite is T0 + seconds


def plan(
    message_id: str,
    *,
    sender: str = "trust-a",
    to: tuple[tuple[str, str], ...] = (("council-luton", "push"),),
    key: str | None = None,
    fingerprint: str | None = None,
    body: bytes = b'{"synthetic": true}',
    message_type: str = "HousingRequest",
    at: float = T0,
    in_reply_to: str | None = None,
    nhs_index: str | None = None,
    index_for: tuple[str, ...] = (),
    acknowledges: tuple[str, str, str] | None = None,
    order_key: str | None = None,
) -> Intake:
    """What the router would plan for one message: its record, a delivery per ``(partner, mode)``, its events.

    ``index_for``: the partners given a search entry for ``nhs_index``; ``order_key``: every delivery's.
    """
    record = str(uuid.uuid4())
    message = NewMessage(id=record, message_id=message_id, sender=sender, type=message_type, body=body,
                         received_at=at, idempotency_key=key, fingerprint=fingerprint or f"fp-{message_id}",
                         in_reply_to=in_reply_to, nhs_index=nhs_index)  # fmt: skip
    deliveries = [NewDelivery(str(uuid.uuid4()), record, partner, f"to-{partner}", mode, order_key)
                  for partner, mode in to]  # fmt: skip
    entries = [(partner, nhs_index, record) for partner in index_for if nhs_index]
    return Intake([message], deliveries, [HubEvent("received", record, at)], acknowledges, entries)


def delivery_of(store: Store, record_id: str, partner: str) -> dict[str, Any]:
    """The view of the delivery of ``record_id`` to ``partner``."""
    view = store.message_view(record_id)
    assert view is not None
    return next(d for d in view["deliveries"] if d["partner"] == partner)


def commit_after_first_read(store: Store, read: str, commit: Callable[[], None], monkeypatch: Any) -> list[bool]:
    """Make ``commit()`` run once, right after the first call of ``store.<read>`` (a backend's read method) returns:
    a commit made between a view's first read and the next. The list returned holds True once it has run; undo
    it with ``monkeypatch.undo()``."""
    original = getattr(store, read)
    committed: list[bool] = []

    def read_then_commit(statement: str, args: Any = ()) -> Any:
        rows = original(statement, args)
        if not committed:
            committed.append(True)
            commit()
        return rows

    monkeypatch.setattr(store, read, read_then_commit)
    return committed
