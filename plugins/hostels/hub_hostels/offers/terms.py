"""What a provider may answer to an offer, the reason codes of a decline, and the offer settings.

A provider answers an offer with one of ``ANSWERS``: ``accept``, ``decline`` (with one of ``REASON_CODES``;
``other`` needs a free text, which the hub keeps only in the provider's encrypted answer, never here) or
``info`` (it asks the referrer for more information: the offer stays open until its window ends).
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
         "withdrawn")  # fmt: skip
#: why a referral waits in the navigators' queue
QUEUE_REASONS = {
    "no_match": "no linked service fits the person or has room",
    "all_declined": "every service offered declined or did not answer in time",
    "complex": "the referrer flagged it complex",
    "self_referral": "a self-referral: a navigator triages it first",
}
_KEYS = {"at_once", "window_seconds", "max_open_per_referral", "max_open_per_service"}


class OfferSettingsError(ValueError):
    """A ``[plugins.hostels.offers]`` value that cannot be used; the text names the key."""


@dataclass(frozen=True)
class OfferSettings:
    """How many services are offered a referral at once, how long each has to answer, and the caps.

    ``max_open_per_referral`` (default 6) bounds the offers of one referral open together (``at_once`` is
    clipped to it); ``max_open_per_service`` (default 20) bounds the offers one service holds open: a service
    at its cap is skipped for now, never offered more.
    """

    at_once: int = 1
    window_seconds: float = 24 * 3600.0
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
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise OfferSettingsError(f"{where}.{key}: must be a number above 0")
            if key != "window_seconds" and value != int(value):
                raise OfferSettingsError(f"{where}.{key}: must be a whole number")
            values[key] = float(value) if key == "window_seconds" else int(value)
        return cls(**values)
