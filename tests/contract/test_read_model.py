"""The promises of ``hub.store.ports.ReadModel``, against every backend."""

from __future__ import annotations

import asyncio

import pytest
from contract.stores import T0, commit_after_first_read, delivery_of, plan

from hub.plugin_api.events import HubEvent
from hub.store import DeliveryState, Intake, Outcome


def accept(store, intake):
    return asyncio.run(store.accept(intake))


def finish(store, state: str, error: str | None = None, now: float = T0) -> None:
    """Claim every due delivery and record ``state`` for it."""
    jobs = asyncio.run(store.claim(100, now, 30.0))
    asyncio.run(store.record([Outcome(j.delivery_id, j.record_id, j.partner, state, j.attempts, now + 1,
                                      error=error, lease_id=j.lease_id) for j in jobs]))  # fmt: skip


def test_a_view_never_shows_a_commit_made_between_its_reads(store, monkeypatch) -> None:
    # message_view reads in several statements: a delivery recorded after its first shows in none of them
    accepted = accept(store, plan("m-1"))
    committed = commit_after_first_read(store, "_mapped_read", lambda: finish(store, DeliveryState.DELIVERED),
                                        monkeypatch)  # fmt: skip
    view = store.message_view(accepted.id)
    monkeypatch.undo()
    assert committed
    assert [d["state"] for d in view["deliveries"]] == [DeliveryState.PENDING]
    assert [e["event"] for e in view["timeline"]] == ["received"]
    assert [d["state"] for d in store.message_view(accepted.id)["deliveries"]] == [DeliveryState.DELIVERED]


def test_the_reads_of_one_view_see_one_committed_state_whatever_commits_meanwhile(store) -> None:
    # a view is read in several statements (message, deliveries, timeline); in the backend's snapshot a commit
    # between them shows in none of them, so a view never has a timeline ahead of its deliveries' states
    first = accept(store, plan("m-1"))
    with store._snapshot():
        counted = store.counts()
        view = store.message_view(first.id)
        finish(store, DeliveryState.DELIVERED)  # committed by the writer while the snapshot is open
        later = accept(store, plan("m-2"))
        assert store.counts() == counted and counted["messages"] == 1
        assert store.message_view(first.id) == view and store.message_view(later.id) is None
        assert [d["state"] for d in view["deliveries"]] == [DeliveryState.PENDING]
    after = store.message_view(first.id)
    assert [d["state"] for d in after["deliveries"]] == [DeliveryState.DELIVERED]
    assert [e["event"] for e in after["timeline"]][-1] == "delivered"
    assert store.counts()["messages"] == 2


def test_a_view_shows_state_deliveries_derived_messages_and_timeline_without_the_body(store) -> None:
    parent = plan("m-1", body=b'{"secret": "x"}')
    derived = plan("m-1/derived", message_type="HousingReferral", to=(("steps-luton", "push"),))
    derived.messages[0].parent_id = parent.messages[0].id
    parent.messages.append(derived.messages[0])
    parent.deliveries += derived.deliveries
    accepted = accept(store, parent)
    view = store.message_view(accepted.id)
    assert view is not None
    assert (view["type"], view["status"], view["derived_from"]) == ("HousingRequest", "in_progress", None)
    assert view["received_at"].endswith("Z")
    assert view["derived"] == [{"id": derived.messages[0].id, "type": "HousingReferral"}]
    assert {d["partner"]: d["outcome"] for d in view["deliveries"]} == {"council-luton": "waiting",
                                                                        "steps-luton": "waiting"}  # fmt: skip
    assert "secret" not in repr(view)
    assert store.message_view(derived.messages[0].id)["derived_from"] == accepted.id
    assert store.message_view("no-such-record") is None


@pytest.mark.parametrize(
    ("state", "status"),
    [(DeliveryState.DELIVERED, "delivered"), (DeliveryState.DEAD, "dead_lettered")],
)
def test_a_message_s_status_follows_its_deliveries(store, state, status) -> None:
    accepted = accept(store, plan("m-1"))
    finish(store, state, error="e")
    assert store.message_view(accepted.id)["status"] == status
    assert [m["status"] for m in store.list_messages()] == [status]
    assert store.message_view(accept(store, plan("m-2", to=())).id)["status"] == "accepted"


