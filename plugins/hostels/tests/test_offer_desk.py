"""The offer chain on the offer book, on SQLite and PostgreSQL: offers in turn, answers, time-outs, caps,
reservations and the navigators' queue.

Three hostels as in the issue's chain: ``full`` (no place), ``decliner`` and ``taker``; the clock is the test's,
so an offer window passes when the test moves it. The candidates are read from the real directory tables (the
same database as the offers), so a place taken on arrival is seen by the next match.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_hostels.directory.links import DirectorySettings, ServiceLink
from hub_hostels.directory.match_directory import candidates
from hub_hostels.directory.matching import MatchRequest
from hub_hostels.directory.records import Capacity, DirectoryService
from hub_hostels.offers.book import OfferBook, open_offers
from hub_hostels.offers.desk import OfferDesk, OfferRefused, UnknownOffer
from hub_hostels.offers.terms import OfferSettings, OfferSettingsError

from hub.testing.postgres import drop_postgres_database, fresh_postgres_database, postgres_server

PERSON = MatchRequest(age=34, gender="female", needs=frozenset({"mental_health"}), postcode_district="LU1")


@pytest.fixture(params=["sqlite", "postgresql"])
def book(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OfferBook]:
    if request.param == "sqlite":
        opened = open_offers(f"sqlite:///{tmp_path / 'directory.db'}")
        yield opened
        opened.close()
        return
    postgres_server()
    url = fresh_postgres_database()
    opened = open_offers(url)
    yield opened
    opened.close()
    drop_postgres_database(url)


class Clock:
    def __init__(self) -> None:
        self.now = 2_000_000_000.0

    def __call__(self) -> float:
        return self.now


def _service(service_id: str) -> DirectoryService:
    return DirectoryService(id=service_id, name=f"Service {service_id}", status="active")


def make_desk(book: OfferBook, clock: Clock, places: dict[str, int], settings: OfferSettings | None = None,
              partners: dict[str, str] | None = None) -> OfferDesk:  # fmt: skip
    """A desk over services ``places`` (service id -> places), each linked to the partner of the same name."""
    partners = partners or {}
    links = tuple(ServiceLink(s, partners.get(s, s), needs=frozenset({"mental_health"}), unit="bed")
                  for s in places)  # fmt: skip
    directory = DirectorySettings(links)
    book.upsert("feed", [_service(s) for s in places], "run-1", clock.now)
    for service_id, available in places.items():
        book.set_capacity(service_id, Capacity("bed", float(available), None, None, None), "feed", clock.now - 10)
    return OfferDesk(book, settings or OfferSettings(), lambda: candidates(book, directory),
                     lambda _record: PERSON, clock, unit_of=lambda _s: "bed")  # fmt: skip


def test_full_then_declining_then_accepting_and_the_referrer_told_each_step(book: OfferBook) -> None:
    clock = Clock()
    desk = make_desk(book, clock, {"full": 0, "decliner": 3, "taker": 1})
    first = desk.refer("rec-1", "coordinator")
    assert [o.partner for o in first.offered] == ["decliner"]  # freshness then places: 'full' is never offered
    with pytest.raises(UnknownOffer):
        desk.answer(first.offered[0].id, "taker", "accept")  # another provider's offer does not exist for it
    second = desk.answer(first.offered[0].id, "decliner", "decline", "risk")
    assert [o.partner for o in second.offered] == ["taker"]
    accepted = desk.answer(second.offered[0].id, "taker", "accept")
    assert accepted.offered == [] and accepted.withdrawn == []
    assert desk.notices("rec-1") == [("offered", None), ("declined", "risk"), ("offered", None),
                                     ("accepted", None)]  # fmt: skip
    with pytest.raises(OfferRefused, match="already accepted"):
        desk.answer(second.offered[0].id, "taker", "decline", "other")

    # the one place of 'taker' is reserved: a second person is not offered it, and waits for a navigator
    other = desk.refer("rec-2", "coordinator")
    assert [o.partner for o in other.offered] == ["decliner"]
    desk.answer(other.offered[0].id, "decliner", "decline", "no_capacity")
    assert desk.queue()[0][:3] == ("rec-2", "coordinator", "all_declined")

    placed = desk.arrived(second.offered[0].id, "taker")
    assert [n.step for n in placed.notices] == ["placed"]
    assert book.capacities("taker")[0].capacity.available == 0  # the reservation became a place taken


def test_a_lapsed_window_moves_on_once(book: OfferBook) -> None:
    clock = Clock()
    desk = make_desk(book, clock, {"a": 2, "b": 1})
    first = desk.refer("rec-1", "ward")
    with book.transaction() as tx:
        tx.mark_sent(first.offered[0].id, clock.now, "record-of-offer-1")
        assert [(o.id, o.message_record) for o in tx.sent_open_offers()] == [(first.offered[0].id,
                                                                              "record-of-offer-1")]  # fmt: skip
    moved = desk.expire(first.offered[0].id)  # its window milestone was breached
    assert [o.partner for o in moved.offered] == ["b"] and moved.withdrawn[0].id == first.offered[0].id
    assert desk.expire(first.offered[0].id).offered == []  # firing again changes nothing
    with pytest.raises(OfferRefused, match="already expired"):
        desk.answer(first.offered[0].id, "a", "accept")
    desk.expire(moved.offered[0].id)
    assert desk.queue()[0][2] == "all_declined"
    assert [step for step, _ in desk.notices("rec-1")] == ["offered", "expired", "offered", "expired",
                                                            "waiting_for_navigator"]  # fmt: skip
    with book.transaction() as tx:  # every step waits to be sent to the referrer, once
        unsent = tx.unsent_notices()
        assert [n[3] for n in unsent] == ["offered", "expired", "offered", "expired", "waiting_for_navigator"]
        tx.mark_notice_sent(unsent[0][0], clock.now)
        assert len(tx.unsent_notices()) == 4


def test_navigator_queue_and_allocation_by_hand(book: OfferBook) -> None:
    clock = Clock()
    desk = make_desk(book, clock, {"a": 0})
    assert desk.refer("nomatch", "ward").notices[0].detail == "no_match"
    clock.now += 1
    assert desk.refer("self", "dropin", self_referral=True).notices[0].detail == "self_referral"
    clock.now += 1
    assert desk.refer("hard", "ward", complex_case=True).notices[0].detail == "complex"
    assert desk.refer("hard", "ward").notices == []  # the same referral again: nothing happens
    assert [q[2] for q in desk.queue()] == ["no_match", "self_referral", "complex"]
    with pytest.raises(OfferRefused, match="reason: required"):
        desk.allocate("self", "a", "navigator-1", "  ")
    with pytest.raises(OfferRefused, match="not a linked service"):
        desk.allocate("self", "nowhere", "navigator-1", "known to the service")
    allocated = desk.allocate("self", "a", "navigator-1", "place freed today, confirmed by phone")
    assert [o.partner for o in allocated.offered] == ["a"]
    assert [q[0] for q in desk.queue()] == ["nomatch", "hard"]
    with book.transaction() as tx:
        assert tx.allocations("self")[0][:3] == ("a", "navigator-1", "place freed today, confirmed by phone")
    with pytest.raises(OfferRefused, match="not waiting"):
        desk.allocate("self", "a", "navigator-1", "again")


def test_a_navigator_closes_a_queued_referral_with_a_reason_code_once(book: OfferBook) -> None:
    clock = Clock()
    desk = make_desk(book, clock, {"a": 0})
    desk.refer("self", "dropin", self_referral=True)
    with pytest.raises(OfferRefused, match="reason_code: 'because'"):
        desk.close("self", "navigator-1", "because")
    closed = desk.close("self", "navigator-1", "duplicate")
    assert [(n.step, n.detail, n.referrer) for n in closed.notices] == [("closed", "duplicate", "dropin")]
    assert desk.queue() == [] and closed.offered == []
    with book.transaction() as tx:
        state = tx.referral("self")
        assert state is not None and state.state == "closed"
        assert tx.allocations("self")[0][:3] == ("", "navigator-1", "closed: duplicate")
    with pytest.raises(OfferRefused, match="closed, not waiting"):
        desk.close("self", "navigator-1", "duplicate")
    with pytest.raises(OfferRefused, match="not in the chain"):
        desk.close("ghost", "navigator-1", "duplicate")


def test_accept_withdraws_the_other_offers_and_withdrawal_releases_the_place(book: OfferBook) -> None:
    clock = Clock()
    desk = make_desk(book, clock, {"a": 1, "b": 1, "c": 1}, OfferSettings(at_once=2))
    first = desk.refer("rec-1", "ward")
    assert sorted(o.partner for o in first.offered) == ["a", "b"]
    accepted = desk.answer(first.offered[0].id, first.offered[0].partner, "accept")
    assert [o.id for o in accepted.withdrawn] == [first.offered[1].id]  # told only that its offer is withdrawn
    assert desk.refer("rec-2", "ward").offered[0].partner != first.offered[0].partner  # the place is reserved
    released = desk.withdraw(first.offered[0].id)
    assert released.notices[0].step == "withdrawn"
    with book.transaction() as tx:
        assert tx.reserved_counts() == {}


def test_caps_on_open_offers(book: OfferBook) -> None:
    clock = Clock()
    settings = OfferSettings(at_once=5, max_open_per_referral=2, max_open_per_service=1)
    desk = make_desk(book, clock, {"a": 9, "b": 9, "c": 9}, settings)
    assert len(desk.refer("rec-1", "ward").offered) == 2  # the per-referral cap clips at_once
    second = desk.refer("rec-2", "ward")  # a and b each hold their one open offer: only c is offered
    assert [o.partner for o in second.offered] == ["c"]
    assert desk.refer("rec-3", "ward").notices[0].detail == "no_match"


def test_info_request_and_bad_answers_change_nothing(book: OfferBook) -> None:
    clock = Clock()
    desk = make_desk(book, clock, {"a": 1})
    offer = desk.refer("rec-1", "ward").offered[0]
    for answer, code, match in [
        ("maybe", None, "answer"),
        ("decline", None, "reason_code"),
        ("decline", "too_busy", "reason_code"),
        ("accept", "risk", "only a decline"),
    ]:
        with pytest.raises(OfferRefused, match=match):
            desk.answer(offer.id, "a", answer, code)
    assert desk.offers("rec-1")[0].state == "open"
    assert desk.answer(offer.id, "a", "info").notices[0].step == "info_requested"
    assert desk.answer(offer.id, "a", "accept").notices[0].step == "accepted"  # still answerable after asking


def test_offer_settings_are_checked_naming_the_key() -> None:
    class S:
        def __init__(self, offers: object) -> None:
            self.plugin_settings = {"hostels": {"offers": offers}}

    assert OfferSettings.from_settings(S({"at_once": 2, "window_milestone": "w"})) == OfferSettings(2, "w", 6, 20)
    for table, key in [({"at_onc": 1}, "at_onc"), ({"at_once": 0}, "at_once"), ({"max_open_per_service": 2.5},
                       "max_open_per_service"), ({"window_milestone": 3}, "window_milestone")]:  # fmt: skip
        with pytest.raises(OfferSettingsError, match=f"plugins.hostels.offers.{key}"):
            OfferSettings.from_settings(S(table))


def test_an_offer_never_sent_is_found_again_until_marked_sent(book: OfferBook) -> None:
    clock = Clock()
    desk = make_desk(book, clock, {"a": 1, "b": 1}, OfferSettings(at_once=2))
    made = desk.refer("rec-1", "ward").offered
    with book.transaction() as tx:
        assert tx.unsent(clock.now) == []  # only offers older than the given time
        assert {o.id for o in tx.unsent(clock.now + 1)} == {o.id for o in made}
        tx.mark_sent(made[0].id, clock.now, "record-1")
        assert [o.id for o in tx.unsent(clock.now + 1)] == [made[1].id]


def test_a_book_made_before_the_window_milestone_gains_its_columns(book: OfferBook) -> None:
    """An offer book of an earlier version (no ``message_record``, no ``sent_at`` of notices) is upgraded on
    opening, keeping its rows."""
    clock = Clock()
    desk = make_desk(book, clock, {"a": 1})
    made = desk.refer("rec-1", "ward").offered[0]
    with book.transaction() as tx:
        tx._run("ALTER TABLE hostels_offers_offer DROP COLUMN message_record")
        tx._run("ALTER TABLE hostels_offers_notice DROP COLUMN sent_at")
        tx._run("DROP TABLE hostels_schema")  # made before the schema was versioned
    book.create()  # what opening the book does
    book.create()  # twice: nothing more to add
    with book.transaction() as tx:
        assert [o.id for o in tx.open_offers()] == [made.id]
        tx.mark_sent(made.id, clock.now, "record-1")
        assert [o.message_record for o in tx.sent_open_offers()] == ["record-1"]
        assert [n[3] for n in tx.unsent_notices()] == ["offered"]
    assert (book.schema_version("directory"), book.schema_version("offers")) == (1, 3)


def test_a_withdrawal_owes_its_provider_a_notice_until_told_once_sent(book: OfferBook) -> None:
    """An accept and an operator's withdrawal record the notice owed with the change; only offers whose Referral
    was committed for the provider are listed; told, an offer is owed nothing more."""
    clock = Clock()
    desk = make_desk(book, clock, {"a": 1, "b": 1, "c": 1}, OfferSettings(at_once=3))
    a, b, c = desk.refer("rec-1", "ward").offered
    with book.transaction() as tx:
        tx.mark_sent(b.id, clock.now, "record-b")
        tx.mark_sent(c.id, clock.now, "record-c")
    desk.answer(a.id, a.partner, "accept")
    with book.transaction() as tx:
        assert [o.id for o in tx.withdrawal_notices_owed()] == sorted([b.id, c.id])
        tx.mark_withdrawal_told(b.id, clock.now)
        tx.mark_withdrawal_told(b.id, clock.now + 1)  # a repeat changes nothing
        assert [o.id for o in tx.withdrawal_notices_owed()] == [c.id]
    desk.withdraw(a.id)  # the accepted offer, never sent: owed, but not listed until its Referral is committed
    with book.transaction() as tx:
        assert [o.id for o in tx.withdrawal_notices_owed()] == [c.id]
        tx.mark_sent(a.id, clock.now, "record-a")
        assert sorted(o.id for o in tx.withdrawal_notices_owed()) == sorted([a.id, c.id])


def test_a_book_of_version_2_gains_the_withdrawal_columns_and_owes_nothing_for_earlier_withdrawals(
    book: OfferBook,
) -> None:
    clock = Clock()
    desk = make_desk(book, clock, {"a": 1, "b": 1}, OfferSettings(at_once=2))
    a, b = desk.refer("rec-1", "ward").offered
    with book.transaction() as tx:
        tx.mark_sent(b.id, clock.now, "record-b")
        tx._run("ALTER TABLE hostels_offers_offer DROP COLUMN withdrawal_owed")
        tx._run("ALTER TABLE hostels_offers_offer DROP COLUMN withdrawal_told_at")
        tx._run("UPDATE hostels_offers_offer SET state = 'withdrawn' WHERE id = ?", (b.id,))  # told by version 2
        tx._run("UPDATE hostels_schema SET version = 2 WHERE part = 'offers'")
    book.create()  # what opening the book does
    assert book.schema_version("offers") == 3
    with book.transaction() as tx:
        assert {o.id: o.state for o in tx.offers("rec-1")} == {a.id: "open", b.id: "withdrawn"}  # rows kept
        assert tx.withdrawal_notices_owed() == []
