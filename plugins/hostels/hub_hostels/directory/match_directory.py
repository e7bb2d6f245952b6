"""Matching against the directory as it is now: every linked service, its eligibility and its chosen capacity.

``candidates(database, settings)`` reads each ``[[plugins.hostels.service]]`` link with the directory's record
and capacity of its service (a link whose service the directory does not hold is a withdrawn candidate: it is
never offered). ``match(database, settings, request, policy, now)`` ranks them with
``hub_hostels.directory.matching.rank`` and says, for each service left out, why.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub_hostels.directory.database import DirectoryDatabase
from hub_hostels.directory.links import DirectorySettings
from hub_hostels.directory.matching import Candidate, MatchRequest, Policy, rank, why_not
from hub_hostels.directory.view import candidate


@dataclass(frozen=True)
class MatchResult:
    """The services that may be offered, best first, and why each other linked service may not."""

    ranked: list[Candidate]
    excluded: dict[str, list[str]]


def candidates(database: DirectoryDatabase, settings: DirectorySettings) -> list[Candidate]:
    """Every linked service as matching sees it."""
    found = []
    for link in settings.links:
        stored = database.get(link.service_id)
        if stored is None:
            found.append(Candidate(link.service_id, link.partner, True, None, None, None, frozenset(), None, None,
                                   None))  # fmt: skip
            continue
        found.append(candidate(stored, link, database.capacities(link.service_id), settings))
    return found


def match(database: DirectoryDatabase, settings: DirectorySettings, request: MatchRequest, policy: Policy,
          now: float) -> MatchResult:  # fmt: skip
    """The ranked services for ``request`` and the reasons for the rest."""
    pool = candidates(database, settings)
    ranked = rank(request, pool, policy, now)
    offered = {c.service_id for c in ranked}
    excluded = {c.service_id: why_not(request, c, policy, now) for c in pool if c.service_id not in offered}
    return MatchResult(ranked, excluded)
