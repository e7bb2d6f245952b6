"""What a provider may answer to an offer, the reason codes of a decline, and the offer settings.

A provider answers an offer with one of ``ANSWERS``: ``accept``, ``decline`` (with one of ``REASON_CODES``;
``other`` needs a free text, which the hub keeps only in the provider's encrypted answer, never here) or
``info`` (it asks the referrer for more information: the offer stays open until its window ends).

Over the hub's messages the same answers are a business ``Acknowledgement`` in reply to the offered Referral
(``answer_of_acknowledgement``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ANSWERS = ("accept", "decline", "info")
REASON_CODES = {
    "no_capacity": "no place now",
    "needs_beyond_service": "the person needs more or other support than the service gives",
    "risk": "the risk is beyond what the service can manage safely",
    "out_of_area": "the person is outside the area the service covers",
    "other": "another reason, given in text",
}
#: what the referrer is told, in order of a referral's life (a decline names its reason code only)
STEPS = ("offered", "info_requested", "accepted", "declined", "expired", "waiting_for_navigator", "placed",
         "withdrawn", "closed")  # fmt: skip
#: why a referral waits in the navigators' queue
QUEUE_REASONS = {
    "no_match": "no linked service fits the person or has room",
    "all_declined": "every service offered declined or did not answer in time",
    "complex": "the referrer flagged it complex",
    "self_referral": "a self-referral: a navigator triages it first",
}
#: why a navigator closes a waiting referral without a place (the referrer is told the code)
CLOSE_REASONS = {
    "no_suitable_service": "no linked service suits the person",
    "referred_elsewhere": "the person was referred somewhere the hub does not reach",
    "no_longer_needed": "the person no longer needs a place",
    "duplicate": "a duplicate of another referral",
}
_KEYS = {"at_once", "window_milestone", "max_open_per_referral", "max_open_per_service"}
DEFAULT_WINDOW = "offer-window"


class OfferSettingsError(ValueError):
    """A ``[plugins.hostels.offers]`` value that cannot be used; the text names the key."""


@dataclass(frozen=True)
class OfferSettings:
    """How many services are offered a referral at once, the milestone that is the offer window, and the caps.

    ``window_milestone`` (default ``offer-window``) names the milestone of ``pathways.toml`` that a Referral
    offered to a provider starts when it is delivered (docs/partners/hostels.md): the hub's pathway keeps its
    time (durable timers, the embedded or an external scheduler), and its breach lapses the offer.

    ``max_open_per_referral`` (default 6) bounds the offers of one referral open together (``at_once`` is
    clipped to it); ``max_open_per_service`` (default 20) bounds the offers one service holds open: a service
    at its cap is skipped for now, never offered more.
    """

    at_once: int = 1
    window_milestone: str = DEFAULT_WINDOW
    max_open_per_referral: int = 6
    max_open_per_service: int = 20

    @classmethod
    def from_settings(cls, settings: Any) -> OfferSettings:
        """Read ``[plugins.hostels.offers]`` of ``hub.toml``; ``OfferSettingsError`` naming the key otherwise."""
        table = ((getattr(settings, "plugin_settings", {}) or {}).get("hostels", {}) or {}).get("offers", {})
        where = "hub.toml: plugins.hostels.offers"
        if not isinstance(table, dict):
            raise OfferSettingsError(f"{where}: must be a table")
        unknown = sorted(set(table) - _KEYS)
        if unknown:
            raise OfferSettingsError(f"{where}.{unknown[0]}: not a key (keys: {', '.join(sorted(_KEYS))})")
        values: dict[str, Any] = {}
        for key in sorted(_KEYS):
            if key not in table:
                continue
            value = table[key]
            if key == "window_milestone":
                if not isinstance(value, str) or not value:
                    raise OfferSettingsError(f"{where}.{key}: must be the name of a milestone of pathways.toml")
                values[key] = value
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise OfferSettingsError(f"{where}.{key}: must be a number above 0")
            if value != int(value):
                raise OfferSettingsError(f"{where}.{key}: must be a whole number")
            values[key] = int(value)
        return cls(**values)


def answer_of_acknowledgement(payload: dict[str, Any]) -> tuple[str, str | None] | None:
    """The offer answer an Acknowledgement's payload gives, or None (not an answer).

    ``accepted`` is accept; ``rejected`` is decline with its ``reason_code`` (one that is not in
    ``REASON_CODES`` counts as ``other``); ``received`` asks for more information. Whether it came from the
    provider's own API call, a message it posted, or its synchronous answer to the offer (``receive.reply``).
    """
    status = payload.get("status")
    if status == "accepted":
        return "accept", None
    if status == "rejected":
        code = payload.get("reason_code")
        return "decline", code if code in REASON_CODES else "other"
    if status == "received" and payload.get("level") == "business":
        return "info", None
    return None
