"""The ``airflow`` scheduler against a real Airflow 3.3 (``airflow standalone``), with due times seconds away.

What the hub asks (trigger, replace, delete, list) is checked in Airflow's own API; when a run fires is checked
by the DAG's task calling back a loopback server (``callback_hub``), whose clock is this machine's. Airflow is
slow to start a task on a busy machine (seconds to tens of seconds), so "fires" waits generously while "not
before" is exact. Each test uses timer ids of its own: the session shares one Airflow.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest
from callback_hub import CallbackHub
from hub_airflow.scheduler import AirflowScheduler, open_airflow_scheduler, run_id_of
from hub_airflow.testing import AirflowStandalone

from hub import SchedulerUnavailable
from hub.testing import wait_until

FIRE_WAIT = 120.0
"""Seconds a due run may take to call back on a loaded machine (typically 1-20 s)."""
IN_FLIGHT_TRY_SECONDS = 45.0
"""Seconds within which a try already started when its run is cancelled has made its call or been stopped: Airflow's
task supervisor heartbeats at most every 5 s ([workers] min_heartbeat_interval), is answered 409 or 404 once the run
is failed or deleted, and kills the task (SIGTERM, SIGKILL 5 s later); a request of the task's that Airflow's API is
slow to answer (its SQLite busy) is retried for up to about 31 s first."""


def timer(label: str) -> str:
    """A fresh timer id: the session's Airflow keeps every run of earlier tests."""
    return f"t{secrets.token_hex(4)}-{label}.due"


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def run_state(airflow: AirflowStandalone, timer_id: str) -> str | None:
    run = airflow.run(run_id_of(timer_id))
    return None if run is None else str(run["state"])


def test_a_timer_fires_at_its_time_and_not_before(
    scheduler: AirflowScheduler, airflow_standalone: AirflowStandalone, callback_hub: CallbackHub
) -> None:
    timer_id, due = timer("fires"), soon(8)
    scheduler.schedule(timer_id, due, {})
    run = airflow_standalone.run(run_id_of(timer_id))
    assert run is not None
    assert run["state"] == "queued"
    assert datetime.fromisoformat(run["run_after"]) == due
    assert run["conf"] == {"timer_id": timer_id, "hub_url": callback_hub.url}
    assert scheduler.queued()[timer_id] == due

    assert wait_until(lambda: callback_hub.calls_for(timer_id), FIRE_WAIT, 0.2), "the run never called back"
    [call] = callback_hub.calls_for(timer_id)
    assert call.at >= due.timestamp(), f"fired {due.timestamp() - call.at:.2f} s before its due time"
    assert call.authorization == f"Bearer {airflow_standalone.env['HUB_SCHEDULER_TOKEN']}"
    assert call.body == b"{}"
    assert wait_until(lambda: run_state(airflow_standalone, timer_id) == "success", 30, 0.5)
    assert timer_id not in scheduler.queued()


def test_scheduling_again_is_idempotent_and_a_moved_due_time_replaces_the_run(
    scheduler: AirflowScheduler, airflow_standalone: AirflowStandalone
) -> None:
    timer_id, due = timer("again"), soon(600)
    scheduler.schedule(timer_id, due, {})
    first = airflow_standalone.run(run_id_of(timer_id))
    scheduler.schedule(timer_id, due, {})  # a retry after a lost answer: 409 from Airflow, a success here
    assert airflow_standalone.run(run_id_of(timer_id)) == first

    later = due + timedelta(hours=1)
    scheduler.schedule(timer_id, later, {})
    moved = airflow_standalone.run(run_id_of(timer_id))
    assert moved is not None
    assert datetime.fromisoformat(moved["run_after"]) == later
    assert moved["state"] == "queued"
    assert scheduler.queued()[timer_id] == later
    scheduler.cancel(timer_id)


def test_cancel_deletes_the_queued_run_so_it_never_calls_back(
    scheduler: AirflowScheduler, airflow_standalone: AirflowStandalone, callback_hub: CallbackHub
) -> None:
    cancelled, kept, due = timer("cancelled"), timer("kept"), soon(6)
    scheduler.schedule(cancelled, due, {})
    scheduler.schedule(kept, due, {})
    scheduler.cancel(cancelled)
    scheduler.cancel(cancelled)  # an unknown run (404) is a success
    scheduler.cancel(timer("never-scheduled"))
    assert airflow_standalone.run(run_id_of(cancelled)) is None
    assert cancelled not in scheduler.queued()

    # the kept run, due at the same time, calls back; by then the cancelled one would have too
    assert wait_until(lambda: callback_hub.calls_for(kept), FIRE_WAIT, 0.2)
    assert wait_until(lambda: run_state(airflow_standalone, kept) == "success", 30, 0.5)
    assert callback_hub.calls_for(cancelled) == []
    assert airflow_standalone.run(run_id_of(cancelled)) is None


