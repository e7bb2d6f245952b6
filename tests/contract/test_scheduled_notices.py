"""A milestone's notices as scheduled deliveries (issue 11 item 2), the same on every backend.

With the embedded scheduler the pathway stores a milestone's reminder and due notice when it opens, in the same
transaction (``NewMilestone.notices``), each delivery scheduled until its timer's time and linked to the timer. What
must hold: the notice is visible as scheduled at once; a close cancels it in the close's commit; a claim before
its time gets nothing; a claim at its time fires the timer in the claim's transaction, once, whatever number of
claimers race; a closed milestone's notice is never delivered; a pull partner sees a notice only once its timer
fired; queue depths count no scheduled delivery.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest
from contract.conftest import Opened
from contract.stores import plan

from hub.bodies import CodecRegistry, PlainCodec
from hub.plugin_api.events import HubEvent
from hub.store import Store
from hub.store.pathway_records import (
    MilestoneClosing,
    NewMilestone,
    PathwayChanges,
    PathwayClosing,
    ScheduledNotice,
)
from hub.store.records import Intake, NewDelivery, NewMessage

NOW = time.time()  # message views say "scheduled" against the wall clock: the times here are around it
DUE = NOW + 100
REMIND = NOW + 50


@pytest.fixture(autouse=True)
def around_now() -> None:
    """Each test's times from the wall clock when it starts (a long run must not pass them before it)."""
    global NOW, DUE, REMIND
    NOW = time.time()
    DUE, REMIND = NOW + 100, NOW + 50


To = tuple[tuple[str, str], ...]


def notice(to: To, at: float) -> Intake:
    """A notice message with one delivery per ``(partner, mode)``, scheduled until ``at``."""
    record = str(uuid.uuid4())
    intake = Intake([NewMessage(record, str(uuid.uuid4()), "hub", "PathwayNotice", b'{"notice": "synthetic"}', NOW,
                                "c-1")], events=[HubEvent("received", record, NOW)])  # fmt: skip
    for partner, mode in to:
        intake.deliveries.append(NewDelivery(str(uuid.uuid4()), record, partner, "pathway", mode, not_before=at))
    return intake


def open_with_notices(store: Store, due_to: To = (("council-luton", "push"),),
                      remind_to: To = (("council-luton", "push"),)) -> NewMilestone:  # fmt: skip
    """Accept a start message and open a milestone on it with a reminder and a due notice; the milestone."""
    start = store.accept_now(plan(f"m-{uuid.uuid4()}", to=(), at=NOW)).id
    after, rows = store.pathway_events(100)
    new = NewMilestone(f"assessment-{start[:8]}", "assessment", "council-luton", start, "c-1", NOW, DUE, REMIND,
                       notices=(ScheduledNotice("remind", notice(remind_to, REMIND)),
                                ScheduledNotice("due", notice(due_to, DUE))))  # fmt: skip
    events = store.apply_pathway(PathwayChanges(after, int(rows[-1][0]), opened=[new]), NOW, False)
    assert events is not None and "milestone_opened" in [e.kind for e in events]
    return new


def notice_deliveries(store: Store, new: NewMilestone, action: str) -> list[dict[str, object]]:
    """The deliveries of the notice of ``new``'s ``action`` timer, as the message view shows them."""
    [timer] = [t for t in store.milestones(milestone_id=new.id)[0]["timers"] if t["action"] == action]
    view = store.message_view(str(timer["notice_record"]))
    assert view is not None
    return list(view["deliveries"])


def timer_states(store: Store, new: NewMilestone) -> dict[str, tuple[str, str | None]]:
    return {t["action"]: (t["state"], t["fired_by"]) for t in store.milestones(milestone_id=new.id)[0]["timers"]}


def test_an_opened_milestone_shows_its_notices_scheduled_until_their_timers(store: Store) -> None:
    new = open_with_notices(store)
    [reminder] = notice_deliveries(store, new, "remind")
    [due] = notice_deliveries(store, new, "due")
    assert reminder["state"] == "pending" and reminder["scheduled_until"] is not None
    assert due["scheduled_until"] is not None and due["outcome"] == "waiting"
    assert timer_states(store, new) == {"remind": ("pending", None), "due": ("pending", None)}
    # no backlog: a scheduled delivery is not counted in the queue depths
    assert [q for q in store.queue_depths() if q[0] == "council-luton" and q[1] == "pending"] == []
    # the embedded scheduler's own round leaves a timer a push notice waits on to that notice's claim
    assert store.due_timers(DUE + 10, 10) == []
    assert store.verify_audit().ok


