"""The pathway on a running hub, for every scheduler backend (``scheduler_backend`` in conftest.py)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pathway.kit import PathwayWorld, milestone_toml, wait_until

from hub.testing.messages import discharge_notice, example
from hub.testing.metrics_text import parse_samples, sample

LONG = 3600  # seconds: a due time no test reaches, for cases where nothing must fire (no flake on a loaded machine)


def start_pathway(pw: PathwayWorld) -> tuple[str, dict[str, Any]]:
    """Send a DischargeNotice from trust-a; return its message id (the pathway's correlation id) and milestone."""
    notice = discharge_notice()
    response = pw.world.send("trust-a", notice)
    assert response.status_code == 202, response.text
    milestone = wait_until(lambda: pw.milestone(notice["message_id"]))
    assert milestone is not None, "no milestone opened"
    return notice["message_id"], milestone


def at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def notices(pw: PathwayWorld, partner: str = "trust-a", kind: str | None = None) -> list[dict[str, Any]]:
    found = pw.world.sims[partner].messages("PathwayNotice")
    return [n for n in found if kind is None or n["payload"]["notice"] == kind]


def test_a_milestone_is_reminded_then_breached_at_its_times_and_not_before(
    make_pathway_world, scheduler_backend
) -> None:
    slack = scheduler_backend.slack  # the reminder must reach the hub before the due time does
    pw = make_pathway_world(milestone_toml(due_seconds=5 + slack, remind_seconds=3 + slack))
    correlation, milestone = start_pathway(pw)
    due_at, remind_at = at(milestone["due_at"]), at(milestone["remind_at"])
    assert 1.5 + slack <= due_at - remind_at <= 3.5 + slack and milestone["state"] == "open"
    seen_early = []
    while time.time() < due_at - 2.5:
        state = pw.milestone(correlation)["state"]
        if state == "breached":
            seen_early.append(time.time())
        time.sleep(0.2)
    assert not seen_early, "breached before its due time"
    assert wait_until(lambda: notices(pw, kind="due"), timeout=30 + slack)
    breached = pw.milestone(correlation)
    assert breached["state"] == "breached"
    assert at(breached["reminded_at"]) >= at(milestone["remind_at"]) - 2
    assert at(breached["breached_at"]) >= due_at - 2
    reminder, due = notices(pw, kind="reminder")[0], notices(pw, kind="due")[0]
    assert reminder["payload"]["milestone"] == "follow-up" and reminder["payload"]["responsible"] == "trust-a"
    assert due["payload"]["milestone_id"] == milestone["milestone_id"]
    assert {t["state"] for t in breached["timers"]} == {"fired"}
    time.sleep(1)
    assert len(notices(pw)) == 2, "a timer fired twice"


def test_a_closing_message_before_due_meets_the_milestone_and_cancels_its_timers(make_pathway_world) -> None:
    # due long after the test: the closing message cannot come late however loaded the machine
    pw = make_pathway_world(milestone_toml(due_seconds=LONG, remind_seconds=LONG // 2))
    correlation, milestone = start_pathway(pw)
    follow_up = example("follow-up", sender={"org_id": "trust-a"}, correlation_id=correlation)
    follow_up["payload"].update({"kind": "72h", "performed_at": "2026-12-01T10:00:00Z", "outcome": "contacted"})
    follow_up["recipient"] = {"org_id": "steps-luton"}
    response = pw.world.send("trust-a", follow_up)
    assert response.status_code == 202, response.text
    met = wait_until(lambda: (m := pw.milestone(correlation)) and m["state"] == "met" and m)
    assert met, pw.milestone(correlation)
    assert {t["state"] for t in met["timers"]} == {"cancelled"}
    if pw.backend.external:
        assert wait_until(lambda: not any(t.startswith(milestone["milestone_id"]) for t in pw.backend.queued()))
    # a cancelled timer's fire (a scheduler that did not hear of the cancel) changes nothing and sends nothing
    for timer in met["timers"]:
        assert pw.fire(timer["timer_id"]).json()["outcome"] == "closed"
    time.sleep(1)
    assert notices(pw) == [], "a cancelled timer sent a notice"
    assert pw.milestone(correlation)["state"] == "met"


def two_milestones(quick_seconds: float) -> str:
    """``milestone_toml``'s follow-up, due long after the test, and ``quick`` due in ``quick_seconds``."""
    quick = milestone_toml(due_seconds=quick_seconds, name="quick")
    block = quick[quick.index("[[milestone]]") : quick.index("[[close_pathway]]")]
    return milestone_toml(due_seconds=LONG) + "\n" + block


def test_a_duplicate_early_or_unknown_fire_changes_nothing_and_only_schedulers_may_fire(make_pathway_world) -> None:
    pw = make_pathway_world(two_milestones(quick_seconds=4))
    correlation, _ = start_pathway(pw)
    by_name = {m["milestone"]: m for m in pw.pathway(correlation)["milestones"]}
    early_timer, due_timer = (f"{by_name[n]['milestone_id']}.due" for n in ("follow-up", "quick"))
    early = pw.fire(early_timer)  # due long after the test: early whenever this runs
    assert early.status_code == 200 and early.json() == {"timer_id": early_timer, "outcome": "not_yet_due"}
    assert pw.fire(f"{uuid.uuid4().hex}.due").json()["outcome"] == "unknown"
    assert pw.fire(due_timer, token=pw.world.tokens["trust-a"]).status_code == 403
    assert pw.fire(due_timer, token=pw.world.tokens["ops"]).status_code == 403
    assert pw.fire(due_timer, token="hub_not-a-token").status_code == 401
    import requests

    other = requests.get(f"{pw.world.hub.url}/v1/pathways/{correlation}",
                         headers={"Authorization": f"Bearer {pw.scheduler_token}"}, timeout=10)  # fmt: skip
    assert other.status_code == 403

    def quick() -> dict[str, Any]:
        return next(m for m in pw.pathway(correlation)["milestones"] if m["milestone"] == "quick")

    assert wait_until(lambda: quick()["state"] == "breached", timeout=30 + pw.backend.slack)
    again = pw.fire(due_timer)
    assert again.json()["outcome"] == "already_fired"
    assert quick()["state"] == "breached"
    # the breach is recorded before its due notice is delivered: wait for the notice, then check it came once
    assert wait_until(lambda: len(notices(pw, kind="due")) >= 1, timeout=30 + pw.backend.slack)
    assert len(notices(pw, kind="due")) == 1
    assert next(m for m in pw.pathway(correlation)["milestones"] if m["milestone"] == "follow-up")["state"] == "open"
    view = pw.world.view(quick()["started_by"])
    outcomes = [e["detail"].get("outcome") for e in view["timeline"] if e["event"] == "timer_fire"]
    assert "not_yet_due" in outcomes and "already_fired" in outcomes


def test_timers_pending_while_the_hub_is_down_fire_once_when_it_is_back(make_pathway_world) -> None:
    pw = make_pathway_world(milestone_toml(due_seconds=4, remind_seconds=2))
    correlation, milestone = start_pathway(pw)
    from hub.testing.running_hub import RunningHub

    pw.world.hub.stop()
    time.sleep(max(0.0, at(milestone["due_at"]) - time.time()) + 0.5)
    pw.world.hub = RunningHub(pw.world.config_dir, port=pw.world.hub.port).start(timeout=90)
    assert wait_until(lambda: notices(pw, kind="due"), timeout=30 + pw.backend.slack)
    time.sleep(1)
    assert len(notices(pw, kind="due")) == 1 and len(notices(pw, kind="reminder")) <= 1
    assert pw.milestone(correlation)["state"] == "breached"


def pending_syncs(pw: PathwayWorld) -> list[dict[str, Any]]:
    result = pw.world.cli("pathway", "list", "--pending-syncs", "--json")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def test_the_scheduler_down_keeps_milestones_retries_shows_it_and_restarted_fires_each_once(
    make_pathway_world, scheduler_backend
) -> None:
    """An external scheduler taken down with one timer queued and another opened meanwhile: the hub keeps both
    milestones, retries telling the scheduler with backoff and shows the pending sync with its error; once the
    scheduler is back, each timer fires once, not before its time (the queued one survived the restart)."""
    if not scheduler_backend.external:
        pytest.skip("the embedded scheduler is the hub's own worker: the hub-down test covers its restart")
    pw = make_pathway_world(milestone_toml(due_seconds=20))
    queued_first, first = start_pathway(pw)
    first_timer = f"{first['milestone_id']}.due"
    assert wait_until(lambda: first_timer in (pw.backend.queued() or {}), timeout=30)
    pw.backend.stop()
    try:
        opened_while_down, second = start_pathway(pw)
        second_timer = f"{second['milestone_id']}.due"
        shown = wait_until(lambda: [r for r in pending_syncs(pw) if r["timer_id"] == second_timer
                                    and r["attempts"] >= 2 and r["last_error"]], timeout=60)  # fmt: skip
        assert shown, pending_syncs(pw)
        assert shown[0]["sync"] == "schedule" and "could not be reached" in shown[0]["last_error"]
        assert pw.milestone(opened_while_down)["state"] == "open"
    finally:
        pw.backend.start()
    # generous: Airflow starting again and its task starting take minutes on a loaded 2-core machine
    assert wait_until(lambda: len(notices(pw, kind="due")) == 2, timeout=120 + pw.backend.slack), notices(pw)
    assert wait_until(lambda: not [r for r in pending_syncs(pw) if r["timer_id"] == second_timer], timeout=60)
    for correlation, milestone in ((queued_first, first), (opened_while_down, second)):
        breached = pw.milestone(correlation)
        assert breached["state"] == "breached"
        assert at(breached["breached_at"]) >= at(milestone["due_at"]) - 2
    time.sleep(2)
    assert len(notices(pw, kind="due")) == 2, "a timer fired twice"


def test_a_milestone_closed_while_the_scheduler_is_down_has_its_run_cancelled_once_it_is_back(
    make_pathway_world, scheduler_backend
) -> None:
    """The cancel an early close asks for is kept, retried with backoff and shown while the external scheduler is
    down; once it is back the queued run is deleted (due long after the test: only the cancel removes it)."""
    if not scheduler_backend.external:
        pytest.skip("the embedded scheduler's timers are the store's rows: a close cancels them in its commit")
    pw = make_pathway_world(milestone_toml(due_seconds=LONG))
    correlation, milestone = start_pathway(pw)
    timer = f"{milestone['milestone_id']}.due"
    assert wait_until(lambda: timer in (pw.backend.queued() or {}), timeout=30)
    pw.backend.stop()
    try:
        closed = pw.world.as_("trust-a").post(f"{pw.world.hub.url}/v1/pathways/{correlation}/close",
                                              json={"reason": "readmission"}, timeout=10)  # fmt: skip
        assert closed.status_code == 200 and closed.json()["closed"] is True
        assert pw.milestone(correlation)["state"] == "cancelled"
        shown = wait_until(lambda: [r for r in pending_syncs(pw) if r["timer_id"] == timer
                                    and r["attempts"] >= 2 and r["last_error"]], timeout=30)  # fmt: skip
        assert shown and shown[0]["sync"] == "cancel" and "could not be reached" in shown[0]["last_error"], shown
    finally:
        pw.backend.start()
    assert wait_until(lambda: not [r for r in pending_syncs(pw) if r["timer_id"] == timer], timeout=60)
    assert timer not in (pw.backend.queued() or {}), "the run of a closed milestone is still queued"


def test_a_pathway_closed_as_a_whole_cancels_what_is_pending(make_pathway_world) -> None:
    pw = make_pathway_world(milestone_toml(due_seconds=LONG))
    correlation, _ = start_pathway(pw)
    refused = pw.world.as_("council-luton").post(f"{pw.world.hub.url}/v1/pathways/{correlation}/close",
                                                  json={"reason": "readmission"}, timeout=10)  # fmt: skip
    assert refused.status_code == 404  # not involved: it cannot even see the pathway
    closed = pw.world.as_("trust-a").post(f"{pw.world.hub.url}/v1/pathways/{correlation}/close",
                                          json={"reason": "readmission"}, timeout=10)  # fmt: skip
    assert closed.status_code == 200 and closed.json()["closed"] is True
    view = pw.pathway(correlation)
    assert view["closed"]["reason"] == "readmission"
    assert view["milestones"][0]["state"] == "cancelled"
    assert {t["state"] for t in view["milestones"][0]["timers"]} == {"cancelled"}
    # a correlation id with no milestones is not closed in advance, by an operator either
    unknown = str(uuid.uuid4())
    by_hand = pw.world.cli("pathway", "close", unknown, "--reason", "readmission")
    assert by_hand.returncode != 0 and f"no pathway {unknown}" in by_hand.stderr, by_hand.stdout + by_hand.stderr
    assert pw.world.as_("ops").post(f"{pw.world.hub.url}/v1/pathways/{unknown}/close", json={"reason": "death"},
                                    timeout=10).status_code == 404  # fmt: skip
    assert "closed" not in pw.world.cli("pathway", "show", unknown, "--json").stdout


def test_partners_see_only_the_pathways_they_are_involved_in(make_pathway_world) -> None:
    pw = make_pathway_world(milestone_toml(due_seconds=LONG))
    correlation, _ = start_pathway(pw)
    assert pw.pathway(correlation, who="trust-a") is not None
    assert pw.world.get("trust-b", f"/v1/pathways/{correlation}").status_code == 404
    assert pw.world.get("council-luton", f"/v1/pathways/{correlation}").status_code == 404


def test_reconcile_repairs_drift_both_ways(make_pathway_world) -> None:
    pw = make_pathway_world(milestone_toml(due_seconds=LONG))  # queued all through the test, however slow
    _, milestone = start_pathway(pw)
    if not pw.backend.external:
        result = pw.world.cli("pathway", "reconcile")
        assert result.returncode == 0 and "nothing to reconcile" in result.stdout, result.stdout + result.stderr
        return
    due_timer = f"{milestone['milestone_id']}.due"
    closed_correlation, closed = start_pathway(pw)  # a second pathway, closed: its timer is cancelled
    closed_timer = f"{closed['milestone_id']}.due"
    assert pw.world.as_("trust-a").post(f"{pw.world.hub.url}/v1/pathways/{closed_correlation}/close",
                                        json={"reason": "readmission"}, timeout=10).status_code == 200  # fmt: skip
    synced = wait_until(lambda: (q := pw.backend.queued() or {}) and due_timer in q and closed_timer not in q, 60)
    assert synced, (pw.backend.queued(), pending_syncs(pw))
    pw.backend.drop(due_timer)  # a run deleted behind the hub's back
    pw.backend.inject(closed_timer, datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10))  # closed
    stray = f"{uuid.uuid4().hex}.due"
    pw.backend.inject(stray, datetime.now(UTC).replace(microsecond=0))  # a timer the hub never had
    result = pw.world.cli("pathway", "reconcile")
    assert result.returncode == 0, result.stderr
    queued = pw.backend.queued() or {}
    assert due_timer in queued and stray not in queued and closed_timer not in queued


def test_operators_see_the_pathway_from_the_command_line_and_in_metrics(make_pathway_world) -> None:
    pw = make_pathway_world(two_milestones(quick_seconds=3))  # follow-up due in an hour, quick in 3 s
    notice = discharge_notice()
    assert pw.world.send("trust-a", notice).status_code == 202
    correlation = notice["message_id"]

    def states() -> dict[str, str]:
        view = pw.pathway(correlation)
        return {m["milestone"]: m["state"] for m in view["milestones"]} if view else {}

    assert wait_until(lambda: states().get("quick") == "breached", timeout=30 + pw.backend.slack), states()
    shown = pw.world.cli("pathway", "show", correlation)
    assert shown.returncode == 0, shown.stderr
    assert f"pathway {correlation}" in shown.stdout
    assert "quick" in shown.stdout and "trust-a" in shown.stdout and "breached" in shown.stdout
    assert "follow-up" in shown.stdout and "open" in shown.stdout
    by_person = pw.world.cli("pathway", "show", "--nhs-number", notice["payload"]["person"]["nhs_number"], "--json")
    assert by_person.returncode == 0, by_person.stderr
    assert correlation in [p["correlation_id"] for p in json.loads(by_person.stdout)]

    def listed(*options: str) -> list[tuple[str, str]]:
        result = pw.world.cli("pathway", "list", *options, "--json")
        assert result.returncode == 0, result.stderr
        return [(m["milestone"], m["correlation_id"]) for m in json.loads(result.stdout)]

    assert listed("--breached", "--partner", "trust-a") == [("quick", correlation)]
    assert listed("--due-within", "7d") == [("follow-up", correlation)]  # running only: not the breached one
    assert listed("--due-within", "30m") == []  # the follow-up is due in an hour
    assert listed("--due-within", "7d", "--breached", "--partner", "trust-a") == [
        ("quick", correlation), ("follow-up", correlation)]  # fmt: skip
    assert listed("--due-within", "7d", "--breached", "--partner", "trust-b") == []
    samples = parse_samples(pw.world.get("ops", "/metrics").text)
    assert sample(samples, "hub_pathway_milestones", partner="trust-a", milestone="quick", state="breached") == 1
    assert sample(samples, "hub_pathway_milestones", partner="trust-a", milestone="follow-up", state="open") == 1


def test_a_notice_is_not_sent_to_a_partner_whose_agreement_leaves_pathway_notices_out(make_pathway_world) -> None:
    toml = milestone_toml(due_seconds=3).replace('notify = ["responsible"]', 'notify = ["responsible", "steps-luton"]')
    agreement = {"types": ["Referral"], "fields": {"Referral": ["payload.person.nhs_number"]}}
    pw = make_pathway_world(toml, {"steps-luton": {"agreement": agreement}})
    correlation, _ = start_pathway(pw)
    assert wait_until(lambda: notices(pw, kind="due"), timeout=30 + pw.backend.slack)
    time.sleep(1)
    assert notices(pw, "steps-luton") == [], "a notice went to a partner whose agreement leaves it out"
    timer = next(t for t in pw.milestone(correlation)["timers"] if t["action"] == "due")
    assert [r["partner"] for r in timer["not_sent"]] == ["steps-luton"]
    assert "does not cover PathwayNotice" in timer["not_sent"][0]["reason"]
    shown = pw.world.cli("pathway", "show", correlation)
    assert "due notice not sent to steps-luton" in shown.stdout, shown.stdout + shown.stderr


def test_a_closing_message_from_a_partner_with_no_part_in_the_pathway_closes_nothing(make_pathway_world) -> None:
    closer = '[[close_pathway]]\nreason = "readmission"\ntype = "FollowUp"\n'
    closer += 'when = [{ field = "payload.kind", equals = "12m" }]\n'
    pw = make_pathway_world(milestone_toml(due_seconds=LONG) + closer)
    correlation, _ = start_pathway(pw)

    def readmitted(sender: str) -> dict[str, Any]:
        follow_up = example("follow-up", sender={"org_id": sender}, correlation_id=correlation,
                            recipient={"org_id": "steps-luton"})  # fmt: skip
        follow_up["payload"].update({"kind": "12m", "performed_at": "2026-12-01T10:00:00Z", "outcome": "contacted"})
        return follow_up

    stranger = pw.world.send("trust-b", readmitted("trust-b"))  # trust-b was sent nothing of this pathway
    assert stranger.status_code == 202, stranger.text
    record = stranger.json()["id"]
    timeline = lambda: pw.world.view(record)["timeline"]  # noqa: E731
    refused = wait_until(lambda: [e for e in timeline() if e["event"] == "pathway_close_refused"])
    assert refused and refused[0]["partner"] == "trust-b"
    view = pw.pathway(correlation)
    assert view is not None and view["closed"] is None and view["milestones"][0]["state"] == "open"
    assert {t["state"] for t in view["milestones"][0]["timers"]} == {"pending"}
    # the partner responsible for it may close it by message
    assert pw.world.send("trust-a", readmitted("trust-a")).status_code == 202
    assert wait_until(lambda: (p := pw.pathway(correlation)) and p["closed"] and p)
    assert pw.milestone(correlation)["state"] == "cancelled"
