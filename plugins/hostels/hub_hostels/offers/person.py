"""What matching needs of the person, read from a Referral's canonical body (which the hub keeps encrypted).

Age in whole years at ``now`` from ``person.birth_date``; ``person.gender``; the postcode district of
``person.address.postcode``; the needs in ``support_needs`` that are one of the directory's needs (written
``mental_health`` or ``mental health``) or that ``[plugins.hostels] needs_from_terms`` maps. A support need the
hub does not know is not matched on: the provider reads it in the Referral and may decline with
``needs_beyond_service``. Nothing of this is stored.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hub_hostels.directory.links import NEEDS, postcode_district
from hub_hostels.directory.matching import MatchRequest


def match_request(referral: dict[str, Any], needs_from_terms: dict[str, str] | None, now: float) -> MatchRequest:
    """The ``MatchRequest`` of one canonical Referral (read defensively: a missing field is unknown)."""
    payload: dict[str, Any] = referral["payload"] if isinstance(referral.get("payload"), dict) else {}
    person: dict[str, Any] = payload["person"] if isinstance(payload.get("person"), dict) else {}
    age = None
    try:
        born = date.fromisoformat(str(person.get("birth_date")))
        today = datetime.fromtimestamp(now, UTC).date()
        age = float(today.year - born.year - ((today.month, today.day) < (born.month, born.day)))
    except ValueError:
        pass
    gender = person.get("gender") if isinstance(person.get("gender"), str) else None
    address: dict[str, Any] = person["address"] if isinstance(person.get("address"), dict) else {}
    district = postcode_district(address["postcode"]) if isinstance(address.get("postcode"), str) else None
    needs = set()
    for raw in payload.get("support_needs") or []:
        if not isinstance(raw, str):
            continue
        word = raw.strip().casefold()
        if word.replace(" ", "_") in NEEDS:
            needs.add(word.replace(" ", "_"))
        elif needs_from_terms and word in needs_from_terms:
            needs.add(needs_from_terms[word])
    return MatchRequest(age, gender, frozenset(needs), None, district)
