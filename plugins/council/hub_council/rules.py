"""Duty to Refer rules no schema can say, checked on every HousingRequest through ``hub_validate_message``.

A HousingStatus's ``status_at`` (the council's own time, which orders statuses) may not
be ahead of the hub's clock by more than ``CLOCK_SKEW``: a status dated in the future
would stay "current" over every later correction.

A Duty to Refer (Homelessness Reduction Act 2017, s.213B) may only be made with
the person's consent to the referral and to sharing their contact details, and
only to an English housing authority (GSS E06 to E09). The problems are reported
with the schema's, so a sender learns everything wrong with a request at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hub import Problem, housing_authority_problem

LAW = (
    "a Duty to Refer (Homelessness Reduction Act 2017, s.213B) may only be made with the person's consent "
    "to the referral and to sharing their contact details"
)


def housing_request_problems(message: dict[str, Any]) -> list[Problem]:
    """The consents and the target authority of a HousingRequest (any other message has none of these problems).

    Reads the message defensively: it is called whether or not the schema passed.
    """
    if message.get("type") != "HousingRequest":
        return []
    problems: list[Problem] = []
    consent = message.get("consent") if isinstance(message.get("consent"), dict) else None
    if consent is None:
        problems.append(Problem("$.consent", f"required: {LAW}; record both consents and resend"))
    else:
        if consent.get("referral") is not True:
            problems.append(Problem("$.consent.referral", f"must be true: {LAW}; without it, do not refer"))
        if consent.get("share_contact") is not True:
            problems.append(Problem("$.consent.share_contact", f"must be true: {LAW}; without it, do not refer"))
    payload = message.get("payload")
    target = payload.get("target_authority_gss") if isinstance(payload, dict) else None
    if isinstance(target, str):
        why = housing_authority_problem(target)
        if why:
            problems.append(Problem("$.payload.target_authority_gss", why))
    return problems


CLOCK_SKEW = timedelta(minutes=5)


def housing_status_problems(message: dict[str, Any], now: datetime | None = None) -> list[Problem]:
    """A HousingStatus dated ahead of ``now`` (the hub's clock) by more than ``CLOCK_SKEW``; nothing for others."""
    if message.get("type") != "HousingStatus":
        return []
    payload = message.get("payload")
    value = payload.get("status_at") if isinstance(payload, dict) else None
    if not isinstance(value, str):
        return []  # the schema reports a missing or mistyped status_at
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return []
    if at.tzinfo is None:
        return []
    if at > (now or datetime.now(UTC)) + CLOCK_SKEW:
        return [Problem("$.payload.status_at", "is in the future: give the time the status was reached, by your "
                                               "clock (statuses are ordered by it, so a future time would hide "
                                               "every later correction)")]  # fmt: skip
    return []
