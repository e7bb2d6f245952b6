"""The promises of ``hub.store.ports_console`` (the dashboard's users and reads), against every backend."""

from __future__ import annotations

import asyncio

from contract.stores import T0, commit_after_first_read, plan

from hub.store import DeliveryState, Outcome
from hub.store.ports_console import MessageFilter


def accept(store, intake):
    return asyncio.run(store.accept(intake))


def finish(store, state: str, now: float = T0, error: str | None = "e") -> None:
    jobs = asyncio.run(store.claim(100, now, 30.0))
    asyncio.run(store.record([Outcome(j.delivery_id, j.record_id, j.partner, state, j.attempts, now + 1,
                                      error=error, lease_id=j.lease_id) for j in jobs]))  # fmt: skip


def audited(opened, kind: str, actor: str) -> int:
    """How many events of ``kind`` by ``actor`` the audit log holds (an update that changes nothing counts them)."""
    return int(opened.execute("UPDATE events SET kind = kind WHERE kind = ? AND actor = ?", kind, actor))


def test_a_user_is_added_once_listed_without_its_hash_and_disabled_with_both_audited(opened) -> None:
    store = opened.store
    assert store.add_user("alice", "operator", "$argon2id$hash", T0, "root")
    assert not store.add_user("alice", "viewer", "$argon2id$other", T0, "root")
    assert store.user("alice")["password_hash"] == "$argon2id$hash"
    assert store.user("alice")["role"] == "operator" and store.user("nobody") is None
    assert [u["name"] for u in store.users()] == ["alice"] and "password_hash" not in store.users()[0]
    assert store.disable_user("alice", T0 + 1, "root") and not store.disable_user("alice", T0 + 2, "root")
    assert store.user("alice")["disabled_at"] == T0 + 1
    assert audited(opened, "user_added", "root") == 1 and audited(opened, "user_disabled", "root") == 1
    assert store.verify_audit().ok


def test_the_last_enabled_admin_is_never_disabled(opened) -> None:
    store = opened.store
    store.add_user("root", "admin", "h", T0, "setup")
    store.add_user("ann", "admin", "h", T0, "setup")
    store.add_user("vic", "viewer", "h", T0, "setup")
    assert store.disable_user_keeping_an_admin("ann", T0 + 1, "root") == "disabled"
    assert store.disable_user_keeping_an_admin("root", T0 + 2, "root") == "last_admin"
    assert store.user("root")["disabled_at"] is None
    assert store.disable_user_keeping_an_admin("ann", T0 + 3, "root") == "missing"
    assert store.disable_user_keeping_an_admin("vic", T0 + 4, "root") == "disabled"
    assert audited(opened, "user_disabled", "root") == 2 and store.verify_audit().ok


def test_a_password_reset_replaces_the_hash_lifts_the_lock_and_is_audited(opened) -> None:
    store = opened.store
    store.add_user("bob", "viewer", "old", T0, "root")
    store.login_failed("bob", T0, lambda n: 30.0, {"reason": "wrong"})
    assert store.user("bob")["locked_until"] == T0 + 30
    assert store.reset_user_password("bob", "new", T0 + 1, "root")
    row = store.user("bob")
    assert (row["password_hash"], row["failed_logins"], row["locked_until"]) == ("new", 0, None)
    assert not store.reset_user_password("ghost", "new", T0 + 2, "root")
    store.disable_user("bob", T0 + 3, "root")
    assert not store.reset_user_password("bob", "newer", T0 + 4, "root") and store.user("bob")["password_hash"] == "new"
    assert audited(opened, "user_password_reset", "root") == 1 and store.verify_audit().ok


def test_failed_logins_count_up_lock_and_a_success_clears_them(opened) -> None:
    store = opened.store
    store.add_user("bob", "viewer", "h", T0, "root")
    lock = {1: 0.0, 2: 30.0}
    assert store.login_failed("bob", T0, lambda n: lock[n], {"reason": "wrong"}) == 1
    assert store.user("bob")["locked_until"] is None
    assert store.login_failed("bob", T0 + 1, lambda n: lock[n], {"reason": "wrong"}) == 2
    assert store.user("bob")["locked_until"] == T0 + 31
    assert store.login_failed("ghost", T0, lambda n: 99.0, {"reason": "unknown"}) == 0
    store.login_succeeded("bob", T0 + 40, {"via": "dashboard"})
    row = store.user("bob")
    assert (row["failed_logins"], row["locked_until"], row["last_login_at"]) == (0, None, T0 + 40)
    assert audited(opened, "login_failed", "bob") == 2 and audited(opened, "login_failed", "ghost") == 1
    assert audited(opened, "login", "bob") == 1 and store.verify_audit().ok


