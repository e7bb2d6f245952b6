"""Which council receives a Duty to Refer: the person's choice, else their address postcode.

The person's chosen authority wins (an English housing authority, E06-E09).
Without a choice, the address postcode decides through the postcode lookup. A
postcode that maps to nothing, to a county (E10) or to an authority outside
England is refused with a reason that names the field and the code found, but
never the postcode itself (refusal reasons are kept on the message's timeline).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hub import Refusal

NOT_SENT = "no Duty to Refer was sent"
POSTCODE_FIELD = "payload.person.address.postcode"
HOUSING_AUTHORITY = re.compile(r"^E0[6-9][0-9]{6}$")


def housing_authority_problem(code: str) -> str | None:
    """Why ``code`` is not an English housing authority (E06, E07, E08, E09), or None when it is."""
    if HOUSING_AUTHORITY.match(code):
        return None
    if code.startswith("E10"):
        return f"{code} is a county (E10), which is not a housing authority"
    return f"{code} is not an English housing authority GSS code (E06-E09 and six digits)"


def choose_authority(payload: dict[str, Any], lookup: Callable[[str], str | None]) -> str:
    """The GSS code of the housing authority to refer to, or raise ``Refusal`` saying why there is none."""
    housing = payload.get("housing") or {}
    chosen = housing.get("chosen_authority_gss")
    if chosen:
        why = housing_authority_problem(chosen)
        if why:
            raise Refusal(f"{NOT_SENT}: the chosen authority (payload.housing.chosen_authority_gss) is wrong: {why}")
        return str(chosen)
    address = (payload.get("person") or {}).get("address") or {}
    postcode = address.get("postcode")
    if not postcode:
        raise Refusal(
            f"{NOT_SENT}: the person has not chosen a housing authority (payload.housing.chosen_authority_gss) "
            f"and has no address postcode ({POSTCODE_FIELD}) to find one from; ask the person which council "
            "they want to be referred to"
        )
    code = lookup(postcode)
    if code is None:
        raise Refusal(
            f"{NOT_SENT}: the address postcode ({POSTCODE_FIELD}) is not in the hub's postcode directory, so no "
            "housing authority could be found; check the postcode, or record the person's chosen authority "
            "(payload.housing.chosen_authority_gss)"
        )
    if code.startswith("E10"):
        raise Refusal(
            f"{NOT_SENT}: the address postcode ({POSTCODE_FIELD}) maps to {code}, a county (E10), which is not a "
            "housing authority; record the district council the person chooses (payload.housing.chosen_authority_gss)"
        )
    why = housing_authority_problem(code)
    if why:
        raise Refusal(
            f"{NOT_SENT}: the address postcode ({POSTCODE_FIELD}) maps to {code}, which is not an English housing "
            "authority (the Duty to Refer applies in England); record the person's chosen authority"
        )
    return code