def test_queued_lists_every_held_run_across_pages(scheduler: AirflowScheduler) -> None:
    from hub_airflow import scheduler as module

    timers = {timer(f"page{i}"): soon(900 + i) for i in range(5)}
    for timer_id, due in timers.items():
        scheduler.schedule(timer_id, due, {})
    page, module.PAGE = module.PAGE, 2  # five runs over three pages of two
    try:
        held = scheduler.queued()
    finally:
        module.PAGE = page
    assert {t: held.get(t) for t in timers} == timers
    for timer_id in timers:
        scheduler.cancel(timer_id)
    assert not set(timers) & set(scheduler.queued())


def test_a_finished_run_for_a_timer_the_hub_still_holds_open_is_replaced(
    scheduler: AirflowScheduler, airflow_standalone: AirflowStandalone, callback_hub: CallbackHub
) -> None:
    """Reconcile schedules an open timer whose run failed (the hub was down through every retry): it runs again."""
    timer_id = timer("refused")
    callback_hub.script[timer_id] = [(422, "")]  # a refusal that retrying cannot mend: the task fails at once
    scheduler.schedule(timer_id, soon(0), {})
    assert wait_until(lambda: run_state(airflow_standalone, timer_id) == "failed", FIRE_WAIT, 0.5)
    assert len(callback_hub.calls_for(timer_id)) == 1
    assert airflow_standalone.task_tries(run_id_of(timer_id)) == 1

    scheduler.schedule(timer_id, soon(0), {})
    assert wait_until(lambda: len(callback_hub.calls_for(timer_id)) == 2, FIRE_WAIT, 0.2)
    assert wait_until(lambda: run_state(airflow_standalone, timer_id) == "success", 30, 0.5)


def test_the_task_retries_while_the_hub_answers_5xx_or_not_yet_due_and_stops_at_a_final_outcome(
    scheduler: AirflowScheduler, airflow_standalone: AirflowStandalone, callback_hub: CallbackHub
) -> None:
    timer_id = timer("retried")
    callback_hub.script[timer_id] = [(503, ""), (200, "not_yet_due"), (200, "already_fired")]
    scheduler.schedule(timer_id, soon(0), {})
    assert wait_until(lambda: run_state(airflow_standalone, timer_id) == "success", FIRE_WAIT * 2, 0.5)
    assert len(callback_hub.calls_for(timer_id)) == 3
    assert airflow_standalone.task_tries(run_id_of(timer_id)) == 3


def cancelled_now(scheduler: AirflowScheduler, timer_id: str) -> bool:
    """Cancel ``timer_id``; False when Airflow was unavailable for it (try again, as the hub does)."""
    try:
        scheduler.cancel(timer_id)
    except SchedulerUnavailable:
        return False
    return True


def test_the_task_retries_while_the_hub_is_unreachable_and_cancel_stops_a_retrying_run(
    scheduler: AirflowScheduler, airflow_standalone: AirflowStandalone, callback_hub: CallbackHub
) -> None:
    retried, cancelled = timer("unreachable"), timer("cancelled-while-retrying")
    callback_hub.stop()
    try:
        scheduler.schedule(retried, soon(0), {})
        scheduler.schedule(cancelled, soon(0), {})
        for timer_id in (retried, cancelled):
            run_id = run_id_of(timer_id)
            assert wait_until(lambda: airflow_standalone.task_tries(run_id) >= 2, FIRE_WAIT * 2, 0.5)  # noqa: B023
            assert run_state(airflow_standalone, timer_id) == "running"  # failed once, waiting to retry
        assert {retried, cancelled} <= set(scheduler.queued())  # running runs are still held un-fired
        # Airflow refuses to delete a running run: it is marked failed, then deleted. On SQLite Airflow may answer
        # 500 ("database is locked") meanwhile: SchedulerUnavailable, which the hub retries; so does this test.
        assert wait_until(lambda: cancelled_now(scheduler, cancelled), 60, 1.0)
        assert airflow_standalone.run(run_id_of(cancelled)) is None
        # A try whose process had started before the run was marked failed still makes its one call (the hub
        # answers it from its own record: the timer is closed). Keep the hub unreachable until such a try is over,
        # so that a call arriving later can only come from a try begun after the cancel.
        time.sleep(IN_FLIGHT_TRY_SECONDS)
    finally:
        callback_hub.start()
    # the hub came back up to IN_FLIGHT_TRY_SECONDS later than the cancel: the retried run's next try may be more
    # than a minute away by then (the delay doubles after each try)
    assert wait_until(lambda: run_state(airflow_standalone, retried) == "success", FIRE_WAIT * 2, 0.5)
    assert len(callback_hub.calls_for(retried)) == 1
    assert callback_hub.calls_for(cancelled) == []