def test_search_filters_and_pages_by_keyset_newest_first(opened) -> None:
    store = opened.store
    ids = [accept(store, plan(f"m-{n}", at=T0 + n, message_type="DischargeNotice" if n % 2 else "HousingRequest",
                              sender="trust-b" if n == 4 else "trust-a")).id for n in range(6)]  # fmt: skip
    page = store.search_messages(MessageFilter(), 4)
    assert [r["id"] for r in page] == ids[::-1][:4]
    rest = store.search_messages(MessageFilter(), 4, (page[-1]["received"], page[-1]["id"]))
    assert [r["id"] for r in rest] == [ids[1], ids[0]]
    assert [r["id"] for r in store.search_messages(MessageFilter(message_type="DischargeNotice"), 9)] == [
        ids[5], ids[3], ids[1]]  # fmt: skip
    assert [r["id"] for r in store.search_messages(MessageFilter(partner="trust-b"), 9)] == [ids[4]]
    window = MessageFilter(received_from=T0 + 2, received_to=T0 + 4)
    assert [r["id"] for r in store.search_messages(window, 9)] == [ids[3], ids[2]]
    assert [r["id"] for r in store.search_messages(MessageFilter(record_ids=[ids[0], ids[2]]), 9)] == [ids[2], ids[0]]
    assert store.search_messages(MessageFilter(record_ids=[]), 9) == []
    assert store.search_messages(MessageFilter(state="pending"), 9)[0]["status"] == "in_progress"
    assert store.search_messages(MessageFilter(state="dead"), 9) == []


def test_a_search_never_shows_a_commit_made_between_its_reads(opened, monkeypatch) -> None:
    # the rows found by a state and each row's deliveries are read in several statements: a delivery recorded
    # after the first shows in none of them, so a row found as pending is never listed as delivered
    store = opened.store
    accept(store, plan("m-1"))
    committed = commit_after_first_read(
        store, "_pathway_read", lambda: finish(store, DeliveryState.DELIVERED, error=None), monkeypatch
    )
    found = store.search_messages(MessageFilter(state="pending"), 9)
    monkeypatch.undo()
    assert committed
    assert [r["status"] for r in found] == ["in_progress"]
    assert store.search_messages(MessageFilter(state="pending"), 9) == []
    assert [r["status"] for r in store.search_messages(MessageFilter(), 9)] == ["delivered"]


def test_activity_counts_accepted_and_delivered_per_minute_and_queues_show_failing(opened) -> None:
    store = opened.store
    accept(store, plan("m-1", at=T0 + 10))
    accept(store, plan("m-2", at=T0 + 70, to=(("steps-luton", "push"),)))
    finish(store, DeliveryState.DELIVERED, now=T0 + 125, error=None)
    rows = sorted(store.activity(T0))
    assert ("accepted", "trust-a", "HousingRequest", 0, 1) in rows
    assert ("accepted", "trust-a", "HousingRequest", 1, 1) in rows
    assert {r for r in rows if r[0] == "delivered"} == {
        ("delivered", "council-luton", "HousingRequest", 2, 1),
        ("delivered", "steps-luton", "HousingRequest", 2, 1),
    }
    accept(store, plan("m-3", at=T0 + 200))
    finish(store, DeliveryState.DEAD, now=T0 + 300)
    assert store.queue_depths() == [("council-luton", "dead", 1, 1, T0 + 200)]


def test_the_counters_of_minutes_wholly_before_a_time_are_pruned_and_the_rest_kept(opened) -> None:
    store = opened.store
    accept(store, plan("m-1", at=T0 + 10))
    accept(store, plan("m-2", at=T0 + 70))
    accept(store, plan("m-3", at=T0 + 130))
    finish(store, DeliveryState.DELIVERED, now=T0 + 125, error=None)
    assert store.prune_activity(T0 + 90) == 1  # minute 0 only: minute 1 holds T0 + 90
    assert sorted(store.activity(T0)) == [
        ("accepted", "trust-a", "HousingRequest", 1, 1),
        ("accepted", "trust-a", "HousingRequest", 2, 1),
        ("delivered", "council-luton", "HousingRequest", 2, 2),  # m-3 was not due at T0 + 125
    ]
    assert store.prune_activity(T0 + 90) == 0
    assert store.prune_activity(T0 + 180, minutes=1) == 1  # the oldest minute left (1), not the next
    assert store.prune_activity(T0 + 180) == 2
    assert store.prune_activity(T0 + 180) == 0
    assert store.activity(T0) == []
    accept(store, plan("m-4", at=T0 + 190))  # counting goes on after a prune
    assert store.activity(T0) == [("accepted", "trust-a", "HousingRequest", 3, 1)]


