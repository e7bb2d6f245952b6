"""The alerts' statements and transactions, written once for both backends (``?`` placeholders; the PostgreSQL
store turns them into ``%s``). ``alerts_backend`` runs them; the tables are ``alerts_schema``'s."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hub.store.alert_records import AlertState, OutboxRow

Execute = Callable[[str, Sequence[Any]], Any]

CURSOR = "events"
EVALUATOR = "evaluator"
FAILURE_KINDS = ("retry_scheduled", "dead_lettered")
SUCCESS_KINDS = ("delivered",)
STATE_COLUMNS = "key, kind, partner, subject, state, since, value, sent_state, sent_at, alerts"
OUTBOX_COLUMNS = "id, alert_id, channel, payload, created_at, state, attempts, next_at, sent_at, last_error"

# -- reads -----------------------------------------------------------------------------------------------------------
CURSOR_SEQ = "SELECT seq FROM alert_cursor WHERE name = ?"
LAST_SEQ = "SELECT COALESCE(MAX(seq), 0) FROM events"
# a range of sequence numbers, not a number of rows: the cursor moves past the events of other kinds too
DELIVERY_EVENTS = (
    "SELECT seq, kind, partner, at FROM events WHERE seq > ? AND seq <= ? AND partner IS NOT NULL "
    f"AND kind IN ({', '.join(repr(k) for k in (*FAILURE_KINDS, *SUCCESS_KINDS))}) ORDER BY seq"
)
STATES = f"SELECT {STATE_COLUMNS} FROM alert_states"
# what a threshold counts, per partner (hub.alert_settings.MEASURES); a scheduled delivery (due later, never tried)
# is not waiting yet
WAITING = (
    "SELECT partner, count(*), sum(CASE WHEN attempts > 0 THEN 1 ELSE 0 END) FROM deliveries "
    "WHERE state IN ('pending', 'in_flight') AND (attempts > 0 OR due_at IS NULL OR due_at <= ?) GROUP BY partner"
)
DEAD = "SELECT partner, count(*) FROM deliveries WHERE state = 'dead' GROUP BY partner"
DUE_OUTBOX = (
    f"SELECT {OUTBOX_COLUMNS} FROM alert_outbox WHERE state = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?"
)
NEXT_OUTBOX = "SELECT MIN(next_at) FROM alert_outbox WHERE state = 'pending'"
OUTBOX = f"SELECT {OUTBOX_COLUMNS} FROM alert_outbox ORDER BY created_at, id LIMIT ?"


def as_state(row: Sequence[Any]) -> AlertState:
    """An ``alert_states`` row (``STATE_COLUMNS``) as an ``AlertState``."""
    return AlertState(str(row[0]), str(row[1]), row[2], row[3], str(row[4]), float(row[5]), int(row[6]), row[7],
                      None if row[8] is None else float(row[8]), int(row[9]))  # fmt: skip


def as_outbox(row: Sequence[Any]) -> OutboxRow:
    """An ``alert_outbox`` row (``OUTBOX_COLUMNS``) as an ``OutboxRow``."""
    return OutboxRow(str(row[0]), str(row[1]), str(row[2]), str(row[3]), float(row[4]), str(row[5]), int(row[6]),
                     float(row[7]), None if row[8] is None else float(row[8]), row[9])  # fmt: skip


# -- writes ----------------------------------------------------------------------------------------------------------
def take_lease(ex: Execute, holder: str, now: float, until: float) -> bool:
    """Hold the evaluator's lease until ``until``: renew it, or take it when it is free or expired."""
    ex("INSERT INTO alert_leases (name, holder, until) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
       "SET holder = excluded.holder, until = excluded.until "
       "WHERE alert_leases.holder = excluded.holder OR alert_leases.until < ?",
       (EVALUATOR, holder, until, now))  # fmt: skip
    row = ex("SELECT holder FROM alert_leases WHERE name = ?", (EVALUATOR,)).fetchone()
    return row is not None and row[0] == holder