def test_list_messages_is_newest_first_and_filters_by_type_and_partner(store) -> None:
    old = accept(store, plan("m-1", at=T0 - 10))
    new = accept(store, plan("m-2", at=T0, message_type="DischargeNotice", sender="trust-b",
                             to=(("steps-luton", "pull"),)))  # fmt: skip
    assert [m["id"] for m in store.list_messages()] == [new.id, old.id]
    assert [m["id"] for m in store.list_messages(limit=1)] == [new.id]
    assert [m["id"] for m in store.list_messages(message_type="HousingRequest")] == [old.id]
    assert [m["id"] for m in store.list_messages(partner="steps-luton")] == [new.id]  # a recipient
    assert [m["id"] for m in store.list_messages(partner="trust-a")] == [old.id]  # a sender
    [line] = store.list_messages(partner="trust-b")
    assert (line["message_id"], line["sender"], line["deliveries"], line["status"]) == (
        "m-2", "trust-b", 1, "in_progress")  # fmt: skip


def test_may_read_is_true_for_the_sender_and_the_recipients_only(store) -> None:
    accepted = accept(store, plan("m-1", to=(("council-luton", "push"), ("steps-luton", "pull"))))
    assert store.may_read("trust-a", accepted.id)
    assert store.may_read("council-luton", accepted.id) and store.may_read("steps-luton", accepted.id)
    assert not store.may_read("trust-b", accepted.id)
    assert not store.may_read("trust-a", "no-such-record")


def test_reply_targets_are_the_messages_with_that_id_delivered_to_the_replier(store) -> None:
    one = accept(store, plan("shared-id", sender="trust-a"))
    two = accept(store, plan("shared-id", sender="trust-b", at=T0 + 1))
    accept(store, plan("shared-id", sender="trust-c", to=(("steps-luton", "push"),)))
    targets = store.find_reply_targets("shared-id", "council-luton")
    assert [(t.record_id, t.sender) for t in targets] == [(two.id, "trust-b"), (one.id, "trust-a")]
    assert targets[1].delivery_id == delivery_of(store, one.id, "council-luton")["id"]
    assert targets[1].type == "HousingRequest"
    assert store.find_reply_targets("other-id", "council-luton") == []


def test_record_of_finds_a_committed_message_by_its_sender_and_message_id_only(store) -> None:
    one = accept(store, plan("shared-id", sender="trust-a"))
    two = accept(store, plan("shared-id", sender="trust-b", at=T0 + 1, to=()))  # delivered to no one: still there
    assert store.record_of("trust-a", "shared-id") == one.id
    assert store.record_of("trust-b", "shared-id") == two.id
    assert store.record_of("trust-c", "shared-id") is None  # a message id is unique per sender only
    assert store.record_of("trust-a", "other-id") is None
    assert store.record_of("council-luton", "shared-id") is None  # a recipient is not its sender


def test_a_search_finds_only_the_messages_a_partner_has_an_entry_for(store) -> None:
    both = accept(store, plan("m-1", nhs_index="person-1", index_for=("trust-a", "council-luton")))
    sender_only = accept(store, plan("m-2", nhs_index="person-1", index_for=("trust-a",), at=T0 + 1))
    accept(store, plan("m-3", nhs_index="person-2", index_for=("trust-a", "council-luton")))
    assert [m["id"] for m in store.find_by_index("person-1", "trust-a")] == [both.id, sender_only.id]
    assert [m["id"] for m in store.find_by_index("person-1", "council-luton")] == [both.id]
    assert store.find_by_index("person-1", "steps-luton") == []
    assert [m["id"] for m in store.find_by_index("person-1")] == [both.id, sender_only.id]  # the operator's
    found = store.find_by_index("person-1", "council-luton")[0]
    assert set(found) == {"id", "message_id", "type", "sender", "received_at"}


def test_counts_are_deliveries_by_state_and_messages_in_total(store) -> None:
    accept(store, plan("m-1", to=(("council-luton", "push"), ("steps-luton", "pull"))))
    accept(store, plan("m-2", to=()))
    assert store.counts() == {"deliveries_pending": 1, "deliveries_available": 1, "messages": 2}


def test_dead_letters_are_listed_oldest_first(store) -> None:
    first, second = accept(store, plan("m-1", at=T0 - 2)), accept(store, plan("m-2", at=T0 - 1))
    finish(store, DeliveryState.DEAD, error="no route to host")
    assert [d["message"] for d in store.dead_letters()] == [first.id, second.id]
    assert [d["message"] for d in store.dead_letters(limit=1)] == [first.id]
    assert store.dead_letters()[0]["type"] == "HousingRequest"


