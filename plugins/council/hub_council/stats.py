"""Council response times, read from the hub's SQLite store (read-only).

For every HousingRequest delivered to a council, the time from its delivery
(``deliveries.delivered_at``: the council's 2xx, or its inbox acknowledgement)
to the first HousingAppointment that council sent in reply to it
(``messages.in_reply_to``, ``received_at``). Only clear routing metadata is
read; no body is decrypted.
"""

from __future__ import annotations

import sqlite3
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

QUERY = """
WITH first_answer AS (
    SELECT in_reply_to, sender, min(received_at) AS answered_at
    FROM messages WHERE type = 'HousingAppointment' AND in_reply_to IS NOT NULL
    GROUP BY in_reply_to, sender
)
SELECT d.partner, coalesce(d.delivered_at, d.acknowledged_at) AS delivered_at, f.answered_at
FROM deliveries d
JOIN messages m ON m.id = d.record_id AND m.type = 'HousingRequest'
LEFT JOIN first_answer f ON f.in_reply_to = m.message_id AND f.sender = d.partner
WHERE coalesce(d.delivered_at, d.acknowledged_at) IS NOT NULL
"""


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


def council_stats(store_path: Path) -> list[CouncilStats]:
    """Response-time statistics per council, from the store at ``store_path`` opened read-only."""
    conn = sqlite3.connect(f"{store_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(QUERY).fetchall()
    finally:
        conn.close()
    delivered: dict[str, int] = {}
    waits: dict[str, list[float]] = {}
    for partner, delivered_at, answered_at in rows:
        delivered[partner] = delivered.get(partner, 0) + 1
        if answered_at is not None:
            waits.setdefault(partner, []).append(max(0.0, answered_at - delivered_at))
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


def prometheus_gauges(store_path: Path) -> dict[str, float]:
    """The statistics as Prometheus samples (``name{labels}`` -> value), for the hub's ``/metrics``."""
    out: dict[str, float] = {}
    for stats in council_stats(store_path):
        label = f'{{partner="{stats.partner}"}}'
        out[f"hub_council_referrals_delivered{label}"] = stats.referrals_delivered
        out[f"hub_council_referrals_answered{label}"] = stats.answered
        out[f"hub_council_referrals_waiting{label}"] = stats.waiting
        if stats.median_seconds is not None:
            out[f"hub_council_first_appointment_seconds_median{label}"] = stats.median_seconds
            out[f"hub_council_first_appointment_seconds_max{label}"] = stats.max_seconds or 0.0
    return out