def test_a_claim_before_the_time_gets_nothing_and_at_the_time_fires_the_timer_once(store: Store) -> None:
    new = open_with_notices(store)
    assert asyncio.run(store.claim(10, REMIND - 10, 30)) == []
    assert timer_states(store, new)["remind"] == ("pending", None)
    [job] = asyncio.run(store.claim(10, REMIND + 1, 300))  # its lease lasts past the due notice's claims
    assert [e.kind for e in job.events] == ["milestone_reminded"]  # for observers, from the claim's commit
    assert timer_states(store, new) == {"remind": ("fired", "notice"), "due": ("pending", None)}
    assert store.milestones(milestone_id=new.id)[0]["state"] == "reminded"
    assert asyncio.run(store.claim(10, REMIND + 2, 30)) == []  # the due notice is not due yet
    [due_job] = asyncio.run(store.claim(10, DUE + 1, 30))
    assert [e.kind for e in due_job.events] == ["milestone_breached"]
    assert store.milestones(milestone_id=new.id)[0]["state"] == "breached"
    # the lease ran out: claimed again, the notice goes again (its timer stays fired once)
    [again] = asyncio.run(store.claim(10, DUE + 100, 30))
    assert again.delivery_id == due_job.delivery_id and again.events == ()
    timeline = store.message_view(new.start_record)["timeline"]  # type: ignore[index]
    assert [e["event"] for e in timeline if e["event"].startswith("milestone_")] == [
        "milestone_opened", "milestone_reminded", "milestone_breached"]  # fmt: skip
    assert store.verify_audit().ok


def test_a_close_cancels_the_notices_in_its_own_commit_and_they_are_never_delivered(store: Store) -> None:
    new = open_with_notices(store)
    store.accept_now(plan("closing", to=(), at=NOW + 10))
    after, rows = store.pathway_events(100)
    closing = MilestoneClosing(new.id, "closing-record", NOW + 10)
    events = store.apply_pathway(PathwayChanges(after, int(rows[-1][0]), closed=[closing]), NOW + 10, False) or []
    assert [e.kind for e in events] == ["milestone_met", "cancelled", "cancelled"]
    assert {e.detail["reason"] for e in events[1:]} == {"milestone closed"}
    for action in ("remind", "due"):
        assert [d["state"] for d in notice_deliveries(store, new, action)] == ["cancelled"]
    assert asyncio.run(store.claim(10, DUE + 10, 30)) == []
    assert timer_states(store, new) == {"remind": ("cancelled", None), "due": ("cancelled", None)}
    assert store.verify_audit().ok


def test_a_pathway_closed_as_a_whole_cancels_its_scheduled_notices(store: Store) -> None:
    new = open_with_notices(store)
    events = store.close_pathway(PathwayClosing("c-1", "readmission", NOW + 5, "ops"), False)
    assert [e.kind for e in events] == ["pathway_closed", "milestone_cancelled", "cancelled", "cancelled"]
    assert {e.actor for e in events[2:]} == {"ops"}
    assert events[0].detail["milestones_cancelled"] == 1
    assert asyncio.run(store.claim(10, DUE + 10, 30)) == []
    assert [d["state"] for d in notice_deliveries(store, new, "due")] == ["cancelled"]


def test_a_notice_whose_timer_is_no_longer_pending_is_cancelled_by_its_claim(opened: Opened) -> None:
    store = opened.store
    new = open_with_notices(store)
    # a timer cancelled without its delivery (as a store written before the link would hold it)
    assert opened.execute("UPDATE pathway_timers SET state = 'cancelled' WHERE id = ?", f"{new.id}.remind") == 1
    claimed = asyncio.run(store.claim(10, REMIND + 1, 30))
    assert claimed == []
    [reminder] = notice_deliveries(store, new, "remind")
    assert reminder["state"] == "cancelled" and reminder["attempts"] == 0
    # observers are told (Claimed.told), as of the notices a close cancels
    [told] = claimed.told
    assert (told.kind, told.delivery_id, told.detail["reason"]) == ("cancelled", reminder["id"], "timer cancelled")
    assert store.verify_audit().ok


