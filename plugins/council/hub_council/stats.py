"""Council response times, from the reply times the hub hands to plugins (``HubData.reply_times``).

For every HousingRequest delivered to a council, the time from its delivery to
the council's first HousingAppointment naming it (``in_reply_to``). What counts:

- delivered: the council's 2xx, the mail server's 250 or its inbox
  acknowledgement; else, for a council that sent an Acknowledgement before (or
  instead of) taking the referral from its inbox, that Acknowledgement. A
  referral still waiting for delivery, or dead-lettered, is not counted: it is
  the hub's operator's to fix (``hub dlq list``), not the council's delay;
- answered: only a HousingAppointment answers (any status). Acknowledgements and
  any other reply naming the referral do not stop the clock;
- an appointment that came before the delivery was recorded (a fast council,
  a slow 2xx) counts as answered in 0 s; a referral sent again by the trust is
  stored once, so it is counted once.

Only clear routing metadata is read; no body is decrypted, and the plugin
never opens the hub's store.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub import HubData, ReplyTime

REFERRAL_TYPE = "HousingRequest"
ANSWER_TYPES = frozenset({"HousingAppointment"})
"""The replies that answer a referral (stop its clock)."""


@dataclass
class CouncilStats:
    """Response times of one council, in seconds."""

    partner: str
    referrals_delivered: int
    answered: int
    waiting: int
    median_seconds: float | None
    p90_seconds: float | None
    max_seconds: float | None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def council_reply_times(data: HubData) -> list[ReplyTime]:
    """The hub's reply times with a council's HousingAppointment as the answer (``ANSWER_TYPES``)."""
    return data.reply_times(answer_types=ANSWER_TYPES)


def council_stats(reply_times: Iterable[ReplyTime]) -> list[CouncilStats]:
    """Response-time statistics per council (sorted by partner id), from ``council_reply_times``."""
    delivered: dict[str, int] = {}
    waits: dict[str, list[float]] = {}
    for row in reply_times:
        if row.type != REFERRAL_TYPE:
            continue
        delivered[row.partner] = delivered.get(row.partner, 0) + 1
        if row.seconds_to_answer is not None:
            waits.setdefault(row.partner, []).append(row.seconds_to_answer)
    out = []
    for partner in sorted(delivered):
        values = sorted(waits.get(partner, []))
        out.append(
            CouncilStats(
                partner=partner,
                referrals_delivered=delivered[partner],
                answered=len(values),
                waiting=delivered[partner] - len(values),
                median_seconds=statistics.median(values) if values else None,
                p90_seconds=_percentile(values, 0.9) if values else None,
                max_seconds=values[-1] if values else None,
            )
        )
    return out


def prometheus_gauges(data: HubData) -> dict[str, float]:
    """The statistics as Prometheus samples (``name{labels}`` -> value), for the hub's ``/metrics``."""
    out: dict[str, float] = {}
    for stats in council_stats(council_reply_times(data)):
        label = f'{{partner="{stats.partner}"}}'
        out[f"hub_council_referrals_delivered{label}"] = stats.referrals_delivered
        out[f"hub_council_referrals_answered{label}"] = stats.answered
        out[f"hub_council_referrals_waiting{label}"] = stats.waiting
        if stats.median_seconds is not None:
            out[f"hub_council_first_appointment_seconds_median{label}"] = stats.median_seconds
            out[f"hub_council_first_appointment_seconds_max{label}"] = stats.max_seconds or 0.0
    return out
