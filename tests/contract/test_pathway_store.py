"""The store's pathway port (``PathwayStore``), the same on every backend: milestones, timers fired once."""

from __future__ import annotations

import threading
from typing import Any

from contract.conftest import Opened
from contract.stores import T0, plan

from hub.store import Store
from hub.store.pathway_records import MilestoneClosing, NewMilestone, PathwayChanges, PathwayClosing


def started(store: Store, message_id: str = "m-1", nhs_index: str | None = "idx-1") -> tuple[str, int]:
    """Accept a message; return its record id and the last event's sequence number."""
    record = store.accept_now(plan(message_id, nhs_index=nhs_index)).id
    rows = store.pathway_events(100)[1]
    return record, int(rows[-1][0])


def milestone(record: str, name: str = "assessment", due: float = T0 + 100, remind: float | None = T0 + 50,
              correlation: str | None = "c-1", partner: str = "council-luton") -> NewMilestone:  # fmt: skip
    return NewMilestone(f"{name}-{record[:8]}", name, partner, record, correlation, T0, due, remind)


def opened_one(store: Store, external: bool = False, **kw: Any) -> tuple[str, NewMilestone]:
    record, last = started(store)
    new = milestone(record, **kw)
    assert store.apply_pathway(PathwayChanges(0, last, opened=[new]), T0, external) is not None
    return record, new


def test_events_after_the_cursor_are_read_with_their_message_and_the_cursor_moves_once(store: Store) -> None:
    record, last = started(store)
    after, rows = store.pathway_events(100)
    assert after == 0
    row = rows[0]
    assert (row[1], row[2], row[5], row[6], row[8]) == ("received", record, "HousingRequest", "trust-a", "m-1")
    new = milestone(record)
    assert store.apply_pathway(PathwayChanges(0, last, opened=[new]), T0, False) is not None
    assert store.pathway_events(100) == (last, [])
    assert store.apply_pathway(PathwayChanges(0, last, opened=[new]), T0, False) is None  # another process did
    assert len(store.milestones()) == 1
    # the same milestone opened again (a re-read after a crash) is one milestone
    store.accept_now(plan("m-2"))
    after, rows = store.pathway_events(100)
    assert store.apply_pathway(PathwayChanges(after, int(rows[-1][0]), opened=[new]), T0, False) == []
    m = store.milestones(correlation_id="c-1")[0]
    assert (m["state"], m["due_at"], m["remind_at"], m["nhs_index"]) == ("open", T0 + 100, T0 + 50, "idx-1")
    assert sorted(t["id"] for t in m["timers"]) == [f"{new.id}.due", f"{new.id}.remind"]
    assert store.milestones(nhs_index="idx-1")[0]["id"] == new.id
    assert [e["event"] for e in store.message_view(record)["timeline"]].count("milestone_opened") == 1  # type: ignore[index]


def test_a_timer_fires_once_at_its_time_and_every_other_call_is_recorded(opened: Opened) -> None:
    store = opened.store
    record, new = opened_one(store)
    due = f"{new.id}.due"
    assert store.fire_timer(due, T0 + 90, "embedded").outcome == "not_yet_due"
    assert store.due_timers(T0 + 90, 10) == [f"{new.id}.remind"]
    assert store.fire_timer(f"{new.id}.remind", T0 + 50, "embedded").outcome == "fired"
    assert store.milestones()[0]["state"] == "reminded"
    result = store.fire_timer(due, T0 + 98.5, "airflow")  # within the 2 s tolerance
    assert result.outcome == "fired" and result.action == "due" and result.milestone["state"] == "breached"  # type: ignore[index]
    assert store.fire_timer(due, T0 + 200, "embedded").outcome == "already_fired"
    assert store.fire_timer("nothing-here.due", T0, "airflow").outcome == "unknown"
    assert store.due_timers(T0 + 1000, 10) == [] and store.next_timer_due() is None
    timeline = store.message_view(record)["timeline"]  # type: ignore[index]
    assert [e["detail"]["outcome"] for e in timeline if e["event"] == "timer_fire"] == ["not_yet_due",
                                                                                        "already_fired"]  # fmt: skip
    assert [e["event"] for e in timeline if e["event"].startswith("milestone_")] == [
        "milestone_opened", "milestone_reminded", "milestone_breached"]  # fmt: skip
    assert store.verify_audit().ok


