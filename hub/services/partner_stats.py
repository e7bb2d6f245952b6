"""Partner statistics: how fast each partner acknowledges and answers what it is delivered."""

from __future__ import annotations

import statistics
from collections.abc import Collection, Iterable
from typing import Any

from hub.plugin_api.data import ReplyTime
from hub.store.ports import Store


def reply_times(store: Store, answer_types: Collection[str] | None = None) -> list[ReplyTime]:
    """Every delivered message (Acknowledgements excluded) with the time of its first replies. Reads only.

    The answer is the first reply that is not an Acknowledgement, or with ``answer_types`` the first of
    those types (see ``ReadModel.reply_times``).
    """
    return [ReplyTime(*row) for row in store.reply_times(answer_types)]


def _summary(waits: list[float]) -> dict[str, float | None]:
    if not waits:
        return {"median_seconds": None, "max_seconds": None}
    waits = sorted(waits)
    return {"median_seconds": round(statistics.median(waits), 3), "max_seconds": round(waits[-1], 3)}


def partner_stats(store: Store) -> list[dict[str, Any]]:
    """Per partner and message type, sorted by both: how many delivered, acknowledged and answered, and how fast.

    Each row: ``partner``, ``type``, ``delivered``, ``acknowledged``, ``answered``,
    and ``to_acknowledgement`` / ``to_answer``, each ``{"median_seconds", "max_seconds"}``
    (rounded to milliseconds; None when nothing came yet). The JSON of ``hub partners stats --json``.
    """
    return stats_of(reply_times(store))


def stats_of(replies: Iterable[ReplyTime]) -> list[dict[str, Any]]:
    """``partner_stats``' rows over these reply times only (the dashboard's: each partner's latest deliveries)."""
    groups: dict[tuple[str, str], list[ReplyTime]] = {}
    for row in replies:
        groups.setdefault((row.partner, row.type), []).append(row)
    rows = []
    for (partner, message_type), items in sorted(groups.items()):
        acks = [w for w in (r.seconds_to_acknowledgement for r in items) if w is not None]
        answers = [w for w in (r.seconds_to_answer for r in items) if w is not None]
        rows.append({"partner": partner, "type": message_type, "delivered": len(items),
                     "acknowledged": len(acks), "answered": len(answers),
                     "to_acknowledgement": _summary(acks), "to_answer": _summary(answers)})  # fmt: skip
    return rows