def test_a_dead_delivery_is_dropped_once_with_its_reason_and_cancelled(opened) -> None:
    store = opened.store
    accepted = accept(store, plan("m-1"))
    finish(store, DeliveryState.DEAD)
    dead = store.dead_letters()[0]["delivery_id"]
    events = store.drop_dead(dead, "duplicate", T0 + 5, "alice")
    assert [(e.kind, e.detail, e.actor) for e in events] == [("dropped", {"reason": "duplicate"}, "alice")]
    assert store.drop_dead(dead, "duplicate", T0 + 6, "alice") == []
    assert store.dead_letters() == []
    view = store.message_view(accepted.id)
    assert view["deliveries"][0]["state"] == "cancelled" and view["timeline"][-1]["event"] == "dropped"


def test_audit_events_are_newest_first_filtered_and_paged_by_sequence(opened) -> None:
    store = opened.store
    store.add_user("alice", "operator", "h", T0, "root")
    store.login_failed("alice", T0 + 1, lambda n: 0.0, {"reason": "wrong"})
    store.login_succeeded("alice", T0 + 2, {"via": "dashboard"})
    accepted = accept(store, plan("m-1", at=T0 + 3))
    every = store.audit_events()
    assert [e["kind"] for e in every] == ["received", "login", "login_failed", "user_added"]
    assert every[1]["actor"] == "alice" and every[1]["detail"] == {"via": "dashboard"} and every[1]["at"] == T0 + 2
    assert [e["kind"] for e in store.audit_events(actor="alice")] == ["login", "login_failed"]
    assert [e["kind"] for e in store.audit_events(kind="login_failed")] == ["login_failed"]
    assert [e["record_id"] for e in store.audit_events(record_id=accepted.id)] == [accepted.id]
    page = store.audit_events(limit=2)
    assert [e["kind"] for e in store.audit_events(before=page[-1]["seq"], limit=2)] == ["login_failed", "user_added"]


def test_a_partner_search_finds_what_it_sent_and_what_it_was_sent_newest_first_across_pages(opened) -> None:
    store = opened.store
    ids = [accept(store, plan(f"m-{n}", at=T0 + n, sender="council-luton" if n % 3 == 0 else "trust-a",
                              to=(("steps-luton", "push"),) if n % 3 == 1 else (("council-luton", "push"),),
                              message_type="Referral" if n % 2 else "HousingRequest")).id
           for n in range(9)]  # fmt: skip
    expected = [ids[n] for n in range(8, -1, -1) if n % 3 != 1]
    where = MessageFilter(partner="council-luton")
    first = store.search_messages(where, 4)
    rest = store.search_messages(where, 4, (first[-1]["received"], first[-1]["id"]))
    assert [r["id"] for r in first + rest] == expected
    typed = store.search_messages(MessageFilter(partner="council-luton", message_type="Referral"), 9)
    assert [r["id"] for r in typed] == [ids[n] for n in (5, 3)]
    assert store.search_messages(MessageFilter(partner="steps-luton", message_type="Referral"), 9)[0]["id"] == ids[7]
    assert store.search_messages(MessageFilter(partner="nobody"), 9) == []


def test_a_partners_recent_replies_are_its_latest_deliveries_done_with_their_first_replies(opened) -> None:
    store = opened.store
    for n in range(3):
        accept(store, plan(f"m-{n}", at=T0 + 10 * n))
        finish(store, DeliveryState.DELIVERED, now=T0 + 10 * n, error=None)
    accept(store, plan("ack-1", at=T0 + 40, sender="council-luton", message_type="Acknowledgement",
                       in_reply_to="m-2", to=()))  # fmt: skip
    accept(store, plan("ans-1", at=T0 + 50, sender="council-luton", message_type="HousingOffer", in_reply_to="m-2",
                       to=()))  # fmt: skip
    assert store.partner_recent_replies("council-luton", 2) == [
        ("council-luton", "HousingRequest", T0 + 21, T0 + 40, T0 + 50),
        ("council-luton", "HousingRequest", T0 + 11, None, None),
    ]
    assert sorted(store.partner_recent_replies("council-luton", 9)) == sorted(
        (p, t, d, a, r) for p, t, d, a, r in store.reply_times() if p == "council-luton")  # fmt: skip
    assert store.partner_recent_replies("nobody", 9) == []
