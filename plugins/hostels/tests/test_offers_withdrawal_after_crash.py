"""A withdrawal committed by a process that died before telling the provider: the next round of a hub tells it.

The world of ``offers_world`` with two offers open at once (the decliner's and the taker's). The hub is killed
(SIGKILL) once both offers are sent; the taker's accept is then committed through the offer desk directly against
the offer book while no hub runs, the way a process that made the change and died before sending leaves it.
The hub started again must tell the withdrawn offer's provider, once; and when a crash comes after the notice
was handed to the hub but before it was marked so, the round after makes the same message again, which the hub
takes as a repeat: the provider still receives it once.

The second test is the window before that: the hub's intake committed an offered Referral (its provider receives
it) and the process was killed before the offer book noted it sent; the offer is withdrawn after. The next round
finds the Referral in the hub's store (``record_of``) and tells the provider, once; withdrawn offers whose
Referral was never committed are told nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hostels_feed import FeedServer
from hub_hostels.directory.database import database_url
from hub_hostels.directory.matching import MatchRequest
from hub_hostels.offers.book import Offer, open_offers
from hub_hostels.offers.chain import NEVER_SENT_AFTER_SECONDS
from hub_hostels.offers.desk import OfferDesk
from hub_hostels.offers.terms import OfferSettings
from offers_world import FULL, make_world, offers_of, three_service_feed, unmatched_referral, wait_until

from hub.testing.world import HubWorld


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    server = three_service_feed()
    yield server
    server.close()


def offers(url: str, record: str) -> list[Offer]:
    book = open_offers(url)
    try:
        with book.transaction() as tx:
            return tx.offers(record)
    finally:
        book.close()


def told_at(url: str, offer_id: str) -> object:
    book = open_offers(url)
    try:
        with book.transaction() as tx:
            rows = tx._run("SELECT withdrawal_told_at FROM hostels_offers_offer WHERE id = ?", (offer_id,))
        return rows[0][0]
    finally:
        book.close()


def no_matching(record_id: str) -> MatchRequest:
    raise AssertionError(f"an accept matches nothing ({record_id})")


def accept_with_no_hub(url: str, offer: Offer) -> list[str]:
    """The provider's accept committed through the desk against the book; return the withdrawn offers' ids."""
    book = open_offers(url)
    try:
        desk = OfferDesk(book, OfferSettings(), lambda: [], no_matching, time.time)
        return [o.id for o in desk.answer(offer.id, offer.partner, "accept").withdrawn]
    finally:
        book.close()


def two_offers_sent(hub_world_factory: Callable[..., HubWorld], feed: FeedServer) -> tuple[HubWorld, str, str, Any]:
    """A running hub with an unmatched referral offered to two providers at once, both offers sent and noted:
    the world, the offer book's database URL, the referral's record and the Referral hostel-no received."""
    world = make_world(hub_world_factory, feed, window="1h", offers={"at_once": 2})
    sims = world.sims
    url = database_url(world.settings())
    record = unmatched_referral(world)
    assert wait_until(lambda: sims["hostel-no"].messages("Referral") and sims["hostel-yes"].messages("Referral"))
    assert wait_until(lambda: len([o for o in offers(url, record) if o.message_record]) == 2), offers(url, record)
    (offered_no,) = sims["hostel-no"].messages("Referral")
    return world, url, record, offered_no


def test_a_withdrawal_committed_before_a_crash_is_told_by_the_next_round_once(
    hub_world_factory: Callable[..., HubWorld], feed: FeedServer
) -> None:
    world, url, record, offered_no = two_offers_sent(hub_world_factory, feed)
    sims = world.sims

    world.hub.kill()  # SIGKILL: the process that would make the change is gone
    by_partner = {o.partner: o for o in offers(url, record)}
    assert accept_with_no_hub(url, by_partner["hostel-yes"]) == [by_partner["hostel-no"].id]
    assert told_at(url, by_partner["hostel-no"].id) is None  # owed, recorded with the withdrawal
    assert sims["hostel-no"].messages("ReferralUpdate") == []

    world.hub.start()
    assert sims["hostel-no"].wait_for(lambda s: s.messages("ReferralUpdate"), timeout=30)
    assert wait_until(lambda: told_at(url, by_partner["hostel-no"].id) is not None)
    (update,) = sims["hostel-no"].messages("ReferralUpdate")
    assert update["payload"]["step"] == "withdrawn" and update["recipient"]["org_id"] == "hostel-no"
    assert update["payload"]["referral_message_id"] == offered_no["message_id"]
    assert [o["referral"] for o in offers_of(world, "hostel-no")] == []  # its offer is no longer open to it
    assert sims["hostel-yes"].messages("ReferralUpdate") == []  # the taker is told nothing of a withdrawal

    # a crash after the hand-over, before it was marked: the owed notice is made again under the same key
    world.hub.kill()
    book = open_offers(url)
    try:
        with book.transaction() as tx:
            tx._run("UPDATE hostels_offers_offer SET withdrawal_told_at = NULL WHERE id = ?",
                    (by_partner["hostel-no"].id,))  # fmt: skip
    finally:
        book.close()
    world.hub.start()
    assert wait_until(lambda: told_at(url, by_partner["hostel-no"].id) is not None)
    time.sleep(2)  # four more rounds: a second message, were one made, would have been delivered by now
    assert len(sims["hostel-no"].messages("ReferralUpdate")) == 1


def test_a_referral_committed_but_never_noted_as_sent_before_a_crash_still_gets_its_withdrawal_notice(
    hub_world_factory: Callable[..., HubWorld], feed: FeedServer
) -> None:
    """The crash window between the hub's intake accepting an offered Referral (so its provider receives it) and
    the offer book noting it sent: the offer, withdrawn after, must still be told to its provider, once."""
    world, url, record, offered_no = two_offers_sent(hub_world_factory, feed)
    sims = world.sims

    world.hub.kill()
    by_partner = {o.partner: o for o in offers(url, record)}
    withdrawn = by_partner["hostel-no"]
    book = open_offers(url)
    try:  # what a process killed after the intake's commit and before ``mark_sent`` leaves in the book
        with book.transaction() as tx:
            tx._run("UPDATE hostels_offers_offer SET sent_at = NULL, message_record = NULL WHERE id = ?",
                    (withdrawn.id,))  # fmt: skip
    finally:
        book.close()
    assert accept_with_no_hub(url, by_partner["hostel-yes"]) == [withdrawn.id]
    assert sims["hostel-no"].messages("ReferralUpdate") == []
    # two offers withdrawn whose Referral a process never committed (stopped before its intake): no record
    never_sent = {"old": NEVER_SENT_AFTER_SECONDS + 60, "recent": 30.0}
    book = open_offers(url)
    try:
        with book.transaction() as tx:
            for name, age in never_sent.items():
                tx.add_offer(Offer(f"never-sent-{name}", record, FULL, "hostel-full", "withdrawn", None,
                                   time.time() - age, None, time.time(), False))  # fmt: skip
                tx.owe_withdrawal_notice(f"never-sent-{name}")
    finally:
        book.close()

    world.hub.start()
    assert sims["hostel-no"].wait_for(lambda s: s.messages("ReferralUpdate"), timeout=30), "the notice was lost"
    assert wait_until(lambda: told_at(url, withdrawn.id) is not None)
    (update,) = sims["hostel-no"].messages("ReferralUpdate")
    assert update["payload"]["step"] == "withdrawn" and update["recipient"]["org_id"] == "hostel-no"
    assert update["payload"]["referral_message_id"] == offered_no["message_id"]
    # the Referral found in the hub's store is the one committed before the crash
    assert {o.id: o.message_record for o in offers(url, record)}[withdrawn.id] == withdrawn.message_record
    assert sims["hostel-yes"].messages("ReferralUpdate") == []
    time.sleep(2)  # four more rounds: a second notice, were one made, would have been delivered by now
    assert len(sims["hostel-no"].messages("ReferralUpdate")) == 1
    assert len(sims["hostel-no"].messages("Referral")) == 1  # and the withdrawn offer was not sent again
    # never sent: nothing is told; past the bound the book stops looking (noted as needing no notice)
    assert told_at(url, "never-sent-old") is not None and told_at(url, "never-sent-recent") is None
    assert sims["hostel-full"].messages() == []