def test_the_task_never_sends_the_token_to_a_hub_url_other_than_the_configured_one(
    scheduler: AirflowScheduler, airflow_standalone: AirflowStandalone, callback_hub: CallbackHub
) -> None:
    """With Variable hub_pathway_hub_url set (by the callback_hub fixture), a run whose conf names another URL fails
    without calling it; with no hub URL configured, a run calls nothing, whatever its conf names."""
    elsewhere = CallbackHub(token="")
    elsewhere.start()
    try:
        diverted, honest = timer("diverted"), timer("honest")
        scheduler.schedule(diverted, soon(0), {"hub_url": elsewhere.url})
        scheduler.schedule(honest, soon(0), {})
        assert wait_until(lambda: run_state(airflow_standalone, diverted) == "failed", FIRE_WAIT, 0.5)
        assert wait_until(lambda: run_state(airflow_standalone, honest) == "success", FIRE_WAIT, 0.5)
        assert airflow_standalone.api("DELETE", "/variables/hub_pathway_hub_url").status_code == 204
        unset = timer("unset")
        scheduler.schedule(unset, soon(0), {"hub_url": elsewhere.url})
        assert wait_until(lambda: airflow_standalone.task_tries(run_id_of(unset)) >= 2, FIRE_WAIT, 0.5)
        # it would retry for ever (and, with the hub URL set again, fail on its conf's URL): cancelled; on SQLite
        # Airflow may answer 500 ("database is locked") meanwhile, which the hub retries, as this test does
        assert wait_until(lambda: cancelled_now(scheduler, unset), 60, 1.0)
    finally:
        airflow_standalone.set_variable("hub_pathway_hub_url", callback_hub.url)
        elsewhere.stop()
    assert elsewhere.calls == []
    assert airflow_standalone.task_tries(run_id_of(diverted)) == 1
    assert len(callback_hub.calls_for(honest)) == 1
    assert callback_hub.calls_for(unset) == []


def test_a_wrong_password_or_token_is_a_scheduler_unavailable_naming_what_airflow_said(
    airflow_standalone: AirflowStandalone, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_AIRFLOW_USERNAME", "hub")
    monkeypatch.setenv("HUB_AIRFLOW_PASSWORD", "not-the-password")
    wrong_password = open_airflow_scheduler(airflow_standalone.settings("http://127.0.0.1:9"))
    with pytest.raises(SchedulerUnavailable, match="refused to sign the hub in with the configured user"):
        wrong_password.schedule(timer("wrong-password"), soon(600), {})

    monkeypatch.setenv("HUB_AIRFLOW_TOKEN", "not-a-jwt")
    wrong_token = open_airflow_scheduler({"url": airflow_standalone.url, "hub_url": "http://127.0.0.1:9",
                                          "token_env": "HUB_AIRFLOW_TOKEN"})  # fmt: skip
    with pytest.raises(SchedulerUnavailable, match="answered 403: Invalid JWT token"):
        wrong_token.queued()
    assert wrong_token.tokens.sign_ins == 2  # read, refused, read again (a rotated token needs no restart)

    monkeypatch.setenv("HUB_AIRFLOW_TOKEN", airflow_standalone.token())
    assert isinstance(wrong_token.queued(), dict)
    # open sign-in is the all-admins development mode: this Airflow has users, so it refuses it
    with pytest.raises(SchedulerUnavailable, match="without credentials"):
        open_airflow_scheduler({"url": airflow_standalone.url, "hub_url": "http://127.0.0.1:9"}).queued()


def test_a_dag_that_is_not_deployed_is_a_scheduler_unavailable(
    airflow_standalone: AirflowStandalone, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in airflow_standalone.credentials_env().items():
        monkeypatch.setenv(name, value)
    missing = open_airflow_scheduler(airflow_standalone.settings("http://127.0.0.1:9", dag_id="not_deployed"))
    with pytest.raises(SchedulerUnavailable, match=r"DAG not_deployed\) answered 404"):
        missing.schedule(timer("no-dag"), soon(600), {})


def expired_copy(token: str, secret: str) -> str:
    """``token`` (an Airflow JWT) with its times moved a minute into the past, signed again with Airflow's key."""
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    now = int(time.time())
    claims.update(iat=now - 120, nbf=now - 120, exp=now - 60)
    signed = f"{header}.{b64(json.dumps(claims).encode())}"
    return f"{signed}.{b64(hmac.new(secret.encode(), signed.encode(), hashlib.sha512).digest())}"


def test_the_scheduler_signs_in_again_when_airflow_refuses_its_token_as_expired_or_invalid(
    airflow_standalone: AirflowStandalone, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Airflow answers 401 for an expired token and 403 "Invalid JWT token" for one it cannot verify (its signing
    key changed): the scheduler reads or fetches a new token once and repeats the call."""
    valid = airflow_standalone.token()
    settings = {"url": airflow_standalone.url, "hub_url": "http://127.0.0.1:9", "token_env": "HUB_AIRFLOW_TOKEN"}
    for stale, refusal in ((expired_copy(valid, airflow_standalone.jwt_secret), "401"),
                           (expired_copy(valid, "another key"), "403")):  # fmt: skip
        monkeypatch.setenv("HUB_AIRFLOW_TOKEN", stale)
        scheduler = open_airflow_scheduler(settings)
        with pytest.raises(SchedulerUnavailable, match=f"answered {refusal}"):
            scheduler.queued()  # refused, read again: the same stale token, refused again
        assert scheduler.tokens.sign_ins == 2
        monkeypatch.setenv("HUB_AIRFLOW_TOKEN", valid)  # the token is rotated where the hub reads it
        assert isinstance(scheduler.queued(), dict)
        assert scheduler.tokens.sign_ins == 3
