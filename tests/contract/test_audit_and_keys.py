"""The promises of ``AuditLog``, ``KeyMaintenance`` and ``Lifecycle`` (``hub.store.ports``), against every backend."""

from __future__ import annotations

import asyncio

import pytest
from contract.stores import T0, plan

from hub.bodies import BodyUnreadable
from hub.plugin_api.events import HubEvent
from hub.store import DeliveryState, Outcome


def accept(store, intake):
    return asyncio.run(store.accept(intake))


def deliver_all(store, now: float = T0) -> None:
    jobs = asyncio.run(store.claim(100, now, 30.0))
    asyncio.run(store.record([Outcome(j.delivery_id, j.record_id, j.partner, DeliveryState.DELIVERED, j.attempts,
                                      now, lease_id=j.lease_id) for j in jobs]))  # fmt: skip


# -- the audit log ---------------------------------------------------------------------------------
def test_every_state_change_and_every_audited_read_extends_an_unbroken_chain(store) -> None:
    empty = store.verify_audit()
    assert empty.ok and empty.rows == 0
    accepted = accept(store, plan("m-1"))
    deliver_all(store)
    store.audit([HubEvent("body_read", accepted.id, T0 + 5, actor="ops")])
    asyncio.run(store.audit_async([HubEvent("searched", "", T0 + 6, detail={"found": 1}, actor="ops")]))
    report = store.verify_audit()
    assert report.ok and report.rows == 4  # received, delivered, body_read, searched
    assert report.head != empty.head
    timeline = [e["event"] for e in store.message_view(accepted.id)["timeline"]]
    assert timeline == ["received", "delivered", "body_read"]


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("UPDATE events SET actor='someone else' WHERE kind='delivered'", "content does not match"),
        ("DELETE FROM events WHERE kind='delivered'", "link to the row before"),
    ],
)
def test_verify_finds_a_changed_or_removed_row(opened, tamper, reason) -> None:
    store = opened.store
    accept(store, plan("m-1"))
    deliver_all(store)
    store.audit([HubEvent("body_read", "r", T0 + 5)])
    assert store.verify_audit().ok
    assert opened.execute(tamper) == 1
    report = store.verify_audit()
    assert not report.ok and reason in report.reason
    assert report.broken_at is not None


# -- keys and retention ----------------------------------------------------------------------------
def test_rewrap_moves_every_data_key_under_the_new_primary_and_bodies_stay_readable(opened) -> None:
    store, keys = opened.store, opened.keys
    records = [accept(store, plan(f"m-{n}", body=b'{"n": %d}' % n)).id for n in range(3)]
    old = keys.primary_kek_id()
    assert store.key_usage() == {old: 3}
    new = keys.rotate()
    assert store.rewrap(keys, batch_size=2) == 2
    assert store.key_usage() == {old: 1, new: 2}
    assert store.rewrap(keys, batch_size=2) == 1
    assert store.rewrap(keys) == 0
    assert store.key_usage() == {new: 3}
    assert [store.read_body(r) for r in records] == [b'{"n": %d}' % n for n in range(3)]
    assert store.verify_audit().ok


def test_shredding_destroys_the_body_fingerprint_and_search_entries_of_finished_old_messages(store) -> None:
    day = 86_400.0
    old = accept(store, plan("m-1", at=T0 - 10 * day, nhs_index="person-1", index_for=("trust-a", "council-luton")))
    still_waiting = accept(store, plan("m-2", at=T0 - 10 * day, to=(("steps-luton", "pull"),)))
    recent = accept(store, plan("m-3", at=T0 - day, nhs_index="person-1", index_for=("trust-a",)))
    other_type = accept(store, plan("m-4", at=T0 - 10 * day, message_type="DischargeNotice", to=()))
    deliver_all(store, now=T0 - 9 * day)

    assert store.shred_expired({"HousingRequest": 5}, T0, actor="ops") == 1
    with pytest.raises(BodyUnreadable):
        store.read_body(old.id)
    for kept in (still_waiting, recent, other_type):
        assert store.read_body(kept.id) == b'{"synthetic": true}'
    assert [m["id"] for m in store.find_by_index("person-1", "trust-a")] == [recent.id]
    assert store.find_by_index("person-1", "council-luton") == []
    assert [m["id"] for m in store.find_by_index("person-1")] == [recent.id]
    # without its fingerprint a repeat of the shredded message can no longer be told from another one: no conflict
    assert accept(store, plan("m-1", fingerprint="another")).duplicate is True
    view = store.message_view(old.id)
    assert view["type"] == "HousingRequest"  # routing metadata and the trail stay
    shredded = [e for e in view["timeline"] if e["event"] == "shredded"]
    assert shredded and shredded[0]["detail"] == {"type": "HousingRequest", "retention_days": 5}
    assert store.key_usage() == {next(iter(store.key_usage())): 3}
    assert store.shred_expired({"HousingRequest": 5}, T0) == 0
    assert store.verify_audit().ok


def test_complete_upgrades_with_nothing_left_to_do_touches_nothing(store) -> None:
    accept(store, plan("m-1"))
    assert store.complete_upgrades(lambda message: "fp", lambda partner, message: None) == 0


# -- lifecycle -------------------------------------------------------------------------------------
def test_compact_changes_nothing_the_store_holds(store) -> None:
    accepted = accept(store, plan("m-1", at=T0 - 100 * 86_400.0))
    deliver_all(store)
    store.shred_expired({"HousingRequest": 1}, T0)
    before = (store.counts(), store.message_view(accepted.id), store.verify_audit().head)
    assert store.compact() is True
    assert (store.counts(), store.message_view(accepted.id), store.verify_audit().head) == before


def test_ping_answers_while_open_and_raises_once_closed(opened) -> None:
    other = opened.reopen()
    other.ping()
    accepted = other.accept_now(plan("m-1"))
    other.close()
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own kind
        other.ping()
    assert opened.store.message_view(accepted.id) is not None  # closing finished the commit


def test_shredding_also_clears_the_status_and_the_blind_index_value_a_milestone_copied(opened) -> None:
    import dataclasses

    from hub.store.pathway_records import NewMilestone, PathwayChanges

    store, day = opened.store, 86_400.0
    intake = plan("m-1", at=T0 - 10 * day, nhs_index="person-1", index_for=("trust-a",))
    intake.messages[0] = dataclasses.replace(intake.messages[0], status="accepted", status_at=T0 - 10 * day)
    old = accept(store, intake)
    deliver_all(store, now=T0 - 9 * day)
    after, rows = store.pathway_events(100)
    new = NewMilestone("assessment-1", "assessment", "council-luton", old.id, "c-1", T0 - 10 * day, T0 + day)
    store.apply_pathway(PathwayChanges(after, int(rows[-1][0]), opened=[new]), T0 - 9 * day, False)
    assert [m["id"] for m in store.milestones(nhs_index="person-1")] == ["assessment-1"]

    assert store.shred_expired({"HousingRequest": 5}, T0, actor="ops") == 1
    assert store.milestones(nhs_index="person-1") == []
    assert store.milestones(correlation_id="c-1")[0]["nhs_index"] is None  # the milestone itself stays
    # the council's decision about the person goes with the body
    assert opened.execute("UPDATE messages SET type = type WHERE id = ? AND status IS NULL AND status_at IS NULL",
                          old.id) == 1  # fmt: skip
    assert store.verify_audit().ok
