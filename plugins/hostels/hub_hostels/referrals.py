"""Referrals from everyone the pathway names: a discharge, a professional referrer, or the person themselves.

A Referral says where it came from in ``payload.source``: ``discharge`` (derived from a trust's
DischargeNotice by ``support-referral``), ``professional`` (posted by a care coordinator, social worker or any
other partner: a partner of kind ``referrer``, or a trust or council) or ``self`` (the person asked for help
themselves, and a partner that takes in self-referrals recorded it).

Consent is enforced as for the Duty to Refer: every Referral must carry the person's consent to the referral
and to sharing their contact details (``consent.referral`` and ``consent.share_contact`` true); a Referral
without them is refused whole (422) naming the field, and ``support-referral`` sends none (the trust is told
why in its 202). A self-referral travels only through a route whose destination is ``referral-taker`` and
only from a partner that route lists in ``takers``; from anyone else it is not sent, and the sender is told so.
"""

from __future__ import annotations

from typing import Any

from hub import Problem, ResolveContext, RouteSetup, Unresolved

CONSENT = (
    "a referral to a support or accommodation provider may only be made with the person's consent to the "
    "referral and to sharing their contact details"
)
CONSENTS = ("referral", "share_contact")
SOURCES = ("discharge", "professional", "self")


def referral_problems(message: dict[str, Any]) -> list[Problem]:
    """The consent rules for a Referral (any other message has none of these problems); reads defensively."""
    if message.get("type") != "Referral":
        return []
    consent = message.get("consent") if isinstance(message.get("consent"), dict) else None
    if consent is None:
        return [Problem("$.consent", f"required: {CONSENT}; record both consents and resend")]
    return [Problem(f"$.consent.{name}", f"must be true: {CONSENT}; without it, do not refer")
            for name in CONSENTS if consent.get(name) is not True]  # fmt: skip


def missing_consent(source: dict[str, Any]) -> str | None:
    """The first consent a message lacks (``consent.referral`` / ``consent.share_contact``), or None."""
    consent = source.get("consent")
    if not isinstance(consent, dict):
        return CONSENTS[0]
    return next((name for name in CONSENTS if consent.get(name) is not True), None)


def _value(message: dict[str, Any], dotted: str) -> Any:
    current: Any = message
    for part in dotted.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def resolve_taker(message: dict[str, Any], options: dict[str, Any], context: ResolveContext) -> str:
    """The partner in ``options.field`` (default ``payload.service_id``); a self-referral only from a taker."""
    field = str(options.get("field", "payload.service_id"))
    if _value(message, "payload.source") == "self":
        sender = _value(message, "sender.org_id")
        if sender not in options.get("takers", []):
            raise Unresolved("a self-referral is taken in only by a partner that accepts them (the route's takers)")
    target = _value(message, field)
    if not isinstance(target, str) or not target:
        raise Unresolved(f"the message names no provider in {field}")
    return target


def check_taker(options: dict[str, Any], setup: RouteSetup) -> None:
    """``takers`` must be a list of partners; ``field`` a dotted path; nothing else."""
    unknown = sorted(set(options) - {"takers", "field"})
    if unknown:
        raise ValueError(unknown[0], "not an option of referral-taker (takers, field)")
    takers = options.get("takers", [])
    if not isinstance(takers, list) or not all(isinstance(t, str) for t in takers):
        raise ValueError("takers", "a list of partner ids that take in self-referrals")
    for taker in takers:
        if setup.partners.get(taker) is None:
            raise ValueError("takers", f"{taker!r} is not a partner")
    if not isinstance(options.get("field", "payload.service_id"), str):
        raise ValueError("field", "a dotted path such as payload.service_id")


def describe_taker(options: dict[str, Any]) -> str:
    """Short text for notes."""
    return f"the provider in {options.get('field', 'payload.service_id')}"
