"""The alerts' evaluator (``hub.services.alerts``) on every backend: one evaluator at a time across processes, no
alert twice for one change of state, flapping held back by the minimum interval, breaches counted into one alert.

The clock is the evaluator's own parameter, moved by the test; the store and its lease are real.
"""

from __future__ import annotations

import json

from contract.conftest import Opened
from contract.stores import T0, plan

from hub.alert_settings import parse_alerts
from hub.plugin_api.events import HubEvent
from hub.services.alerts import AlertService
from hub.store import Store

WEBHOOK = {"name": "ops", "url": "http://127.0.0.1:9/alerts"}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def service(store: Store, clock: Clock, holder: str, **settings: object) -> AlertService:
    return AlertService(store, parse_alerts("hub.toml", {"webhooks": [WEBHOOK], **settings}), "hub", clock=clock,
                        holder=holder)  # fmt: skip


def outcome(store: Store, record: str, kind: str, at: float, partner: str = "p1") -> None:
    store.audit([HubEvent(kind, record, at, None, partner)])


def queued(store: Store) -> list[tuple[str, str]]:
    return [(row.alert_id, json.loads(row.payload)["alert"]) for row in store.alert_outbox()]


def test_a_second_process_neither_evaluates_nor_alerts_again(store: Store, opened: Opened) -> None:
    clock = Clock()
    record = store.accept_now(plan("m-1", to=(("p1", "push"),))).id
    first = service(store, clock, "first", min_interval_seconds=0)
    other_store = opened.reopen()
    try:
        second = service(other_store, clock, "second", min_interval_seconds=0)
        for n in range(50):
            outcome(store, record, "retry_scheduled", T0 + n)
        assert first.evaluate()
        assert not second.evaluate()  # the lease is the first's
        assert queued(store) == [("partner:p1#1", "partner_failing")]
        store.release_alert_lease("first")  # the first process stops
        clock.now += 1
        assert second.evaluate()
        assert queued(other_store) == [("partner:p1#1", "partner_failing")]  # not alerted again
        outcome(store, record, "delivered", T0 + 60)
        assert second.evaluate() and not first.evaluate()
        assert queued(store) == [("partner:p1#1", "partner_failing"), ("partner:p1#2", "partner_recovered")]
        recovered = json.loads(store.alert_outbox()[-1].payload)
        assert recovered["detail"] == {"failed_attempts": 50}
    finally:
        other_store.close()


def test_flapping_within_the_minimum_interval_gives_one_alert_of_the_state_it_ends_in(store: Store) -> None:
    clock = Clock()
    record = store.accept_now(plan("m-1", to=(("p1", "push"),))).id
    alerts = service(store, clock, "one", min_interval_seconds=60)
    outcome(store, record, "retry_scheduled", T0)
    assert alerts.evaluate()
    for step, kind in enumerate(("delivered", "retry_scheduled", "delivered", "retry_scheduled", "delivered")):
        clock.now = T0 + step + 1
        outcome(store, record, kind, clock.now)
        assert alerts.evaluate()
    assert queued(store) == [("partner:p1#1", "partner_failing")]  # held back: the interval has not passed
    clock.now = T0 + 61
    assert alerts.evaluate()
    assert queued(store) == [("partner:p1#1", "partner_failing"), ("partner:p1#2", "partner_recovered")]
    clock.now = T0 + 200
    assert alerts.evaluate()
    assert len(queued(store)) == 2


def test_breaches_noted_between_rounds_make_one_alert_that_counts_them(store: Store) -> None:
    clock = Clock()
    alerts = service(store, clock, "one", min_interval_seconds=60)
    breach = HubEvent("milestone_breached", "r", T0, None, "trust-a", {"milestone": "follow-up"})
    alerts.on_events([breach, breach, breach, HubEvent("milestone_met", "r", T0, None, "trust-a")])
    assert alerts.evaluate()
    clock.now += 1
    alerts.on_events([breach])
    assert alerts.evaluate()  # within the interval: counted, not sent
    rows = [json.loads(r.payload) for r in store.alert_outbox()]
    assert [(a["id"], a["detail"]) for a in rows] == [
        ("milestone:trust-a:follow-up#1", {"milestone": "follow-up", "breaches": 3})]  # fmt: skip
    clock.now += 60
    assert alerts.evaluate()
    rows = [json.loads(r.payload) for r in store.alert_outbox()]
    assert rows[-1]["id"] == "milestone:trust-a:follow-up#2" and rows[-1]["detail"]["breaches"] == 1
