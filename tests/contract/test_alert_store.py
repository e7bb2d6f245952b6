"""The alerts' port (``hub.store.alert_port``) on every backend: the lease, the round's compare-and-set, the outbox's
unique ids, the breach counter and the queue depths."""

from __future__ import annotations

import time

from contract.conftest import Opened
from contract.stores import plan

from hub.plugin_api.events import HubEvent
from hub.store import Store
from hub.store.alert_records import AlertState, OutboxRow


def test_one_holder_at_a_time_and_an_expired_lease_is_taken_over(store: Store, opened: Opened) -> None:
    now = time.time()
    assert store.take_alert_lease("a", now, now + 30)
    assert not store.take_alert_lease("b", now + 1, now + 31)
    assert store.take_alert_lease("a", now + 2, now + 32)  # renewed by its holder
    other = opened.reopen()
    try:
        assert not other.take_alert_lease("b", now + 31, now + 61)
        assert other.take_alert_lease("b", now + 33, now + 63)  # expired: taken over
        assert not store.take_alert_lease("a", now + 34, now + 64)
        other.release_alert_lease("b")
        assert store.take_alert_lease("a", now + 35, now + 65)
    finally:
        other.close()


def test_a_round_is_saved_only_by_the_holder_and_from_the_cursor_it_read(store: Store) -> None:
    now = time.time()
    assert store.take_alert_lease("a", now, now + 30)
    after, to, events = store.alert_events(1000)
    assert (after, to, events) == (0, 0, [])
    state = AlertState("partner:p1", "partner", "p1", None, "firing", now, 3, "firing", now, 1)
    row = OutboxRow("partner:p1#1/email", "partner:p1#1", "email", '{"id": "partner:p1#1"}', now, next_at=now)
    assert not store.save_alert_round("b", now, after, to, [state], [], [row])  # not the holder
    assert store.alert_states() == {} and store.alert_outbox() == []
    assert store.save_alert_round("a", now, after, to, [state], [], [row])
    assert store.save_alert_round("a", now, after, to, [state], [], [row])  # the same row again: stored once
    assert store.alert_states() == {"partner:p1": state}
    assert [r.id for r in store.alert_outbox()] == ["partner:p1#1/email"]
    assert not store.save_alert_round("a", now, after + 5, to, [], [], [])  # the cursor is not where it read it


def test_delivery_outcomes_are_read_after_the_cursor_with_their_partner(store: Store) -> None:
    now = time.time()
    accepted = store.accept_now(plan("m-1", to=(("p1", "push"),)))
    store.audit([HubEvent("retry_scheduled", accepted.id, now, None, "p1"),
                 HubEvent("delivered", accepted.id, now + 1, None, "p1")])  # fmt: skip
    assert store.take_alert_lease("a", now, now + 30)
    after, to, events = store.alert_events(1000)
    assert [(e.kind, e.partner) for e in events] == [("retry_scheduled", "p1"), ("delivered", "p1")]
    assert store.save_alert_round("a", now, after, to, [], [], [])
    assert store.alert_events(1000)[2] == []


def test_breaches_are_counted_and_a_round_takes_off_only_what_it_alerted(store: Store) -> None:
    now = time.time()
    for _ in range(3):
        store.note_alert_event("milestone:p1:follow-up", "p1", "follow-up", now)
    state = store.alert_states()["milestone:p1:follow-up"]
    assert (state.kind, state.partner, state.subject, state.value) == ("milestone", "p1", "follow-up", 3)
    assert store.take_alert_lease("a", now, now + 30)
    after, to, _ = store.alert_events(1000)
    store.note_alert_event("milestone:p1:follow-up", "p1", "follow-up", now + 1)  # during the round
    assert store.save_alert_round("a", now, after, to, [], [("milestone:p1:follow-up", 3)], [])
    state = store.alert_states()["milestone:p1:follow-up"]
    assert (state.value, state.alerts, state.sent_at) == (1, 1, now)


def test_the_outbox_retries_and_gives_up(store: Store) -> None:
    now = time.time()
    assert store.take_alert_lease("a", now, now + 30)
    rows = [OutboxRow(f"k#1/{c}", "k#1", c, "{}", now, next_at=now) for c in ("email", "webhook:ops")]
    assert store.save_alert_round("a", now, 0, 0, [], [], rows)
    assert {r.id for r in store.due_alerts(now, 10)} == {"k#1/email", "k#1/webhook:ops"}
    store.alert_failed("k#1/email", now + 60, "the mail server answered 451")
    store.alert_sent("k#1/webhook:ops", now)
    assert store.due_alerts(now, 10) == [] and store.next_alert_due() == now + 60
    store.alert_failed("k#1/email", None, "given up")
    assert store.next_alert_due() is None
    by_id = {r.id: r for r in store.alert_outbox()}
    assert (by_id["k#1/email"].state, by_id["k#1/email"].attempts) == ("failed", 2)
    assert (by_id["k#1/webhook:ops"].state, by_id["k#1/webhook:ops"].sent_at) == ("sent", now)


def test_queue_depths_count_waiting_retrying_and_dead_per_partner(store: Store, opened: Opened) -> None:
    now = time.time()
    for n in range(3):
        store.accept_now(plan(f"m-{n}", to=(("p1", "push"), ("p2", "push")), at=now))
    opened.execute("UPDATE deliveries SET attempts = 2 WHERE partner = 'p2'")
    opened.execute("UPDATE deliveries SET state = 'dead' WHERE partner = 'p1' AND record_id IN "
                   "(SELECT id FROM messages WHERE message_id = 'm-0')")  # fmt: skip
    depths = store.alert_queue_depths(now + 1)
    assert depths == {"pending": {"p1": 2, "p2": 3}, "retrying": {"p1": 0, "p2": 3}, "dead": {"p1": 1}}
