"""Matching referrals to directory services: properties over generated services and people (hypothesis).

The oracle for eligibility is written here from the rules of docs/partners/hostels.md, independently of
``why_not``: a service is offered only if it is not withdrawn, has a known figure above zero (fresh enough
when the policy asks), the person's age is known and inside its range when it has one, the person's gender
is one it takes when it names some, it supports every need of the person, and it serves the person's
district or local authority when it names areas.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hub_hostels.directory.links import NEEDS, LinkError, ServiceLink
from hub_hostels.directory.matching import CRITERIA, Candidate, MatchRequest, Policy, rank, why_not
from hypothesis import given, settings
from hypothesis import strategies as st

NOW = 2_000_000_000.0
AREAS = ["E06000032", "E06000056", "LU1", "LU2", "MK1"]
GENDERS = ["male", "female", "other", "unknown"]

ages = st.one_of(st.none(), st.integers(0, 100).map(float))
needs = st.frozensets(st.sampled_from(NEEDS), max_size=4)

candidates = st.builds(
    Candidate,
    service_id=st.text("abcdef0123", min_size=1, max_size=6),
    partner=st.sampled_from(["hostel-a", "hostel-b", "charity-c"]),
    withdrawn=st.booleans(),
    minimum_age=ages,
    maximum_age=ages,
    genders=st.one_of(st.none(), st.frozensets(st.sampled_from(GENDERS), min_size=1)),
    needs=st.frozensets(st.sampled_from(NEEDS), max_size=6),
    areas=st.one_of(st.none(), st.frozensets(st.sampled_from(AREAS), min_size=1)),
    available=st.one_of(st.none(), st.integers(-2, 5).map(float)),
    capacity_recorded_at=st.one_of(st.none(), st.floats(NOW - 10 * 86_400, NOW)),
)
requests = st.builds(
    MatchRequest,
    age=ages,
    gender=st.one_of(st.none(), st.sampled_from(GENDERS)),
    needs=needs,
    local_authority=st.one_of(st.none(), st.sampled_from(AREAS[:2])),
    postcode_district=st.one_of(st.none(), st.sampled_from(AREAS[2:])),
)
policies = st.builds(
    Policy,
    order=st.permutations(CRITERIA).flatmap(lambda order: st.integers(0, len(order)).map(lambda n: tuple(order[:n]))),
    max_capacity_age_seconds=st.one_of(st.none(), st.floats(60, 5 * 86_400)),
)


def oracle_may_offer(request: MatchRequest, c: Candidate, policy: Policy) -> bool:
    if c.withdrawn or c.available is None or c.available <= 0:
        return False
    if policy.max_capacity_age_seconds is not None and (
        c.capacity_recorded_at is None or NOW - c.capacity_recorded_at > policy.max_capacity_age_seconds
    ):
        return False
    if c.minimum_age is not None and (request.age is None or request.age < c.minimum_age):
        return False
    if c.maximum_age is not None and (request.age is None or request.age > c.maximum_age):
        return False
    if c.genders is not None and (request.gender or "unknown") not in c.genders:
        return False
    if not request.needs <= c.needs:
        return False
    return c.areas is None or bool({request.local_authority, request.postcode_district} & c.areas)


@settings(max_examples=200, deadline=None)
@given(request=requests, pool=st.lists(candidates, max_size=12), policy=policies)
def test_matching_never_offers_an_ineligible_or_full_service(
    request: MatchRequest, pool: list[Candidate], policy: Policy
) -> None:
    ranked = rank(request, pool, policy, NOW)
    for offered in ranked:
        assert oracle_may_offer(request, offered, policy)
        assert offered.available is not None and offered.available > 0
    # and leaves out nothing the rules allow (each eligible candidate appears as often as it was given)
    assert sorted(map(id, ranked)) == sorted(id(c) for c in pool if oracle_may_offer(request, c, policy))
    for candidate in pool:
        assert (why_not(request, candidate, policy, NOW) == []) == oracle_may_offer(request, candidate, policy)


@settings(max_examples=200, deadline=None)
@given(request=requests, pool=st.lists(candidates, max_size=10), policy=policies)
def test_the_order_is_deterministic_and_independent_of_input_order(
    request: MatchRequest, pool: list[Candidate], policy: Policy
) -> None:
    forwards = rank(request, pool, policy, NOW)
    backwards = rank(request, list(reversed(pool)), policy, NOW)
    assert [c.service_id for c in forwards] == [c.service_id for c in backwards]


def _open(service_id: str, **changes: object) -> Candidate:
    base = Candidate(service_id, "hostel-a", False, None, None, None, frozenset(), None, 3.0, NOW - 3600)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_default_order_area_then_needs_fit_then_freshness_then_available() -> None:
    person = MatchRequest(40, "female", frozenset({"mental_health"}), "E06000032", "LU1")
    district = _open("d", areas=frozenset({"LU1"}), needs=frozenset(NEEDS))
    authority = _open("a", areas=frozenset({"E06000032"}), needs=frozenset({"mental_health"}))
    anywhere = _open("z", needs=frozenset({"mental_health"}))
    fresh = _open("f", needs=frozenset({"mental_health"}), capacity_recorded_at=NOW - 60)
    roomy = _open("r", needs=frozenset({"mental_health"}), available=9.0)
    ranked = rank(person, [anywhere, roomy, fresh, authority, district], Policy(), NOW)
    assert [c.service_id for c in ranked] == ["d", "a", "f", "r", "z"]
    # needs_fit first: the specialist in the authority before the generalist in the district
    ranked = rank(person, [district, authority], Policy(order=("needs_fit", "area")), NOW)
    assert [c.service_id for c in ranked] == ["a", "d"]


def test_why_not_names_each_reason() -> None:
    person = MatchRequest(17, "male", frozenset({"substance_use"}), "E06000056", "MK1")
    closed = _open("x", withdrawn=True, available=0.0, minimum_age=18.0, genders=frozenset({"female"}),
                   areas=frozenset({"LU1"}))  # fmt: skip
    reasons = why_not(person, closed, Policy(), NOW)
    assert reasons == [
        "the service is withdrawn from the directory",
        "no place is available",
        "the person's age is outside the service's range",
        "the service takes other genders only",
        "needs beyond the service: substance_use",
        "the person is outside the service's area",
    ]
    stale = _open("s", capacity_recorded_at=NOW - 7200)
    assert why_not(MatchRequest(30, None, frozenset()), stale, Policy(max_capacity_age_seconds=3600), NOW) == [
        "the capacity figure is too old to trust"
    ]


def test_a_policy_naming_an_unknown_or_repeated_criterion_is_refused() -> None:
    with pytest.raises(ValueError, match="distance"):
        Policy(order=("area", "distance"))
    with pytest.raises(ValueError, match="twice"):
        Policy(order=("area", "area"))


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"partner": "h"}, "x.id: required"),
        ({"id": "s", "partner": "h", "needs": ["flying"]}, "x.needs: 'flying' is not one of"),
        ({"id": "s", "partner": "h", "areas": ["E10000025"]}, "x.areas: 'E10000025' is neither"),
        ({"id": "s", "partner": "h", "minimum_age": 30, "maximum_age": 20}, "x.minimum_age: is above maximum_age"),
        ({"id": "s", "partner": "h", "genders": ["robot"]}, "x.genders: 'robot'"),
        ({"id": "s", "partner": "h", "colour": "red"}, "x.colour: not a key"),
    ],
)
def test_a_bad_link_is_refused_naming_the_key(table: dict[str, object], fragment: str) -> None:
    with pytest.raises(LinkError, match=fragment.replace(".", r"\.")):
        ServiceLink.from_table(table, "x")
