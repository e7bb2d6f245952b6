"""The statements of the dashboard's reads that must stay fast on a big store, written once for both backends.

``?`` placeholders (the PostgreSQL backend turns them into ``%s``) and only SQL both backends understand. Each is
shaped so that an index of ``console_schema`` answers it with a walk that stops at a page, whatever the store's size
(the plans are checked with EXPLAIN in tests/test_console_plans.py; figures in docs/performance.md).
"""

from __future__ import annotations

from typing import Any

from hub.store.ports_console import MessageFilter

COLUMNS = "id, message_id, type, sender, received_at, correlation_id"
NEWEST_FIRST = " ORDER BY received_at DESC, id DESC"

FAMILY_STATES = (
    "SELECT state FROM deliveries WHERE record_id = ? "
    "UNION ALL SELECT d.state FROM messages c JOIN deliveries d ON d.record_id = c.id WHERE c.parent_id = ?"
)
"""The states of a message's deliveries and of those of what it derived: two seeks (an OR of the two is a scan of
every delivery on PostgreSQL)."""

ACTIVITY = (
    "SELECT kind, partner, type, minute, sum(count) FROM activity_minutes "
    "WHERE kind IN ('accepted', 'delivered') AND minute >= ? GROUP BY kind, partner, type, minute"
)
"""The overview's counters from a minute on (``?``: the first minute): per kind, partner, type and minute, the rows
of every session that counted added up (PostgreSQL keeps one per writing session, ``activity_schema``)."""

OLDEST_ACTIVITY = (
    "SELECT min(m) FROM (SELECT min(minute) AS m FROM activity_minutes WHERE kind = 'accepted' "
    "UNION ALL SELECT min(minute) FROM activity_minutes WHERE kind = 'delivered') AS oldest"
)
"""The oldest counter's minute: one seek of the primary key per kind (a ``kind IN`` list makes PostgreSQL read
every row for the minimum)."""
PRUNE_ACTIVITY = "DELETE FROM activity_minutes WHERE kind IN ('accepted', 'delivered') AND minute < ?"
"""The counters of the minutes before one (``?``): a walk of the primary key (``kind, minute, ...``), not of the
table."""

PARTNER_RECENT_REPLIES = (
    "SELECT d.partner, m.type, coalesce(d.delivered_at, d.acknowledged_at), "
    "(SELECT min(r.received_at) FROM messages r WHERE r.in_reply_to=m.message_id AND r.sender=d.partner "
    " AND r.type='Acknowledgement'), "
    "(SELECT min(r.received_at) FROM messages r WHERE r.in_reply_to=m.message_id AND r.sender=d.partner "
    " AND r.type!='Acknowledgement') "
    "FROM (SELECT partner, record_id, delivered_at, acknowledged_at FROM deliveries WHERE partner=? "
    "AND coalesce(delivered_at, acknowledged_at) IS NOT NULL ORDER BY coalesce(delivered_at, acknowledged_at) DESC "
    "LIMIT ?) AS d JOIN messages m ON m.id=d.record_id WHERE m.type!='Acknowledgement' "
    "ORDER BY coalesce(d.delivered_at, d.acknowledged_at) DESC, m.id DESC"
)
"""A partner's latest deliveries done (delivered, or acknowledged by a pull partner), newest first, ``LIMIT`` at
most (Acknowledgements left out): ``(partner, type, done at, first acknowledgement at, first answer at)``, as
``ReadModel.reply_times`` gives them. ``deliveries_partner_done`` walks them; ``messages_replies`` finds the replies."""


def _common(where: MessageFilter, before: tuple[float, str] | None, column: str = "") -> tuple[list[str], list[Any]]:
    """The clauses (and their arguments) every branch of a search shares: all of ``where`` but the partner."""
    clauses: list[str] = []
    args: list[Any] = []
    if where.record_ids is not None:
        ids = sorted(where.record_ids)
        clauses.append(f"{column}id IN ({', '.join('?' * len(ids))})" if ids else "1 = 0")
        args += ids
    for name, value in (("correlation_id", where.correlation_id), ("type", where.message_type)):
        if value is not None:
            clauses.append(f"{column}{name} = ?")
            args.append(value)
    if where.state is not None:
        clauses.append(f"{column}id IN (SELECT record_id FROM deliveries WHERE state = ?)")
        args.append(where.state)
    if where.received_from is not None:
        clauses.append(f"{column}received_at >= ?")
        args.append(where.received_from)
    if where.received_to is not None:
        clauses.append(f"{column}received_at < ?")
        args.append(where.received_to)
    if before is not None:
        # a range on received_at, then the ties: one index walk (an OR of the two would read both and sort)
        clauses.append(f"{column}received_at <= ? AND ({column}received_at < ? OR {column}id < ?)")
        args += [before[0], before[0], before[1]]
    return clauses, args


