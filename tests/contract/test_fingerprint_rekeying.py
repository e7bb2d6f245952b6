"""The stored fingerprints move to a new fingerprint key through ``IndexRebuilding`` (purpose ``fingerprint``),
against every backend, and a repeat is recognised under either key while they move.

The re-keying is the blind index's rebuild with another column (``hub.store.index_rebuild.FINGERPRINT``):
these tests hold each backend to what differs (it waits ``settle_seconds`` before its scan, touches only
fingerprints, has its own row, lock and audit event) and to the duplicate check during it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import sqlite3

import orjson
import pytest
from contract.stores import T0, plan

from hub.plugin_api.problems import Conflict
from hub.store.url import sqlite_path

OLD_KEY, NEW_KEY = secrets.token_bytes(32), secrets.token_bytes(32)


def fp(key: bytes, message: dict) -> str:
    """The documented fingerprint, computed here: HMAC-SHA256 over the message serialised with sorted keys."""
    return hmac.new(key, orjson.dumps(message, option=orjson.OPT_SORT_KEYS), hashlib.sha256).hexdigest()


def message(n: int) -> dict:
    return {"message_id": f"m-{n}", "type": "HousingRequest", "payload": {"n": n}}


def accept(store, intake):
    return asyncio.run(store.accept(intake))


def query(opened, statement: str) -> list[tuple]:
    """The rows of one read behind the store's back."""
    if opened.url.startswith("sqlite"):
        conn = sqlite3.connect(sqlite_path(opened.url))
        try:
            return [tuple(row) for row in conn.execute(statement).fetchall()]
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(opened.url, autocommit=True) as pg:
        return [tuple(row) for row in pg.execute(statement).fetchall()]


def stored_fingerprints(opened) -> dict[str, str]:
    return dict(query(opened, "SELECT message_id, fingerprint FROM messages"))


def test_the_fingerprints_move_to_the_new_key_after_the_settle_time_leaving_the_blind_index_alone(opened) -> None:
    store = opened.store
    for n in range(5):
        accept(store, plan(f"m-{n}", body=orjson.dumps(message(n)), fingerprint=fp(OLD_KEY, message(n)),
                           nhs_index=f"idx-value-{n}", at=T0 + n))  # fmt: skip
    state = store.begin_index_rebuild("fpr-old", "fpr-new", T0 + 100, "ops", "fingerprint")
    assert (state.purpose, state.phase, state.total) == ("fingerprint", "scan", 5)
    assert store.index_rebuild() is None  # the blind index's rebuild is another row
    assert store.index_rebuild("fingerprint") == state

    def refingerprint(body: dict) -> str:
        return fp(NEW_KEY, body)

    # before the settle time no process may lack the new key yet: nothing moves
    assert store.rebuild_index_batch("fpr-new", refingerprint, 2, T0 + 101, settle_seconds=10) == (state, 0)
    assert set(stored_fingerprints(opened).values()) == {fp(OLD_KEY, message(n)) for n in range(5)}
    while not state.finished:
        state, _ = store.rebuild_index_batch("fpr-new", refingerprint, 2, T0 + 120, settle_seconds=10)
    assert (state.done, state.lost) == (5, 0)
    assert stored_fingerprints(opened) == {f"m-{n}": fp(NEW_KEY, message(n)) for n in range(5)}
    assert sorted(query(opened, "SELECT nhs_index FROM messages")) == [(f"idx-value-{n}",) for n in range(5)]
    assert "fingerprints re-keyed" in state.progress()
    assert opened.execute("UPDATE events SET kind = kind WHERE kind = 'fingerprints_rekeyed' AND actor = 'ops'") == 1
    assert opened.execute("UPDATE events SET kind = kind WHERE kind = 'index_rebuilt'") == 0


def test_a_repeat_is_recognised_under_either_key_and_other_content_is_refused_under_both(opened) -> None:
    store = opened.store
    first, moved = message(1), message(2)
    record = accept(store, plan("m-1", body=orjson.dumps(first), fingerprint=fp(OLD_KEY, first))).id
    other = accept(store, plan("m-2", body=orjson.dumps(moved), fingerprint=fp(NEW_KEY, moved))).id

    def repeat(msg: dict, message_id: str, keys: tuple[bytes, ...]):
        intake = plan(message_id, body=orjson.dumps(msg), fingerprint=fp(keys[0], msg))
        intake.messages[0].fingerprints_also = tuple(fp(key, msg) for key in keys[1:])
        return accept(store, intake)

    for keys in ((NEW_KEY, OLD_KEY), (OLD_KEY, NEW_KEY)):  # during the rotation: the row under either key
        assert (repeat(first, "m-1", keys).id, repeat(moved, "m-2", keys).id) == (record, other)
        with pytest.raises(Conflict):
            repeat(message(3), "m-1", keys)
    with pytest.raises(Conflict):  # a process with the new key only (after the old one retired) and a row under
        repeat(first, "m-1", (NEW_KEY,))  # the old one: what the re-keying must leave behind it (none)
    assert query(opened, "SELECT count(*) FROM messages") == [(2,)]


def test_an_unknown_purpose_is_refused_and_each_purpose_has_a_lock_of_its_own(opened) -> None:
    store = opened.store
    with pytest.raises(ValueError, match="fingerprint"):
        store.begin_index_rebuild("x-old", "x-new", T0, "ops", "passphrase")
    assert query(opened, "SELECT count(*) FROM index_rebuild") == [(0,)]
    store.begin_index_rebuild("idx-old", "idx-new", T0, "ops")
    store.begin_index_rebuild("fpr-old", "fpr-new", T0, "ops", "fingerprint")
    index_lock = store.lock_index_rebuild("idx-new", "index runner")
    fingerprint_lock = store.lock_index_rebuild("fpr-new", "fingerprint runner", "fingerprint")
    try:
        assert index_lock is not None and fingerprint_lock is not None  # side by side
        assert store.lock_index_rebuild("fpr-new", "another", "fingerprint") is None
        assert (store.index_rebuild().runner, store.index_rebuild("fingerprint").runner) == (
            "index runner", "fingerprint runner")  # fmt: skip
    finally:
        for held in (index_lock, fingerprint_lock):
            if held is not None:
                held.release()