def test_many_processes_firing_one_timer_fire_it_once(opened: Opened) -> None:
    _, new = opened_one(opened.store)
    others = [opened.reopen() for _ in range(4)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(others))

    def fire(store: Store) -> None:
        barrier.wait()
        outcomes.append(store.fire_timer(f"{new.id}.due", T0 + 100, "embedded").outcome)

    threads = [threading.Thread(target=fire, args=(s,)) for s in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for s in others:
        s.close()
    assert sorted(outcomes) == ["already_fired"] * 3 + ["fired"]
    assert opened.store.milestones()[0]["breached_at"] == T0 + 100


def test_a_closing_message_meets_a_running_milestone_and_makes_a_breached_one_late(store: Store) -> None:
    _, new = opened_one(store)
    store.accept_now(plan("close-1"))
    after, rows = store.pathway_events(100)
    closing = MilestoneClosing(new.id, "closing-record", T0 + 10)
    assert store.apply_pathway(PathwayChanges(after, int(rows[-1][0]), closed=[closing]), T0 + 10, False)
    m = store.milestones()[0]
    assert (m["state"], m["closed_by"]) == ("met", "closing-record")
    assert {t["state"] for t in m["timers"]} == {"cancelled"}
    assert store.fire_timer(f"{new.id}.due", T0 + 200, "embedded").outcome == "closed"
    # another: breached, then closed late
    record2 = store.accept_now(plan("m-3")).id
    after, rows = store.pathway_events(100)
    other = milestone(record2, name="follow-up", remind=None)
    store.apply_pathway(PathwayChanges(after, int(rows[-1][0]), opened=[other]), T0, False)
    assert store.fire_timer(f"{other.id}.due", T0 + 100, "embedded").outcome == "fired"
    store.accept_now(plan("m-4"))
    after, rows = store.pathway_events(100)
    late = MilestoneClosing(other.id, "late-record", T0 + 300)
    events = store.apply_pathway(PathwayChanges(after, int(rows[-1][0]), closed=[late]), T0 + 300, False)
    assert [e.kind for e in events or []] == ["milestone_late"]
    assert store.milestones(correlation_id="c-1", states=["late"])[0]["id"] == other.id
    assert store.open_milestones_for("council-luton", "follow-up", "c-1", None) == []


def test_a_pathway_closed_as_a_whole_cancels_its_milestones_and_opens_no_more(store: Store) -> None:
    opened_one(store)
    events = store.close_pathway(PathwayClosing("c-1", "readmission", T0 + 5, "ops"), False)
    assert [e.kind for e in events] == ["pathway_closed", "milestone_cancelled"]
    assert store.close_pathway(PathwayClosing("c-1", "death", T0 + 6, "ops"), False) == []
    assert store.pathway_closure("c-1") == {"reason": "readmission", "at": T0 + 5, "actor": "ops"}
    m = store.milestones()[0]
    assert (m["state"], m["close_reason"]) == ("cancelled", "readmission")
    record2 = store.accept_now(plan("m-5")).id
    after, rows = store.pathway_events(100)
    store.apply_pathway(PathwayChanges(after, int(rows[-1][0]), opened=[milestone(record2, name="later")]), T0, False)
    assert [m["name"] for m in store.milestones()] == ["assessment"]


def test_an_external_scheduler_is_told_of_timers_opened_and_cancelled_until_it_takes_them(store: Store) -> None:
    _, new = opened_one(store, external=True)
    syncs = {s[0]: s for s in store.pending_syncs()}
    assert set(syncs) == {f"{new.id}.due", f"{new.id}.remind"} and {s[1] for s in syncs.values()} == {"schedule"}
    [retry] = store.sync_result(f"{new.id}.due", "schedule", T0, T0 + 4, "scheduler down")
    assert (retry.kind, retry.detail["result"]) == ("scheduler_sync", "retry")  # what observers are told
    due_sync = next(s for s in store.pending_syncs() if s[0] == f"{new.id}.due")
    assert due_sync[3:] == (1, T0 + 4, "scheduler down")
    [done] = store.sync_result(f"{new.id}.due", "schedule", T0 + 4, None, None)
    assert done.detail == {"timer_id": f"{new.id}.due", "sync": "schedule", "result": "done"}
    assert store.sync_result(f"{new.id}.due", "schedule", T0 + 4, None, None) == []  # no longer asked for
    assert [s[0] for s in store.pending_syncs()] == [f"{new.id}.remind"]
    store.close_pathway(PathwayClosing("c-1", "death", T0 + 5), True)
    # the scheduler holds the due timer: it must be cancelled; it never heard of the reminder: nothing to do
    assert [(s[0], s[1]) for s in store.pending_syncs()] == [(f"{new.id}.due", "cancel")]
    store.request_sync([f"{new.id}.remind"], "cancel")
    assert {s[0] for s in store.pending_syncs()} == {f"{new.id}.due", f"{new.id}.remind"}
    assert store.pending_timers() == {} and store.timer_state(f"{new.id}.due") == "cancelled"
    assert store.timer_state("nope.due") is None


def test_with_no_external_scheduler_a_close_leaves_nothing_to_tell_one(store: Store) -> None:
    # timers opened while an external scheduler was configured, one of its schedule calls failed; the hub now runs
    # the embedded scheduler (external False), which tells no one: the close leaves no sync pending for ever
    _, new = opened_one(store, external=True)
    store.sync_result(f"{new.id}.due", "schedule", T0, T0 + 4, "scheduler down")
    store.close_pathway(PathwayClosing("c-1", "death", T0 + 5), False)
    assert store.pending_syncs() == []
    assert store.timer_state(f"{new.id}.due") == store.timer_state(f"{new.id}.remind") == "cancelled"


def test_notices_of_fired_timers_are_remembered_and_counts_are_kept_per_partner_and_milestone(store: Store) -> None:
    _, new = opened_one(store)
    store.fire_timer(f"{new.id}.remind", T0 + 60, "embedded")
    assert store.unsent_notices(10) == [f"{new.id}.remind"]
    store.record_notice(f"{new.id}.remind", "notice-record")
    assert store.unsent_notices(10) == []
    assert store.milestone_counts() == [("council-luton", "assessment", "reminded", 1)]
    assert [m["id"] for m in store.milestones(partner="council-luton", due_before=T0 + 100)] == [new.id]
    assert store.milestones(partner="council-luton", due_before=T0 + 99) == []
    assert store.milestones(partner="trust-a") == []


def test_a_search_for_a_persons_pathways_looks_under_every_live_index_key_and_is_audited(opened: Opened) -> None:
    import pytest

    from hub.crypto.blind_index import nhs_index
    from hub.services.errors import OperationRefused
    from hub.services.pathway_views import correlations_of_person

    store = opened.store
    old_key, new_key, number = b"o" * 32, b"n" * 32, "9434765919"
    for n, (key, correlation) in enumerate(((old_key, "c-old"), (new_key, "c-new"))):  # a rebuild half done
        record, last = started(store, f"m-{n}", nhs_index=nhs_index(key, number))
        after = store.pathway_events(100)[0]
        store.apply_pathway(PathwayChanges(after, last, opened=[milestone(record, correlation=correlation)]), T0, False)
    assert correlations_of_person(store, [new_key, old_key], number, actor="ops") == ["c-new", "c-old"]
    assert opened.execute("UPDATE events SET kind = kind WHERE kind = 'searched' AND actor = 'ops'") == 1
    with pytest.raises(OperationRefused):
        correlations_of_person(store, [new_key], "1234567890", actor="ops")
    assert opened.execute("UPDATE events SET kind = kind WHERE kind = 'searched'") == 1
    assert store.verify_audit().ok


def test_a_closing_message_from_a_partner_with_no_part_in_the_pathway_closes_nothing(opened: Opened) -> None:
    store = opened.store
    opened_one(store)  # trust-a sent it to council-luton; council-luton is responsible
    stranger = PathwayClosing("c-1", "death", T0 + 5, "steps-luton", "closing-record")
    store.accept_now(plan("close-1"))
    after, rows = store.pathway_events(100)
    events = store.apply_pathway(PathwayChanges(after, int(rows[-1][0]), pathways_closed=[stranger]), T0 + 5, False)
    assert [e.kind for e in events or []] == ["pathway_close_refused"]
    assert store.pathway_closure("c-1") is None
    assert store.milestones()[0]["state"] == "open"
    # the sender of the start message may close it
    sender = PathwayClosing("c-1", "readmission", T0 + 6, "trust-a", "closing-record-2")
    store.accept_now(plan("close-2"))
    after, rows = store.pathway_events(100)
    events = store.apply_pathway(PathwayChanges(after, int(rows[-1][0]), pathways_closed=[sender]), T0 + 6, False)
    assert [e.kind for e in events or []] == ["pathway_closed", "milestone_cancelled"]
    assert store.verify_audit().ok


def test_a_pathway_with_no_milestones_yet_is_not_closed_in_advance(store: Store) -> None:
    assert store.close_pathway(PathwayClosing("c-1", "readmission", T0, "ops"), False) == []
    assert store.pathway_closure("c-1") is None
    opened_one(store)
    assert store.milestones()[0]["state"] == "open"


def test_closing_a_pathway_leaves_a_breached_milestone_breached(store: Store) -> None:
    _, new = opened_one(store)
    assert store.fire_timer(f"{new.id}.due", T0 + 100, "embedded").outcome == "fired"
    events = store.close_pathway(PathwayClosing("c-1", "readmission", T0 + 150, "ops"), False)
    assert [e.kind for e in events] == ["pathway_closed"]
    assert store.milestones()[0]["state"] == "breached"


def test_a_closing_message_that_waits_for_a_fire_in_flight_still_meets_the_milestone(opened: Opened) -> None:
    """A closing racing a fire in another process: it waits for the fire's locks, then meets the milestone as it
    now is (on PostgreSQL a condition on the state read before would match no row: the closing lost)."""
    from hub.store import pathway_ops as ops

    store = opened.store
    _, new = opened_one(store)
    store.accept_now(plan("close-1"))
    after, rows = store.pathway_events(100)
    fired, release = threading.Event(), threading.Event()

    def fire_and_hold(ex: Any, append: Any) -> None:
        ops.fire(ex, append, f"{new.id}.remind", T0 + 60, "embedded")
        fired.set()
        release.wait(20)

    holder = threading.Thread(target=lambda: store._pathway_write(fire_and_hold))  # type: ignore[attr-defined]
    holder.start()
    assert fired.wait(20)
    closing = PathwayChanges(after, int(rows[-1][0]), closed=[MilestoneClosing(new.id, "closing-record", T0 + 70)])
    result: list[Any] = []
    other = opened.reopen()  # another process: its own connections and writer
    try:
        closer = threading.Thread(target=lambda: result.append(other.apply_pathway(closing, T0 + 70, False)))
        closer.start()
        closer.join(1.0)  # the closing has begun and waits for the fire's transaction (it cannot finish before)
        release.set()
        holder.join(20)
        closer.join(20)
    finally:
        release.set()
        other.close()
    assert result, "the closing did not finish within 20 s of the fire's commit"
    assert [e.kind for e in result[0] or []] == ["milestone_met"]
    m = store.milestones()[0]
    assert m["state"] == "met" and m["reminded_at"] == T0 + 60
    assert {t["id"]: t["state"] for t in m["timers"]} == {f"{new.id}.due": "cancelled", f"{new.id}.remind": "fired"}


def test_a_board_lists_the_soonest_due_of_each_list_and_says_how_many_there_are(store: Store) -> None:
    from hub.services.pathway_boards import BOARD_ROWS, milestone_board

    record, last = started(store)
    many = [NewMilestone(f"a-{i:04d}", "assessment", "council-luton", record, "c-1", T0, T0 + 100 + i, None)
            for i in range(BOARD_ROWS + 5)]  # fmt: skip
    other = NewMilestone("b-0", "follow_up", "council-luton", record, "c-1", T0, T0 + 50, None)
    assert store.apply_pathway(PathwayChanges(0, last, opened=[*many, other]), T0, False) is not None
    board = milestone_board(store, now=T0)
    assert [m["milestone_id"] for m in board.running] == ["b-0"] + [f"a-{i:04d}" for i in range(BOARD_ROWS - 1)]
    assert (board.running_total, board.breached, board.breached_total) == (BOARD_ROWS + 6, [], 0)
    assert board.counts == [
        {"partner": "council-luton", "milestone": "assessment", "open": BOARD_ROWS + 5, "reminded": 0, "breached": 0},
        {"partner": "council-luton", "milestone": "follow_up", "open": 1, "reminded": 0, "breached": 0},
    ]
    one = milestone_board(store, milestone="follow_up", now=T0)
    assert [m["milestone_id"] for m in one.running] == ["b-0"] and one.running_total == 1
    assert one.milestones == ["assessment", "follow_up"] and one.running[0]["seconds_left"] == 50
