"""What operators and matching see of one directory service: the feed's record, its link and its capacity."""

from __future__ import annotations

from typing import Any

from hub_hostels.directory.database import StoredCapacity, StoredService
from hub_hostels.directory.links import DirectorySettings, ServiceLink
from hub_hostels.directory.matching import Candidate


def age_text(seconds: float) -> str:
    """How old a figure is, in words (``just now``, ``5 min``, ``3 h``, ``2 days``)."""
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 172_800:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86_400)} days"


def chosen_capacity(capacities: list[StoredCapacity], link: ServiceLink | None) -> StoredCapacity | None:
    """The figure a service is matched on: its link's ``unit`` when set, else the most recently recorded."""
    if link is not None and link.unit is not None:
        return next((c for c in capacities if c.capacity.unit.casefold() == link.unit.casefold()), None)
    return max(capacities, key=lambda c: c.recorded_at, default=None)


def candidate(stored: StoredService, link: ServiceLink, capacities: list[StoredCapacity],
              settings: DirectorySettings) -> Candidate:  # fmt: skip
    """The service as matching sees it: the link's eligibility over the feed's, and its chosen capacity."""
    figure = chosen_capacity(capacities, link)
    service = stored.service
    return Candidate(
        service_id=service.id,
        partner=link.partner,
        withdrawn=stored.withdrawn,
        minimum_age=link.minimum_age if link.minimum_age is not None else service.minimum_age,
        maximum_age=link.maximum_age if link.maximum_age is not None else service.maximum_age,
        genders=link.genders,
        needs=settings.needs_of(link, service.terms),
        areas=link.areas,
        available=None if figure is None else figure.capacity.available,
        capacity_recorded_at=None if figure is None else figure.recorded_at,
    )


def describe(stored: StoredService, capacities: list[StoredCapacity], link: ServiceLink | None,
             settings: DirectorySettings, now: float) -> dict[str, Any]:  # fmt: skip
    """JSON for ``hub directory show`` and the API: the record, its link and each capacity with its age."""
    service = stored.service
    return {
        **service.summary(),
        "feed": stored.feed,
        "withdrawn": stored.withdrawn,
        "withdrawn_at": stored.withdrawn_at,
        "first_seen_at": stored.first_seen_at,
        "changed_at": stored.changed_at,
        "seen_at": stored.seen_at,
        "capacities": [
            {"unit": c.capacity.unit, "available": c.capacity.available, "maximum": c.capacity.maximum,
             "updated": c.capacity.updated, "source": c.source, "recorded_at": c.recorded_at,
             "age_seconds": round(max(0.0, now - c.recorded_at), 1),
             "freshness": age_text(max(0.0, now - c.recorded_at))}
            for c in capacities
        ],
        "link": None if link is None else {
            "partner": link.partner,
            "minimum_age": link.minimum_age, "maximum_age": link.maximum_age,
            "genders": None if link.genders is None else sorted(link.genders),
            "needs": sorted(settings.needs_of(link, service.terms)),
            "areas": None if link.areas is None else sorted(link.areas),
            "unit": link.unit, "maximum": link.maximum,
        },
    }  # fmt: skip
