"""Matching a referral to directory services: who is eligible, who has room, and in which order.

``rank(request, candidates, policy)`` is pure: it returns the eligible candidates with room, best first,
and never one that is ineligible or full. A candidate is left out when any of these holds (``why_not`` says
which, in words an operator can act on):

- the service is withdrawn (its feed no longer lists it, or says it is closed);
- it has no capacity figure, no place available in its unit, or (with ``policy.max_capacity_age_seconds``) a
  figure older than that: an unknown figure is never taken for room;
- the person's age is outside its age range, or unknown while it has one;
- it takes certain genders only and the person's is not one of them;
- the person has a need it does not support (its ``needs`` and the needs its taxonomy terms map to);
- it serves certain areas only, and neither the person's local authority nor postcode district is one.

The order is ``policy.order``, a list of criteria applied in turn (each breaks the ties of the one before),
by default ``area, needs_fit, freshness, available``:

- ``area``: a service for the person's postcode district, then one for their local authority, then one
  that serves anywhere;
- ``needs_fit``: fewer needs supported beyond the person's first (a specialist before a generalist, so
  general places stay free for those who need them);
- ``freshness``: the capacity figure recorded most recently first (most likely still true);
- ``available``: more places available first.

Ties after all of them are broken by service id, so the same inputs always give the same order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CRITERIA = ("area", "needs_fit", "freshness", "available")
DEFAULT_ORDER = CRITERIA


@dataclass(frozen=True)
class MatchRequest:
    """What matching knows of the person: age in years, gender, needs, local authority (GSS), district."""

    age: float | None
    gender: str | None
    needs: frozenset[str]
    local_authority: str | None = None
    postcode_district: str | None = None


@dataclass(frozen=True)
class Candidate:
    """One linked service as matching sees it (see ``hub_hostels.directory.links.ServiceLink``)."""

    service_id: str
    partner: str
    withdrawn: bool
    minimum_age: float | None
    maximum_age: float | None
    genders: frozenset[str] | None
    needs: frozenset[str]
    areas: frozenset[str] | None
    available: float | None
    capacity_recorded_at: float | None


@dataclass(frozen=True)
class Policy:
    """How candidates are ordered, and how old a capacity figure may be (None: any age)."""

    order: tuple[str, ...] = DEFAULT_ORDER
    max_capacity_age_seconds: float | None = None

    def __post_init__(self) -> None:
        unknown = [c for c in self.order if c not in CRITERIA]
        if unknown or len(set(self.order)) != len(self.order):
            raise ValueError(f"prioritisation: {', '.join(unknown) or 'a criterion named twice'}; "
                             f"the criteria are {', '.join(CRITERIA)}, each at most once")  # fmt: skip


def why_not(request: MatchRequest, candidate: Candidate, policy: Policy, now: float) -> list[str]:
    """Why ``candidate`` may not be offered ``request`` (empty: it may)."""
    reasons = []
    if candidate.withdrawn:
        reasons.append("the service is withdrawn from the directory")
    if candidate.available is None:
        reasons.append("no capacity figure is known")
    elif candidate.available <= 0:
        reasons.append("no place is available")
    elif policy.max_capacity_age_seconds is not None and (
        candidate.capacity_recorded_at is None or now - candidate.capacity_recorded_at > policy.max_capacity_age_seconds
    ):
        reasons.append("the capacity figure is too old to trust")
    if candidate.minimum_age is not None or candidate.maximum_age is not None:
        if request.age is None:
            reasons.append("the person's age is unknown and the service has an age range")
        elif (candidate.minimum_age is not None and request.age < candidate.minimum_age) or (
            candidate.maximum_age is not None and request.age > candidate.maximum_age
        ):
            reasons.append("the person's age is outside the service's range")
    if candidate.genders is not None and (request.gender or "unknown") not in candidate.genders:
        reasons.append("the service takes other genders only")
    missing = request.needs - candidate.needs
    if missing:
        reasons.append(f"needs beyond the service: {', '.join(sorted(missing))}")
    if candidate.areas is not None and not (
        (request.postcode_district is not None and request.postcode_district in candidate.areas)
        or (request.local_authority is not None and request.local_authority in candidate.areas)
    ):
        reasons.append("the person is outside the service's area")
    return reasons


def _key(request: MatchRequest, candidate: Candidate, order: tuple[str, ...]) -> tuple[object, ...]:
    parts: list[object] = []
    for criterion in order:
        if criterion == "area":
            if candidate.areas is None:
                parts.append(2)
            elif request.postcode_district is not None and request.postcode_district in candidate.areas:
                parts.append(0)
            else:
                parts.append(1)
        elif criterion == "needs_fit":
            parts.append(len(candidate.needs - request.needs))
        elif criterion == "freshness":
            parts.append(-(candidate.capacity_recorded_at or 0.0))
        elif criterion == "available":
            parts.append(-(candidate.available or 0.0))
    parts.append(candidate.service_id)
    return tuple(parts)


def rank(request: MatchRequest, candidates: Iterable[Candidate], policy: Policy, now: float) -> list[Candidate]:
    """The candidates that may be offered ``request``, best first (see the module's docstring)."""
    eligible = [c for c in candidates if not why_not(request, c, policy, now)]
    return sorted(eligible, key=lambda c: _key(request, c, policy.order))
