"""An external scheduler behind the hook: told of timers after the commit, retried with backoff while it is
unavailable, shown while pending, and reconciled after drift. The scheduler here is a small in-memory one
standing in for a remote service (the Airflow plugin's suite runs the same behaviour against a real Airflow)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

import pytest
from contract.stores import T0, open_test_store
from pathway.service_kit import discharge, pathway_service

from hub.config import PathwaySettings
from hub.plugin_api.problems import SchedulerUnavailable
from hub.services.pathway import PathwayService


class RemoteScheduler:
    """Holds queued runs like a remote scheduler; ``down`` makes every call fail as an unreachable one would."""

    in_store = False

    def __init__(self) -> None:
        self.runs: dict[str, datetime] = {}
        self.down = False
        self.cancels_refused = 0  # the next this many cancels fail as a scheduler's own error (a 500) would
        self.calls = 0
        self.during_schedule: Callable[[], object] | None = None  # what happens while the next call is on its way
        self.lose_answers = False  # calls are taken, but fail as a timeout would

    def _reach(self) -> None:
        self.calls += 1
        if self.down:
            raise SchedulerUnavailable("connection refused")

    def schedule(self, timer_id: str, due_at: datetime, conf: Mapping[str, str]) -> None:
        self._reach()
        if self.during_schedule is not None:
            during, self.during_schedule = self.during_schedule, None
            during()
        assert conf["timer_id"] == timer_id and set(conf) == {"timer_id", "hub_url"}
        self.runs.setdefault(timer_id, due_at)
        if self.lose_answers:
            raise SchedulerUnavailable("read timed out")

    def cancel(self, timer_id: str) -> None:
        self._reach()
        if self.cancels_refused:
            self.cancels_refused -= 1
            raise SchedulerUnavailable("answered 500: database is locked")
        self.runs.pop(timer_id, None)

    def queued(self) -> dict[str, datetime] | None:
        self._reach()
        return dict(self.runs)

    def close(self) -> None:
        pass


@pytest.fixture
def service(tmp_path: Path) -> PathwayService:
    store = open_test_store(tmp_path)
    settings = PathwaySettings("remote", {"remote": {"hub_url": "http://hub.invalid"}}, (), 1.0, 2.0, 30.0)
    clock = [T0]
    service = pathway_service(store, RemoteScheduler(), lambda: clock[0], settings)
    service.now = clock  # type: ignore[attr-defined]
    return service


def test_timers_wait_for_an_unavailable_scheduler_with_growing_waits_then_reach_it(service: PathwayService) -> None:
    scheduler: RemoteScheduler = service.scheduler  # type: ignore[assignment]
    scheduler.down = True
    discharge(service)
    service.step()
    pending = service.store.pending_syncs()
    assert [(p[1], p[3], p[4]) for p in pending] == [("schedule", 1, T0 + 2.0)] * 2
    assert all(p[5] and "connection refused" in p[5] for p in pending)
    calls = scheduler.calls
    service.now[0] = T0 + 1.0  # type: ignore[attr-defined]
    service.step()
    assert scheduler.calls == calls, "retried before its wait was over"
    service.now[0] = T0 + 2.5  # type: ignore[attr-defined]
    service.step()
    assert [(p[3], p[4]) for p in service.store.pending_syncs()] == [(2, T0 + 2.5 + 4.0)] * 2
    scheduler.down = False
    service.now[0] = T0 + 7  # type: ignore[attr-defined]
    service.step()
    assert service.store.pending_syncs() == []
    due = {t: d.timestamp() for t, d in scheduler.runs.items()}
    assert sorted(due.values()) == [T0 + 48 * 3600, T0 + 72 * 3600]


def test_the_wait_between_attempts_stops_growing_at_its_cap(service: PathwayService) -> None:
    scheduler: RemoteScheduler = service.scheduler  # type: ignore[assignment]
    scheduler.down = True
    discharge(service)
    for _ in range(8):
        service.step()
        nxt = min(p[4] or 0.0 for p in service.store.pending_syncs())
        service.now[0] = nxt  # type: ignore[attr-defined]
    waits = {(p[4] or 0.0) - service.now[0] for p in service.store.pending_syncs()}  # type: ignore[attr-defined]
    assert waits <= {0.0} and service.store.pending_syncs()[0][3] == 8
    service.step()
    latest = max(p[4] or 0.0 for p in service.store.pending_syncs())
    assert latest - service.now[0] == 30.0  # type: ignore[attr-defined]


def test_a_pathway_closed_early_cancels_the_queued_runs(service: PathwayService) -> None:
    scheduler: RemoteScheduler = service.scheduler  # type: ignore[assignment]
    correlation = discharge(service)
    service.step()
    assert len(scheduler.runs) == 2
    service.close_pathway(correlation, "readmission", "ops")
    scheduler.down = True
    service.step()
    assert {p[1] for p in service.store.pending_syncs()} == {"cancel"} and len(scheduler.runs) == 2
    scheduler.down = False
    service.now[0] += 10  # type: ignore[attr-defined]
    service.step()
    assert scheduler.runs == {} and service.store.pending_syncs() == []


def test_a_pathway_closed_while_the_scheduler_takes_its_schedule_calls_has_those_runs_cancelled(
    service: PathwayService,
) -> None:
    scheduler: RemoteScheduler = service.scheduler  # type: ignore[assignment]
    correlation = discharge(service)
    # the close commits while the first schedule call is on its way: the hub had told the scheduler nothing yet
    scheduler.during_schedule = lambda: service.close_pathway(correlation, "readmission", "ops")
    service.step()
    assert len(scheduler.runs) == 2, "the scheduler took both calls"
    assert sorted(p[1] for p in service.store.pending_syncs()) == ["cancel", "cancel"]
    service.step()
    assert scheduler.runs == {} and service.store.pending_syncs() == [], "a closed milestone's run stayed queued"


def test_a_pathway_closed_while_its_schedule_calls_fail_has_the_runs_they_made_cancelled_then_confirmed(
    service: PathwayService,
) -> None:
    scheduler: RemoteScheduler = service.scheduler  # type: ignore[assignment]
    correlation = discharge(service)
    scheduler.lose_answers = True  # the scheduler takes each call; the hub hears a timeout
    scheduler.during_schedule = lambda: service.close_pathway(correlation, "readmission", "ops")
    service.step()
    assert len(scheduler.runs) == 2
    assert sorted(p[1] for p in service.store.pending_syncs()) == ["cancel_uncertain"] * 2
    scheduler.lose_answers = False
    service.step()
    assert scheduler.runs == {}, "a run a failed call made after the close stayed queued"
    assert sorted(p[1] for p in service.store.pending_syncs()) == ["confirm_cancel"] * 2


def test_a_pathway_closed_after_failed_schedule_calls_is_cancelled_and_cancelled_again_after_a_while(
    service: PathwayService,
) -> None:
    scheduler: RemoteScheduler = service.scheduler  # type: ignore[assignment]
    scheduler.down = True
    correlation = discharge(service)
    service.step()  # both calls fail, as a timeout would: the scheduler may have taken them all the same
    timers = sorted(service.store.pending_timers())
    service.close_pathway(correlation, "readmission", "ops")
    assert sorted(p[1] for p in service.store.pending_syncs()) == ["cancel_uncertain"] * 2
    scheduler.down = False
    service.now[0] = T0 + 5  # type: ignore[attr-defined]
    service.step()  # cancelled (nothing is queued yet), and to be cancelled again in cancel_confirm_seconds
    assert [(p[1], p[4]) for p in service.store.pending_syncs()] == [("confirm_cancel", T0 + 5 + 60.0)] * 2
    for timer in timers:  # the failed calls' runs appear after the first cancel
        scheduler.runs[timer] = datetime.fromtimestamp(T0 + 3600).astimezone()
    service.now[0] = T0 + 64  # type: ignore[attr-defined]
    service.step()
    assert len(scheduler.runs) == 2, "confirmed before its time"
    service.now[0] = T0 + 65  # type: ignore[attr-defined]
    service.step()
    assert scheduler.runs == {} and service.store.pending_syncs() == []
    synced = [e["detail"] for e in service.store.audit_events(kind="scheduler_sync", limit=100)]
    assert [d["result"] for d in synced if d["sync"] == "cancel_uncertain"] == ["confirm"] * 2
    assert [d["result"] for d in synced if d["sync"] == "confirm_cancel"] == ["done"] * 2


def test_a_schedule_asked_again_by_reconcile_still_remembers_its_failed_calls_when_the_pathway_closes(
    service: PathwayService,
) -> None:
    """Reconcile asks again for the schedule of timers the scheduler does not list; a close that comes before that
    call must still cancel whatever the earlier, failed calls may have queued."""
    scheduler: RemoteScheduler = service.scheduler  # type: ignore[assignment]
    scheduler.down = True
    correlation = discharge(service)
    service.step()  # both schedule calls fail, as a timeout would: they may have reached the scheduler
    timers = sorted(service.store.pending_timers())
    service.store.request_sync(timers, "schedule")  # what reconcile asks before its own sync calls
    assert [p[3] for p in service.store.pending_syncs()] == [1, 1]  # the failed calls are not forgotten
    service.close_pathway(correlation, "readmission", "ops")
    assert sorted(p[1] for p in service.store.pending_syncs()) == ["cancel_uncertain"] * 2


def test_reconcile_schedules_what_the_scheduler_lost_and_cancels_what_the_hub_does_not_wait_for(
    service: PathwayService,
) -> None:
    scheduler: RemoteScheduler = service.scheduler  # type: ignore[assignment]
    discharge(service)
    service.step()
    lost = sorted(scheduler.runs)[0]
    del scheduler.runs[lost]
    stray = f"{uuid.uuid4().hex}.due"
    scheduler.runs[stray] = datetime.fromtimestamp(T0).astimezone()
    result = service.reconcile()
    assert result == {"scheduled": [lost], "cancelled": [stray], "not_cancelled": []}
    assert lost in scheduler.runs and stray not in scheduler.runs
    assert service.reconcile() == {"scheduled": [], "cancelled": [], "not_cancelled": []}
    # a scheduler that refuses a cancel now and then: tried again at once; one that keeps refusing is reported
    scheduler.runs[stray] = datetime.fromtimestamp(T0).astimezone()
    scheduler.cancels_refused = 2
    assert service.reconcile() == {"scheduled": [], "cancelled": [stray], "not_cancelled": []}
    scheduler.runs[stray] = datetime.fromtimestamp(T0).astimezone()
    scheduler.cancels_refused = 100
    assert service.reconcile() == {"scheduled": [], "cancelled": [], "not_cancelled": [stray]}
    assert stray in scheduler.runs
    scheduler.cancels_refused = 0
    scheduler.down = True
    with pytest.raises(SchedulerUnavailable):
        service.reconcile()


def test_a_callback_fires_the_timer_once_and_sends_the_notice_once(service: PathwayService) -> None:
    discharge(service)
    service.step()
    due = next(t for t in service.store.pending_timers() if t.endswith(".due"))
    service.now[0] = T0 + 72 * 3600  # type: ignore[attr-defined]
    assert service.fire(due, fired_by="remote") == "fired"
    assert service.fire(due, fired_by="remote") == "already_fired"
    notices = service.store.list_messages(message_type="PathwayNotice")
    assert len(notices) == 1 and service.store.unsent_notices(10) == []
    view = service.store.message_view(notices[0]["id"])
    assert [d["partner"] for d in view["deliveries"]] == ["trust-elft"]  # type: ignore[index]


def test_a_timer_fired_by_a_process_that_stopped_before_sending_its_notice_sends_it_once_after(
    service: PathwayService,
) -> None:
    discharge(service)
    service.step()
    due = next(t for t in service.store.pending_timers() if t.endswith(".due"))
    # what a process that stopped between the two commits leaves: the timer fired, no notice stored
    assert service.store.fire_timer(due, T0 + 72 * 3600, "remote").outcome == "fired"
    assert service.store.unsent_notices(10) == [due]
    service.step()
    service.step()
    assert len(service.store.list_messages(message_type="PathwayNotice")) == 1
    assert service.store.unsent_notices(10) == []
    # two processes sending the same notice at once store it once (its message id is the timer's)
    milestone = service.store.milestones(milestone_id=due.rpartition(".")[0])[0]
    service._send_notice(due, milestone, "due")
    assert len(service.store.list_messages(message_type="PathwayNotice")) == 1