def release_lease(ex: Execute, holder: str) -> None:
    """Let go of the lease (at shutdown) so that another process takes it at its next round."""
    ex("DELETE FROM alert_leases WHERE name = ? AND holder = ?", (EVALUATOR, holder))


def save_round(ex: Execute, holder: str, now: float, after_seq: int, to_seq: int, states: Sequence[AlertState],
               alerted: Sequence[tuple[str, int]], outbox: Sequence[OutboxRow]) -> bool:  # fmt: skip
    """One evaluation round, all or nothing: False (nothing written) unless ``holder`` still holds the lease and the
    cursor is still at ``after_seq``.

    ``states`` are written whole (the partners' and queues' rows); ``alerted`` are event keys (milestones) whose
    count of unalerted events goes down by the number given, so a breach noted during the round is kept.
    """
    lease = ex("SELECT holder FROM alert_leases WHERE name = ? AND until >= ?", (EVALUATOR, now)).fetchone()
    if lease is None or lease[0] != holder:
        return False
    ex("INSERT INTO alert_cursor (name, seq) VALUES (?, 0) ON CONFLICT (name) DO NOTHING", (CURSOR,))
    moved = ex("UPDATE alert_cursor SET seq = ? WHERE name = ? AND seq = ?", (to_seq, CURSOR, after_seq))
    if moved.rowcount != 1:
        return False
    for s in states:
        ex(f"INSERT INTO alert_states ({STATE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO "
           "UPDATE SET state = excluded.state, since = excluded.since, value = excluded.value, "
           "sent_state = excluded.sent_state, sent_at = excluded.sent_at, alerts = excluded.alerts",
           (s.key, s.kind, s.partner, s.subject, s.state, s.since, s.value, s.sent_state, s.sent_at,
            s.alerts))  # fmt: skip
    for key, count in alerted:
        ex("UPDATE alert_states SET value = value - ?, sent_at = ?, sent_state = state, alerts = alerts + 1 "
           "WHERE key = ?", (count, now, key))  # fmt: skip
    for row in outbox:
        ex(f"INSERT INTO alert_outbox ({OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
           "ON CONFLICT (id) DO NOTHING", (row.id, row.alert_id, row.channel, row.payload, row.created_at, row.state,
                                           row.attempts, row.next_at, row.sent_at, row.last_error))  # fmt: skip
    return True


def note_event(ex: Execute, key: str, partner: str | None, subject: str, at: float) -> None:
    """Count one event (a breach) under ``key``; the evaluator alerts it with the others counted since."""
    ex("INSERT INTO alert_states (key, kind, partner, subject, state, since, value) "
       "VALUES (?, 'milestone', ?, ?, 'firing', ?, 1) ON CONFLICT (key) DO UPDATE "
       "SET value = alert_states.value + 1, since = CASE WHEN alert_states.value = 0 THEN excluded.since "
       "ELSE alert_states.since END", (key, partner, subject, at))  # fmt: skip


def outbox_sent(ex: Execute, outbox_id: str, now: float) -> None:
    """One channel took the alert."""
    ex("UPDATE alert_outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL "
       "WHERE id = ? AND state = 'pending'", (now, outbox_id))  # fmt: skip


def outbox_failed(ex: Execute, outbox_id: str, next_at: float | None, error: str) -> None:
    """One attempt failed: try again at ``next_at``, or (None) give up."""
    if next_at is None:
        ex("UPDATE alert_outbox SET attempts = attempts + 1, last_error = ?, state = 'failed' "
           "WHERE id = ? AND state = 'pending'", (error[:500], outbox_id))  # fmt: skip
    else:
        ex("UPDATE alert_outbox SET attempts = attempts + 1, last_error = ?, next_at = ? "
           "WHERE id = ? AND state = 'pending'", (error[:500], next_at, outbox_id))  # fmt: skip