def test_refused_transmissions_come_from_the_audit_log_newest_first(store) -> None:
    for n in (1, 2):
        store.audit([HubEvent("transmission_refused", "", T0 + n, detail={"transmission": f"t-{n}",
                                                                          "reason": "unreadable"})])  # fmt: skip
    store.audit([HubEvent("body_read", "some-record", T0 + 3)])
    refused = store.refused_transmissions()
    assert [r["transmission"] for r in refused] == ["t-2", "t-1"]
    assert refused[0]["reason"] == "unreadable" and refused[0]["at"].endswith("Z")
    assert len(store.refused_transmissions(limit=1)) == 1


def test_read_body_gives_the_decoded_body_and_none_for_an_unknown_record(store) -> None:
    accepted = accept(store, plan("m-1", body=b'{"x": "y"}'))
    assert store.read_body(accepted.id) == b'{"x": "y"}'
    assert store.read_body("no-such-record") is None


def test_reply_times_pair_each_delivered_message_with_its_first_acknowledgement_and_answer(store) -> None:
    accept(store, plan("m-1"))
    finish(store, DeliveryState.DELIVERED, now=T0 + 10)
    accept(store, plan("ack", sender="council-luton", to=(), message_type="Acknowledgement", in_reply_to="m-1",
                       at=T0 + 20))  # fmt: skip
    accept(store, plan("answer", sender="council-luton", to=(), message_type="HousingAppointment",
                       in_reply_to="m-1", at=T0 + 30))  # fmt: skip
    accept(store, plan("later", sender="council-luton", to=(), message_type="HousingAppointment",
                       in_reply_to="m-1", at=T0 + 40))  # fmt: skip
    assert store.reply_times() == [("council-luton", "HousingRequest", T0 + 11, T0 + 20, T0 + 30)]


def reply(message_id: str, in_reply_to: str, at: float, *, sender: str = "council-luton",
          message_type: str = "HousingAppointment") -> Intake:  # fmt: skip
    return plan(message_id, sender=sender, to=(), message_type=message_type, in_reply_to=in_reply_to, at=at)


def test_reply_times_count_a_delivery_acknowledged_before_it_was_recorded_delivered(store) -> None:
    # a pull partner acknowledges by message before (or instead of) taking the message from its inbox
    taken = accept(store, plan("m-1", to=(("council-beds", "pull"),)))
    ack = reply("ack-1", "m-1", T0 + 5, sender="council-beds", message_type="Acknowledgement")
    ack.acknowledges = (delivery_of(store, taken.id, "council-beds")["id"], "acknowledged", ack.messages[0].id)
    accept(store, ack)
    accept(store, reply("answer-1", "m-1", T0 + 9, sender="council-beds"))
    accept(store, plan("m-2", to=(("council-beds", "pull"),)))  # waiting in the inbox: not delivered yet
    accept(store, plan("m-3", to=(("council-luton", "push"),)))
    finish(store, DeliveryState.DEAD, error="HTTP 500", now=T0)  # dead-lettered: never delivered
    accept(store, reply("answer-3", "m-3", T0 + 9))
    assert store.reply_times() == [("council-beds", "HousingRequest", T0 + 5, T0 + 5, T0 + 9)]


def test_reply_times_answer_with_the_first_reply_of_the_types_asked_for(store) -> None:
    accept(store, plan("m-1"))
    finish(store, DeliveryState.DELIVERED, now=T0 + 10)
    accept(store, reply("status", "m-1", T0 + 15, message_type="HousingStatus"))
    accept(store, reply("answer", "m-1", T0 + 30))
    accept(store, reply("other", "m-1", T0 + 35, message_type="HousingStatus"))
    row = ("council-luton", "HousingRequest", T0 + 11, None)
    assert store.reply_times() == [(*row, T0 + 15)]  # by default any reply but an Acknowledgement
    assert store.reply_times(answer_types={"HousingAppointment"}) == [(*row, T0 + 30)]
    assert store.reply_times(answer_types={"HousingAppointment", "HousingStatus"}) == [(*row, T0 + 15)]
    assert store.reply_times(answer_types=()) == [(*row, None)]


def status(message_id: str, in_reply_to: str, received: float, code: str | None, at: float | None, *, answers: str,
           sender: str = "council-luton", message_type: str = "HousingStatus") -> Intake:  # fmt: skip
    """A status reply as the router plans it: its code and time kept in clear on the record, and the record it
    answers (``answers``: the record id intake resolved from ``in_reply_to``)."""
    intake = reply(message_id, in_reply_to, received, sender=sender, message_type=message_type)
    intake.messages[0].status, intake.messages[0].status_at = code, at
    intake.messages[0].answers_record = answers
    return intake


