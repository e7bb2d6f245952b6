"""Properties of the whole offer chain (hypothesis), on the real offer book (SQLite): whatever referrals come and
whatever the providers answer, in any order,

- no offer is ever made to a service that is ineligible for the person, or that has no place left once the
  places reserved by accepted offers are counted;
- no referral holds more open offers than ``max_open_per_referral`` (nor more than ``at_once``), and no service
  more than ``max_open_per_service``;
- a service is offered one referral at most once;
- every referral ends with an open offer, an accepted one, or in the navigators' queue.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hub_hostels.directory.links import DirectorySettings, ServiceLink
from hub_hostels.directory.match_directory import candidates
from hub_hostels.directory.matching import MatchRequest
from hub_hostels.directory.records import Capacity, DirectoryService
from hub_hostels.offers.book import OfferBook, open_offers
from hub_hostels.offers.desk import OfferDesk
from hub_hostels.offers.terms import OfferSettings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NOW = 2_000_000_000.0
PEOPLE = [
    MatchRequest(age=30, gender="female", needs=frozenset({"mental_health"}), postcode_district="LU1"),
    MatchRequest(age=70, gender="male", needs=frozenset({"substance_use"}), postcode_district="MK40"),
]
NEEDS = [frozenset({"mental_health"}), frozenset({"substance_use"}), frozenset({"mental_health", "substance_use"})]

services = st.lists(
    st.tuples(
        st.integers(0, 3),  # places
        st.sampled_from(NEEDS),
        st.sampled_from([(None, None), (18, 65), (60, None)]),  # age range
        st.sampled_from([(), ("LU1",), ("MK40",)]),  # areas
    ),
    min_size=1,
    max_size=6,
)
acts = st.lists(
    st.tuples(st.sampled_from(["refer", "accept", "decline", "expire", "arrive", "withdraw"]), st.integers(0, 50)),
    max_size=40,
)
offer_settings = st.builds(OfferSettings, at_once=st.integers(1, 3), max_open_per_referral=st.integers(1, 3),
                           max_open_per_service=st.integers(1, 3))  # fmt: skip


def _eligible(link: ServiceLink, person: MatchRequest) -> bool:
    age = person.age
    assert age is not None
    return (
        link.needs >= person.needs
        and (link.minimum_age is None or age >= link.minimum_age)
        and (link.maximum_age is None or age <= link.maximum_age)
        and (not link.areas or person.postcode_district in link.areas)
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pool=services, script=acts, chosen=offer_settings, who=st.lists(st.integers(0, 1), min_size=50, max_size=50))
def test_the_chain_never_offers_an_ineligible_or_full_service_and_keeps_its_caps(
    pool: list[tuple[int, frozenset[str], tuple[int | None, int | None], tuple[str, ...]]],
    script: list[tuple[str, int]],
    chosen: OfferSettings,
    who: list[int],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        book = open_offers(f"sqlite:///{Path(folder) / 'directory.db'}")
        try:
            _run(book, pool, script, chosen, who)
        finally:
            book.close()


def _run(book: OfferBook, pool: list[tuple[int, frozenset[str], tuple[int | None, int | None], tuple[str, ...]]],
         script: list[tuple[str, int]], chosen: OfferSettings, who: list[int]) -> None:  # fmt: skip
    links = tuple(ServiceLink(f"s{i}", f"p{i}", minimum_age=ages[0], maximum_age=ages[1], needs=needs,
                              areas=frozenset(areas) or None, unit="bed")
                  for i, (_, needs, ages, areas) in enumerate(pool))  # fmt: skip
    places = {f"s{i}": p for i, (p, *_rest) in enumerate(pool)}
    book.upsert("feed", [DirectoryService(id=s, name=s, status="active") for s in places], "run-1", NOW)
    for service_id, available in places.items():
        book.set_capacity(service_id, Capacity("bed", float(available), None, None, None), "feed", NOW - 10)
    person_of: dict[str, MatchRequest] = {}
    desk = OfferDesk(book, chosen, lambda: candidates(book, DirectorySettings(links)), person_of.__getitem__,
                     lambda: NOW, unit_of=lambda _s: "bed")  # fmt: skip
    by_id = {link.service_id: link for link in links}
    referrals: list[str] = []
    for act, pick in script:
        with book.transaction() as tx:
            open_now = tx.open_offers()
            accepted = [o for r in referrals for o in tx.offers(r) if o.state == "accepted"]
        if act == "refer" or not referrals:
            record = f"rec-{len(referrals)}"
            person_of[record] = PEOPLE[who[len(referrals) % len(who)]]
            referrals.append(record)
            outcome = desk.refer(record, "ward")
        elif act in ("accept", "decline", "expire") and open_now:
            offer = open_now[pick % len(open_now)]
            if act == "expire":
                outcome = desk.expire(offer.id)
            else:
                outcome = desk.answer(offer.id, offer.partner, act, "no_capacity" if act == "decline" else None)
        elif act in ("arrive", "withdraw") and accepted:
            offer = accepted[pick % len(accepted)]
            outcome = desk.arrived(offer.id, offer.partner) if act == "arrive" else desk.withdraw(offer.id)
        else:
            continue
        left = {s: book_places(book, s) for s in places}  # less the places taken on arrival
        with book.transaction() as tx:
            reserved = tx.reserved_counts()  # after the act: an accepted offer's place is held
            for new in outcome.offered:
                link = by_id[new.service_id]
                assert _eligible(link, person_of[new.record_id]), (new, link)
                assert left[new.service_id] - reserved.get(new.service_id, 0) > 0, (new, left, reserved)
            for record in referrals:
                offers = tx.offers(record)
                assert sum(o.open for o in offers) <= min(chosen.at_once, chosen.max_open_per_referral)
                assert len({o.service_id for o in offers}) == len(offers)  # each service offered it once
                state = tx.referral(record)
                assert state is not None
                assert (any(o.open or o.state in ("accepted", "arrived") for o in offers)
                        or state.state == "waiting_for_navigator"), (record, state, offers)  # fmt: skip
            assert all(count <= chosen.max_open_per_service for count in tx.open_counts().values())


def book_places(book: OfferBook, service_id: str) -> int:
    """The service's places as the directory now holds them (less those taken on arrival)."""
    (figure,) = book.capacities(service_id)
    return int(figure.capacity.available)
