"""The promises of ``IndexRebuilding`` (``hub.store.ports``, ``hub.store.index_rebuild``), against every backend.

The blind index is rebuilt under a new key batch by batch: at every moment each message is under
exactly one of the two keys (a search under both finds it once), a crash loses at most the batch in
flight, and both the rotation and the end of the rebuild are on the audit chain.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import threading

import orjson
import pytest
from contract.stores import PASSPHRASE, T0, plan

from hub.crypto.blind_index import index_of_message, nhs_index
from hub.testing.running_hub import wait_until

OLD_KEY, NEW_KEY = secrets.token_bytes(32), secrets.token_bytes(32)
PEOPLE = ("9434765919", "9434765870", "4010232137")  # valid NHS numbers (Modulus 11), of nobody


def body_about(number: str) -> bytes:
    return orjson.dumps({"type": "HousingRequest", "payload": {"person": {"nhs_number": number}}})


def accept(store, intake):
    return asyncio.run(store.accept(intake))


def store_people(store, at: float = T0) -> dict[str, list[str]]:
    """Two messages about each person, indexed under OLD_KEY for the sender and the council; record ids by person."""
    out: dict[str, list[str]] = {}
    for n, number in enumerate(PEOPLE * 2):
        value = nhs_index(OLD_KEY, number)
        intake = plan(f"m-{n}", body=body_about(number), nhs_index=value, at=at + n,
                      index_for=("trust-a", "council-luton"))  # fmt: skip
        out.setdefault(number, []).append(accept(store, intake).id)
    return out


def found(store, number: str, partner: str | None = None, keys=(OLD_KEY, NEW_KEY)) -> list[str]:
    """What one search under ``keys`` finds (every id, repeats kept, so that a double entry would show)."""
    return [m["id"] for m in store.find_by_index([nhs_index(key, number) for key in keys], partner)]


def reindex(message: dict) -> str | None:
    return index_of_message(NEW_KEY, message)


def test_a_rebuild_moves_every_message_and_search_entry_to_the_new_key_and_searches_find_each_once_throughout(
    opened,
) -> None:
    store = opened.store
    ids = store_people(store)
    assert store.index_rebuild() is None
    state = store.begin_index_rebuild("idx-old", "idx-new", T0 + 100, "ops")
    assert (state.phase, state.total, state.done, state.cursor) == ("scan", 6, 0, "")
    assert store.begin_index_rebuild("idx-old", "idx-new", T0 + 200, "ops") == state  # begun once

    seen_states = []
    while not state.finished:
        for number in PEOPLE:  # before and between batches: every message found once, for every searcher
            assert sorted(found(store, number)) == sorted(ids[number])
            assert sorted(found(store, number, "council-luton")) == sorted(ids[number])
            assert found(store, number, "steps-luton") == []
        state, _ = store.rebuild_index_batch("idx-new", reindex, 2, T0 + 200, settle_seconds=0)
        seen_states.append(state.phase)
    assert seen_states == ["scan", "scan", "scan", "recent", "finished"]  # 6 rows in 2s, then an empty end
    assert (state.done, state.lost, state.total) == (6, 0, 6)
    for number in PEOPLE:
        assert found(store, number, keys=(OLD_KEY,)) == []
        assert sorted(found(store, number, keys=(NEW_KEY,))) == sorted(ids[number])
        assert sorted(found(store, number, "trust-a", keys=(NEW_KEY,))) == sorted(ids[number])
    assert store.rebuild_index_batch("idx-new", reindex, 2, T0 + 300, settle_seconds=0) == (state, 0)
    assert store.index_rebuild() == state
    assert store.verify_audit().ok
    # the rotation and the end of the rebuild are on the chain (an UPDATE to the same value counts the rows)
    assert opened.execute("UPDATE events SET kind = kind WHERE kind = 'key_rotated' AND actor = 'ops'") == 1
    assert opened.execute("UPDATE events SET kind = kind WHERE kind = 'index_rebuilt' AND actor = 'ops'") == 1


def test_a_rebuild_resumes_from_its_cursor_in_another_process_after_a_crash(opened) -> None:
    store = opened.store
    ids = store_people(store)
    store.begin_index_rebuild("idx-old", "idx-new", T0, "ops")
    first, seen = store.rebuild_index_batch("idx-new", reindex, 4, T0 + 1, settle_seconds=0)
    assert seen == 4 and first.done == 4 and first.cursor
    # the rebuilding process dies here; another opens the store and carries on

    other = opened.reopen()
    try:
        resumed = other.index_rebuild()
        assert resumed == first
        state = resumed
        while not state.finished:
            state, _ = other.rebuild_index_batch("idx-new", reindex, 4, T0 + 2, settle_seconds=0)
        assert state.done == 6  # the 4 done before the crash are not done again in the scan
        for number in PEOPLE:
            assert sorted(found(other, number, keys=(NEW_KEY,))) == sorted(ids[number])
    finally:
        other.close()


def test_the_last_pass_waits_for_running_hubs_to_switch_and_catches_what_a_late_one_indexed_under_the_old_key(
    store,
) -> None:
    started = T0 + 1000
    ids = store_people(store)
    state = store.begin_index_rebuild("idx-old", "idx-new", started, "ops")
    state, _ = store.rebuild_index_batch("idx-new", reindex, 100, started + 1, settle_seconds=10)
    assert state.phase == "scan" and state.done == 6  # everything seen, but hubs may not have switched yet
    # a hub that has not seen the rotation yet stores a message under the old key, after the scan passed it
    late_id = accept(store, plan("late", body=body_about(PEOPLE[0]), nhs_index=nhs_index(OLD_KEY, PEOPLE[0]),
                                 at=started + 2, index_for=("trust-a",))).id  # fmt: skip
    state, _ = store.rebuild_index_batch("idx-new", reindex, 100, started + 5, settle_seconds=10)
    assert state.phase == "scan"  # still settling
    state, _ = store.rebuild_index_batch("idx-new", reindex, 100, started + 11, settle_seconds=10)
    assert state.phase == "recent" and state.cursor == ""
    state, _ = store.rebuild_index_batch("idx-new", reindex, 100, started + 12, settle_seconds=10)
    assert state.finished and state.finished_at == started + 12
    assert sorted(found(store, PEOPLE[0], keys=(NEW_KEY,))) == sorted([*ids[PEOPLE[0]], late_id])
    assert found(store, PEOPLE[0], "trust-a", keys=(OLD_KEY,)) == []
    assert state.done >= 6


def test_a_message_whose_body_cannot_be_read_loses_its_old_value_and_entries_and_is_counted(opened) -> None:
    store = opened.store
    ids = store_people(store)
    unreadable = ids[PEOPLE[2]][0]
    assert opened.execute("UPDATE messages SET data_key = NULL, kek_id = NULL WHERE id = ?", unreadable) == 1
    store.begin_index_rebuild("idx-old", "idx-new", T0, "ops")
    state = store.index_rebuild()
    while not state.finished:
        state, _ = store.rebuild_index_batch("idx-new", reindex, 50, T0 + 1, settle_seconds=0)
    assert (state.done, state.lost) == (5, 1)
    assert found(store, PEOPLE[2]) == [ids[PEOPLE[2]][1]]
    assert found(store, PEOPLE[2], "council-luton") == [ids[PEOPLE[2]][1]]


def test_a_batch_of_a_rebuild_never_begun_is_refused_and_changes_nothing(store) -> None:
    ids = store_people(store)
    with pytest.raises(LookupError, match="no rebuild"):
        store.rebuild_index_batch("idx-new", reindex, 10, T0, settle_seconds=0)
    assert sorted(found(store, PEOPLE[0], keys=(OLD_KEY,))) == sorted(ids[PEOPLE[0]])


def test_a_rebuild_moves_the_value_a_milestone_copied_from_its_start_message(opened) -> None:
    from hub.store.pathway_records import NewMilestone, PathwayChanges

    store = opened.store
    ids = store_people(store)
    after, rows = store.pathway_events(100)
    first = ids[PEOPLE[0]][0]
    new = NewMilestone("assessment-1", "assessment", "council-luton", first, "c-1", T0, T0 + 86_400)
    store.apply_pathway(PathwayChanges(after, int(rows[-1][0]), opened=[new]), T0, False)
    assert [m["id"] for m in store.milestones(nhs_index=nhs_index(OLD_KEY, PEOPLE[0]))] == ["assessment-1"]
    state = store.begin_index_rebuild("idx-old", "idx-new", T0 + 100, "ops")
    while not state.finished:
        state, _ = store.rebuild_index_batch("idx-new", reindex, 4, T0 + 200, settle_seconds=0)
    assert store.milestones(nhs_index=nhs_index(OLD_KEY, PEOPLE[0])) == []
    assert [m["id"] for m in store.milestones(nhs_index=nhs_index(NEW_KEY, PEOPLE[0]))] == ["assessment-1"]


def test_a_search_under_both_keys_never_misses_a_message_the_rebuild_moves_while_it_looks(opened) -> None:
    """One lookup under both values sees one snapshot: a message moved from the old value to the new one in
    between two separate lookups (new, then old) would be found by neither."""
    store = opened.store
    number = PEOPLE[0]
    ids = [accept(store, plan(f"p-{n}", body=body_about(number), nhs_index=nhs_index(OLD_KEY, number),
                              at=T0 + n, index_for=("trust-a",))).id for n in range(30)]  # fmt: skip
    state = store.begin_index_rebuild("idx-old", "idx-new", T0 + 100, "ops")
    finished = threading.Event()

    def rebuild() -> None:
        current = state
        try:
            while not current.finished:  # one message a transaction: as many moves as can be
                current, _ = store.rebuild_index_batch("idx-new", reindex, 1, T0 + 200, settle_seconds=0)
        finally:
            finished.set()

    rebuilder = threading.Thread(target=rebuild)
    rebuilder.start()
    searches = []
    try:
        while not finished.is_set():
            searches.append((sorted(found(store, number)), sorted(found(store, number, "trust-a"))))
    finally:
        rebuilder.join()
    assert store.index_rebuild().finished
    assert all(both == (sorted(ids), sorted(ids)) for both in searches)
    assert sorted(found(store, number, keys=(NEW_KEY,))) == sorted(ids)


HOLDER = """
import sys, time
from hub.bodies import CodecRegistry
from hub.crypto.at_rest import AesGcmCodec
from hub.crypto.keyring import FileKeyRing
from hub.store import open_store
store = open_store(sys.argv[1], CodecRegistry(AesGcmCodec(FileKeyRing.open(sys.argv[2], sys.argv[3]))))
held = store.lock_index_rebuild("idx-new", "the child")
print("held" if held is not None else "refused", flush=True)
time.sleep(600)
"""


def test_one_process_at_a_time_holds_the_rebuild_and_one_killed_while_holding_it_frees_it_at_once(opened) -> None:
    store = opened.store
    store_people(store)
    store.begin_index_rebuild("idx-old", "idx-new", T0, "ops")
    assert store.index_rebuild().runner is None  # begun, run by nobody yet
    child = subprocess.Popen([sys.executable, "-c", HOLDER, opened.url, str(opened.keys.directory), PASSPHRASE],
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    other = opened.reopen()
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        assert store.index_rebuild().runner == "the child"
        assert store.lock_index_rebuild("idx-new", "this process") is None  # held elsewhere: refused,
        assert store.index_rebuild().runner == "the child"  # and nothing changed
        child.kill()  # kill -9: the holder closes nothing itself
        child.wait(10)
        taken: list = []

        def take() -> bool:
            taken.append(store.lock_index_rebuild("idx-new", "this process"))
            return taken[-1] is not None

        assert wait_until(take)  # the server or the kernel frees it as the process goes
        held = taken[-1]
        assert store.index_rebuild().runner == "this process"
        assert other.lock_index_rebuild("idx-new", "another store") is None  # one holder, in one process too
        held.release()
        held.release()  # safe to repeat
        again = other.lock_index_rebuild("idx-new", "another store")
        assert again is not None and other.index_rebuild().runner == "another store"
        again.release()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        other.close()
