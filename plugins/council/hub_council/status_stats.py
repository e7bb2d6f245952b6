"""Duty to Refer statuses as the hub reports them: each referral's current status and history, and per council.

Read from the statuses the hub keeps in clear (``HubData.status_replies``: the
code and the council's own time of each HousingStatus, never a body).

What "current" means. A council may send statuses in any order and correct one
by sending another. The **current status of a referral is the one with the latest
``status_at``**, the council's own time for when the status was reached, not the
order in which the hub received them: a "received" that a slow system posts after
"relief_duty" does not replace the decision. Two statuses with the same
``status_at`` are ordered by arrival (the later one wins: a correction of a
mistake at the same time). Every status stays in the history, oldest first.

Per council (``StatusStats``): how many referrals delivered to it are currently
in each status (``none``: delivered, no status yet), and for each status how many
referrals reached it and how long after their delivery (to the council's
``status_at`` of the first time it was reached; never negative).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub import HubData, ReplyTime, StatusReply

STATUS_TYPES = frozenset({"HousingStatus"})
REFERRAL_TYPE = "HousingRequest"
STATUSES = ("received", "contact_made", "contact_failed", "prevention_duty", "relief_duty", "not_eligible",
            "not_homeless", "no_contact", "withdrawn", "closed")  # fmt: skip
"""The statuses of the HousingStatus schema, in the order of a typical case."""
NO_STATUS = "none"


@dataclass
class StatusEntry:
    """One status a council sent: its code, its time (the council's) and when the hub received it (epoch s)."""

    status: str
    status_at: float | None
    received_at: float
    message_id: str


@dataclass
class ReferralStatus:
    """One referral delivered to a council, with its current status and every status, oldest first."""

    council: str
    referrer: str
    message_id: str
    delivered_at: float
    history: list[StatusEntry] = field(default_factory=list)

    @property
    def current(self) -> StatusEntry | None:
        """The status with the latest ``status_at`` (ties: the last received); None before any."""
        return self.history[-1] if self.history else None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the referral, ``current`` (or None) and ``history``."""
        current = self.current
        return {
            "message_id": self.message_id, "council": self.council, "referrer": self.referrer,
            "delivered_at": self.delivered_at, "current": asdict(current) if current else None,
            "history": [asdict(entry) for entry in self.history],
        }  # fmt: skip


def referral_statuses(rows: Iterable[StatusReply]) -> list[ReferralStatus]:
    """Group status replies by referral; ``rows`` come ordered as ``HubData.status_replies`` gives them."""
    out: dict[tuple[str, str, str], ReferralStatus] = {}
    for row in rows:
        if row.type != REFERRAL_TYPE:
            continue
        key = (row.partner, row.sender, row.message_id)
        referral = out.get(key)
        if referral is None:
            referral = out[key] = ReferralStatus(row.partner, row.sender, row.message_id, row.delivered_at)
        referral.history.append(StatusEntry(row.status, row.status_at, row.received_at, row.reply_id))
    for referral in out.values():  # the store's order, kept here too so that any caller's rows agree
        referral.history.sort(key=lambda e: (e.status_at is not None, e.status_at or 0.0, e.received_at,
                                             e.message_id))  # fmt: skip
    return list(out.values())


@dataclass
class StatusTimes:
    """How many referrals reached one status, and how long after delivery (seconds) the first time."""

    reached: int
    median_seconds: float | None
    max_seconds: float | None


@dataclass
class StatusStats:
    """One council's referrals by current status, and the time from delivery to each status."""

    partner: str
    referrals_delivered: int
    current: dict[str, int]
    to_status: dict[str, StatusTimes]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def status_stats(reply_times: Iterable[ReplyTime], statuses: Iterable[ReferralStatus]) -> list[StatusStats]:
    """Per council (sorted): delivered referrals by current status, and time to each status.

    ``reply_times`` give the delivered referrals (as for response times); ``statuses`` their statuses.
    """
    delivered: dict[str, int] = {}
    for row in reply_times:
        if row.type == REFERRAL_TYPE:
            delivered[row.partner] = delivered.get(row.partner, 0) + 1
    current: dict[str, dict[str, int]] = {}
    waits: dict[str, dict[str, list[float]]] = {}
    for referral in statuses:
        entry = referral.current
        if entry is None:
            continue
        delivered.setdefault(referral.council, 0)
        counts = current.setdefault(referral.council, {})
        counts[entry.status] = counts.get(entry.status, 0) + 1
        first: dict[str, float] = {}
        for item in referral.history:
            if item.status_at is not None and item.status not in first:
                first[item.status] = max(0.0, item.status_at - referral.delivered_at)
        for status, seconds in first.items():
            waits.setdefault(referral.council, {}).setdefault(status, []).append(seconds)
    out = []
    for partner in sorted(delivered):
        counts = current.get(partner, {})
        by_status = {status: counts.get(status, 0) for status in STATUSES}
        by_status[NO_STATUS] = max(0, delivered[partner] - sum(counts.values()))
        times = {}
        for status in STATUSES:
            values = sorted(waits.get(partner, {}).get(status, []))
            times[status] = StatusTimes(len(values), statistics.median(values) if values else None,
                                        values[-1] if values else None)  # fmt: skip
        out.append(StatusStats(partner, delivered[partner], by_status, times))
    return out


def council_status_stats(data: HubData) -> list[StatusStats]:
    """``status_stats`` from the hub's data."""
    from hub_council.stats import council_reply_times

    return status_stats(council_reply_times(data), referral_statuses(data.status_replies(STATUS_TYPES)))


def status_gauges(data: HubData) -> dict[str, float]:
    """Referrals by current status per council, as Prometheus samples (``name{labels}`` -> value)."""
    out: dict[str, float] = {}
    for stats in council_status_stats(data):
        for status, count in stats.current.items():
            out[f'hub_council_referrals_by_status{{partner="{stats.partner}",status="{status}"}}'] = count
    return out
