"""The messages of one body are committed in one store transaction: all of them, or none; a repeat is duplicates.

Everything is read back through the store's ports (``open_store``: counts, the message list, views, the
duplicate answer), never from its file, so the same tests hold for any backend ``store.url`` names.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.bodies import CodecRegistry, PlainCodec
from hub.plugin_api.events import HubEvent
from hub.plugin_api.problems import Conflict
from hub.services.intake import body_keys
from hub.store import Intake, NewDelivery, NewMessage, Store, open_store
from hub.store.url import sqlite_url

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
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(sqlite_url(tmp_path / "hub.db"), CodecRegistry(PlainCodec()))
    yield opened
    opened.close()


def stored(store: Store) -> list[tuple[str, str]]:
    """(message_id, record id) of every stored message, sorted by message_id."""
    return sorted((m["message_id"], m["id"]) for m in store.list_messages(limit=1000))


def deliveries(store: Store) -> int:
    return sum(n for name, n in store.counts().items() if name.startswith("deliveries_"))


def events(store: Store, record_id: str) -> list[str]:
    view = store.message_view(record_id)
    assert view is not None
    return [e["event"] for e in view["timeline"]]


def test_each_message_of_a_body_has_its_own_key_and_one_message_keeps_the_transports() -> None:
    assert body_keys("mesh:ABC", 1) == ["mesh:ABC"]  # keys stored before bodies were split still match
    assert body_keys("mesh:ABC", 3) == ["mesh:ABC#1", "mesh:ABC#2", "mesh:ABC#3"]
    assert body_keys(None, 2) == [None, None]


def test_a_body_is_committed_whole(store: Store) -> None:
    results = asyncio.run(store.accept_all(body("M1", "ctl-1", "ctl-2")))
    assert [r.duplicate for r in results] == [False, False]
    assert len({r.id for r in results}) == 2
    assert stored(store) == [("ctl-1", results[0].id), ("ctl-2", results[1].id)]
    assert deliveries(store) == 2
    # each message is held under its own key: the same key under another message id is that message again
    for n, first in enumerate(results, start=1):
        again = store.accept_now(intake(f"other-{n}", f"mesh:M1#{n}", fingerprint=f"fp-ctl-{n}"))
        assert (again.id, again.duplicate) == (first.id, True)


def test_when_one_message_of_a_body_is_refused_nothing_of_the_body_is_stored(store: Store) -> None:
    earlier = store.accept_now(intake("ctl-2", "http-key"))  # an earlier message: ctl-2 is taken, other content
    events_before = store.verify_audit().rows
    clashing = body("M2", "ctl-1", "ctl-2")
    clashing[1].messages[0].fingerprint = "fp-something-else"
    with pytest.raises(Conflict) as caught:
        asyncio.run(store.accept_all(clashing))
    assert [p.location for p in caught.value.problems] == ["message 2 $.message_id"]
    # the first message, valid on its own, was rolled back with the second
    assert stored(store) == [("ctl-2", earlier.id)]
    assert deliveries(store) == 1
    assert store.verify_audit().rows == events_before
    assert store.verify_audit().ok


def test_a_repeated_body_is_answered_as_duplicates_every_message_of_it(store: Store) -> None:
    first = asyncio.run(store.accept_all(body("M3", "ctl-1", "ctl-2")))
    again = asyncio.run(store.accept_all(body("M3", "ctl-1", "ctl-2")))  # MESH delivered the body again
    assert [r.duplicate for r in again] == [True, True]
    assert [r.id for r in again] == [r.id for r in first]
    assert stored(store) == [("ctl-1", first[0].id), ("ctl-2", first[1].id)]
    assert deliveries(store) == 2
    assert [events(store, r.id).count("duplicate") for r in first] == [1, 1]