def test_status_replies_list_each_status_to_a_delivered_message_by_the_partner_s_own_time(store) -> None:
    m1 = accept(store, plan("m-1")).id
    finish(store, DeliveryState.DELIVERED, now=T0 + 10)
    # received out of order: the correction (relief duty) was sent after, but reached the hub first
    accept(store, status("s-relief", "m-1", T0 + 50, "relief_duty", T0 + 40, answers=m1))
    accept(store, status("s-received", "m-1", T0 + 60, "received", T0 + 20, answers=m1))
    accept(store, status("s-prevention", "m-1", T0 + 70, "prevention_duty", T0 + 30, answers=m1))
    accept(store, reply("appointment", "m-1", T0 + 80))  # no status: not listed
    accept(store, status("s-other-type", "m-1", T0 + 90, "closed", T0 + 90, answers=m1, message_type="Other"))
    rows = store.status_replies({"HousingStatus"})
    assert [(r[5], r[7], r[8], r[9]) for r in rows] == [
        ("s-received", "received", T0 + 20, T0 + 60),
        ("s-prevention", "prevention_duty", T0 + 30, T0 + 70),
        ("s-relief", "relief_duty", T0 + 40, T0 + 50),
    ]
    assert {r[:7] for r in rows} == {("council-luton", "trust-a", "m-1", "HousingRequest", T0 + 11, r[5],
                                      "HousingStatus") for r in rows}  # fmt: skip
    assert store.status_replies(()) == []


def test_status_replies_ties_go_to_the_later_arrival_and_undelivered_or_foreign_messages_are_left_out(store) -> None:
    m1 = accept(store, plan("m-1")).id
    finish(store, DeliveryState.DELIVERED, now=T0 + 10)
    accept(store, status("s-first", "m-1", T0 + 30, "not_eligible", T0 + 20, answers=m1))
    accept(store, status("s-second", "m-1", T0 + 31, "relief_duty", T0 + 20, answers=m1))  # same time: arrival decides
    accept(store, status("s-no-time", "m-1", T0 + 32, "received", None, answers=m1))  # no usable time: first
    accept(store, status("s-stranger", "m-1", T0 + 33, "closed", T0 + 99, answers=m1,
                         sender="council-beds"))  # not delivered to it  # fmt: skip
    m2 = accept(store, plan("m-2", to=(("council-beds", "pull"),))).id  # waiting in an inbox: not delivered
    accept(store, status("s-waiting", "m-2", T0 + 34, "received", T0 + 34, answers=m2, sender="council-beds"))
    rows = store.status_replies({"HousingStatus"})
    assert [r[5] for r in rows] == ["s-no-time", "s-first", "s-second"]


def test_a_status_counts_only_for_the_message_it_answers_when_two_senders_share_a_message_id(store) -> None:
    """Message ids are unique per sender only: two referrers' requests to one council may share one. A status
    answers the one record intake resolved, never the other referrer's."""
    from_a = accept(store, plan("shared-id", sender="trust-a")).id
    accept(store, plan("shared-id", sender="trust-b"))
    finish(store, DeliveryState.DELIVERED, now=T0 + 10)
    accept(store, status("s-for-a", "shared-id", T0 + 30, "relief_duty", T0 + 20, answers=from_a))
    rows = store.status_replies({"HousingStatus"})
    assert [(r[1], r[2], r[5], r[7]) for r in rows] == [("trust-a", "shared-id", "s-for-a", "relief_duty")]


def test_an_upgrade_gives_older_status_replies_their_record_only_when_it_is_unambiguous(opened) -> None:
    """Status replies stored before ``answers_record`` existed get it from ``in_reply_to`` when exactly one message
    delivered to their sender has that id; one that could answer two senders' messages is left out, not doubled."""
    store = opened.store
    shared_a = accept(store, plan("shared", sender="trust-a")).id
    accept(store, plan("shared", sender="trust-b"))
    solo = accept(store, plan("solo", sender="trust-a")).id
    finish(store, DeliveryState.DELIVERED, now=T0 + 10)
    accept(store, status("s-shared", "shared", T0 + 30, "relief_duty", T0 + 20, answers=shared_a))
    accept(store, status("s-solo", "solo", T0 + 31, "received", T0 + 21, answers=solo))
    version = 9 if opened.url.startswith("sqlite") else 6  # the migration that added answers_record
    opened.execute("DROP INDEX messages_status_answers")
    opened.execute("ALTER TABLE messages DROP COLUMN answers_record")
    opened.execute(f"DELETE FROM schema_migrations WHERE version={version}")
    upgraded = opened.reopen()
    try:
        rows = upgraded.status_replies({"HousingStatus"})
        assert [(r[1], r[2], r[5]) for r in rows] == [("trust-a", "solo", "s-solo")]
    finally:
        upgraded.close()