def _walk_deliveries(where: MessageFilter, before: tuple[float, str] | None, limit: int, clauses: list[str],
                     args: list[Any]) -> tuple[str, list[Any]]:  # fmt: skip
    """Messages found by walking deliveries newest received first (``clauses`` on the deliveries ``d`` pick them,
    and name the index walked), the rest of ``where`` checked on each message ``m``; the message's time and id are
    on its delivery (``activity_schema``), so the walk is in the page's order and stops at ``limit``."""
    for clause, value in (("d.received_at >= ?", where.received_from), ("d.received_at < ?", where.received_to)):
        if value is not None:
            clauses.append(clause)
            args.append(value)
    if before is not None:
        clauses.append("d.received_at <= ? AND (d.received_at < ? OR d.record_id < ?)")
        args += [before[0], before[0], before[1]]
    rest = MessageFilter(record_ids=where.record_ids, correlation_id=where.correlation_id)
    more, more_args = _common(rest, None, "m.")
    columns = ", ".join(f"m.{c}" for c in COLUMNS.split(", "))
    statement = (f"SELECT {columns} FROM deliveries d JOIN messages m ON m.id = d.record_id "
                 f"WHERE {' AND '.join(clauses + more)} ORDER BY d.received_at DESC, d.record_id DESC "
                 f"LIMIT {int(limit)}")  # fmt: skip
    return statement, args + more_args


DEAD_FIRST_OF_MESSAGE = (
    "d.state = 'dead' AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.record_id = d.record_id "
    "AND e.partner < d.partner AND e.state = 'dead')"
)
"""A message's dead deliveries stand for it once (its first partner's): the walk of ``deliveries_dead_received``
gives each message once."""


def _select(clauses: list[str], limit: int) -> str:
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"SELECT {COLUMNS} FROM messages{where}{NEWEST_FIRST} LIMIT {int(limit)}"


def search_statement(where: MessageFilter, limit: int, before: tuple[float, str] | None) -> tuple[str, list[Any]]:
    """The search's statement and arguments: newest first, ordered by (received_at, id), after ``before``.

    With a partner, two branches each stop at ``limit``: what it sent (``messages_sender_received``), and what was
    delivered to it (its deliveries, newest first, by ``deliveries_partner_type`` with a type, else
    ``deliveries_partner_received``; with a state, the newest messages, each checked for a delivery to it in that
    state by the ``(record_id, partner)`` key); their union, newest first, is the page. By state ``dead`` alone, the
    dead deliveries are walked (``deliveries_dead_received``).
    """
    clauses, args = _common(where, before)
    if where.partner is None:
        if where.state == "dead" and where.message_type is None:  # the dead deliveries' own index, newest first
            return _walk_deliveries(where, before, limit, [DEAD_FIRST_OF_MESSAGE], [])
        return _select(clauses, limit), args
    sent = _select(["sender = ?", *clauses], limit)
    if where.message_type is not None and where.state is None:  # a partner's deliveries of the type, newest first
        delivered, delivered_args = _walk_deliveries(where, before, limit, ["d.partner = ?", "d.type = ?"],
                                                     [where.partner, where.message_type])  # fmt: skip
    elif where.state is None:  # a partner's deliveries, newest first
        delivered, delivered_args = _walk_deliveries(where, before, limit, ["d.partner = ?"], [where.partner])
    else:
        delivered = _select(["EXISTS (SELECT 1 FROM deliveries d WHERE d.record_id = messages.id AND d.partner = ?)",
                             *clauses], limit)  # fmt: skip
        delivered_args = [where.partner, *args]
    statement = (f"SELECT {COLUMNS} FROM (SELECT * FROM ({sent}) AS s UNION SELECT * FROM ({delivered}) AS t) AS u"
                 f"{NEWEST_FIRST} LIMIT {int(limit)}")  # fmt: skip
    return statement, [where.partner, *args, *delivered_args]