def test_a_timer_fired_by_a_notice_whose_body_cannot_be_read_is_told_all_the_same(opened: Opened) -> None:
    new = open_with_notices(opened.store)
    wrong = opened.reopen(CodecRegistry(PlainCodec()))  # does not know the codec the notice was written with
    try:
        claimed = asyncio.run(wrong.claim(10, REMIND + 1, 30))
        assert claimed == []  # the notice is dead-lettered, not handed out
        [reminder] = notice_deliveries(wrong, new, "remind")
        assert reminder["state"] == "dead"
        # the timer its claim fired stays fired, and observers hear it with the dead-lettering
        assert timer_states(wrong, new)["remind"] == ("fired", "notice")
        assert [e.kind for e in claimed.told] == ["milestone_reminded", "dead_lettered"]
    finally:
        wrong.close()


def test_two_claimers_racing_fire_the_timer_once_and_send_each_delivery_once(opened: Opened) -> None:
    store = opened.store
    two = (("council-luton", "push"), ("trust-a", "push"))
    new = open_with_notices(store, due_to=two, remind_to=())
    others = [opened.reopen() for _ in range(2)]
    claimed: list[tuple[str, int]] = []
    barrier = threading.Barrier(len(others))

    def claim(one: Store) -> None:
        barrier.wait()
        for _ in range(3):  # a delivery left for the next claim (its milestone held by the other) goes then
            for job in asyncio.run(one.claim(10, DUE + 1, 60)):
                claimed.append((job.delivery_id, len(job.events)))

    threads = [threading.Thread(target=claim, args=(s,)) for s in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in others:
        s.close()
    deliveries = notice_deliveries(store, new, "due")
    assert sorted(d for d, _ in claimed) == sorted(str(d["id"]) for d in deliveries)  # each once
    assert sum(n for _, n in claimed) == 1  # one claim fired the timer, and carried its event
    assert timer_states(store, new)["due"] == ("fired", "notice")
    timeline = store.message_view(new.start_record)["timeline"]  # type: ignore[index]
    assert [e["event"] for e in timeline].count("milestone_breached") == 1
    assert "timer_fire" not in [e["event"] for e in timeline]
    assert store.verify_audit().ok


def test_a_pull_partner_sees_a_notice_only_once_its_timer_fired(store: Store) -> None:
    new = open_with_notices(store, due_to=(("hostel-a", "pull"),), remind_to=(("hostel-a", "pull"),))
    [reminder] = notice_deliveries(store, new, "remind")
    assert reminder["state"] == "available" and reminder["scheduled_until"] is not None
    assert store.inbox("hostel-a", 10) == []
    assert store.ack_inbox("hostel-a", str(reminder["id"]), NOW) is None
    assert [q for q in store.queue_depths() if q[0] == "hostel-a"] == []
    # no push delivery waits on these timers: the embedded scheduler's round fires them at their time
    assert store.due_timers(REMIND - 10, 10) == []
    assert store.due_timers(REMIND + 1, 10) == [f"{new.id}.remind"]
    assert store.fire_timer(f"{new.id}.remind", REMIND + 1, "embedded").outcome == "fired"
    assert [j.delivery_id for j in store.inbox("hostel-a", 10)] == [reminder["id"]]
    assert store.ack_inbox("hostel-a", str(reminder["id"]), REMIND + 2) is not None
    assert store.verify_audit().ok


def test_a_timer_fired_otherwise_releases_its_scheduled_notice(store: Store) -> None:
    new = open_with_notices(store)
    result = store.fire_timer(f"{new.id}.due", DUE, "airflow")  # an operator's or a callback's fire, at its time
    assert result.outcome == "fired" and result.notice_stored
    jobs = asyncio.run(store.claim(10, DUE + 1, 30))  # the reminder's too, whose claim fires its timer
    [due] = notice_deliveries(store, new, "due")
    [job] = [j for j in jobs if j.delivery_id == due["id"]]
    assert job.events == () and len(jobs) == 2
    assert timer_states(store, new)["due"] == ("fired", "airflow")
