"""Audit verification: walk the hash-chained audit log."""

from __future__ import annotations

from hub.store.audit_chain import ChainReport
from hub.store.ports import Store


def verify_audit(store: Store) -> ChainReport:
    """Check every link of the audit chain; the report names the first broken one, if any.

    ``report.ok`` with ``report.rows`` events and ``report.head`` (the newest hash,
    to be recorded outside the hub); otherwise ``report.broken_at`` and ``report.reason``.
    Reads only.
    """
    report: ChainReport = store.verify_audit()
    return report
