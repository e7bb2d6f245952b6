"""Duty to Refer rules no schema can say, checked on every HousingRequest through ``hub_validate_message``.

A Duty to Refer (Homelessness Reduction Act 2017, s.213B) may only be made with
the person's consent to the referral and to sharing their contact details, and
only to an English housing authority (GSS E06 to E09). The problems are reported
with the schema's, so a sender learns everything wrong with a request at once.
"""

from __future__ import annotations

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
