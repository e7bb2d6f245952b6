"""The messages of one body are committed in one store transaction: all of them, or none; a repeat is duplicates."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.bodies import CodecRegistry, PlainCodec
from hub.plugin_api.events import HubEvent
from hub.plugin_api.problems import Conflict
from hub.services.intake import body_keys
from hub.store.records import Intake, NewDelivery, NewMessage
from hub.store.sqlite import SQLiteStore

SENDER = "trust-a"


def intake(message_id: str, key: str | None, fingerprint: str | None = None) -> Intake:
    """What the router plans for one message of a body: the record, one delivery, its events."""
    record = str(uuid.uuid4())
    message = NewMessage(id=record, message_id=message_id, sender=SENDER, type="DischargeNotice",
                         body=b'{"synthetic": true}', received_at=1.0e9, idempotency_key=key,
                         fingerprint=fingerprint or f"fp-{message_id}")  # fmt: skip
    delivery = NewDelivery(str(uuid.uuid4()), record, "trust-b", "to-b", "push")
    return Intake([message], [delivery], [HubEvent("received", record, 1.0e9), HubEvent("routed", record, 1.0e9)])


def body(mesh_id: str, *message_ids: str) -> list[Intake]:
    keys = body_keys(f"mesh:{mesh_id}", len(message_ids))
    return [intake(mid, key) for mid, key in zip(message_ids, keys, strict=True)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "hub.db", CodecRegistry(PlainCodec()))
    yield opened
    opened.close()


def rows(store: SQLiteStore, sql: str) -> list[tuple]:
    conn = sqlite3.connect(store.path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_each_message_of_a_body_has_its_own_key_and_one_message_keeps_the_transports() -> None:
    assert body_keys("mesh:ABC", 1) == ["mesh:ABC"]  # keys stored before bodies were split still match
    assert body_keys("mesh:ABC", 3) == ["mesh:ABC#1", "mesh:ABC#2", "mesh:ABC#3"]
    assert body_keys(None, 2) == [None, None]


def test_a_body_is_committed_whole(store: SQLiteStore) -> None:
    results = asyncio.run(store.accept_all(body("M1", "ctl-1", "ctl-2")))
    assert [r.duplicate for r in results] == [False, False]
    assert len({r.id for r in results}) == 2
    assert sorted(rows(store, "SELECT message_id, idempotency_key FROM messages")) == [
        ("ctl-1", "mesh:M1#1"), ("ctl-2", "mesh:M1#2")]  # fmt: skip
    assert rows(store, "SELECT count(*) FROM deliveries") == [(2,)]


def test_when_one_message_of_a_body_is_refused_nothing_of_the_body_is_stored(store: SQLiteStore) -> None:
    store.accept_now(intake("ctl-2", "http-key"))  # an earlier message: ctl-2 is taken, with other content
    before = rows(store, "SELECT count(*) FROM messages"), rows(store, "SELECT count(*) FROM deliveries")
    events_before = rows(store, "SELECT count(*) FROM events")
    clashing = body("M2", "ctl-1", "ctl-2")
    clashing[1].messages[0].fingerprint = "fp-something-else"
    with pytest.raises(Conflict) as caught:
        asyncio.run(store.accept_all(clashing))
    assert [p.location for p in caught.value.problems] == ["message 2 $.message_id"]
    after = rows(store, "SELECT count(*) FROM messages"), rows(store, "SELECT count(*) FROM deliveries")
    assert after == before  # the first message, valid on its own, was rolled back with the second
    assert rows(store, "SELECT count(*) FROM events") == events_before
    assert rows(store, "SELECT count(*) FROM messages WHERE message_id='ctl-1'") == [(0,)]
    assert store.verify_audit().ok


def test_a_repeated_body_is_answered_as_duplicates_every_message_of_it(store: SQLiteStore) -> None:
    first = asyncio.run(store.accept_all(body("M3", "ctl-1", "ctl-2")))
    again = asyncio.run(store.accept_all(body("M3", "ctl-1", "ctl-2")))  # MESH delivered the body again
    assert [r.duplicate for r in again] == [True, True]
    assert [r.id for r in again] == [r.id for r in first]
    assert rows(store, "SELECT count(*) FROM messages") == [(2,)]
    assert rows(store, "SELECT count(*) FROM deliveries") == [(2,)]
    assert [r[0] for r in rows(store, "SELECT kind FROM events WHERE kind='duplicate'")] == ["duplicate"] * 2
