"""The care pathway's statements and transactions, written once for both backends.

Each function takes ``ex(statement, args)``, the transaction's execute (``?`` placeholders; the PostgreSQL
backend turns them into ``%s``), and ``append(events)``, which writes events to the audit chain in the same
transaction. Every change of a milestone or timer writes its event there; every timer changes state with one
conditional ``UPDATE``, so a timer fires at most once whatever number of processes try.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from hub.plugin_api.events import HubEvent
from hub.store import notice_ops
from hub.store.notice_ops import Accept
from hub.store.pathway_records import (
    CANCEL_UNCERTAIN,
    CONFIRM_CANCEL,
    FireResult,
    MilestoneClosing,
    NewMilestone,
    PathwayChanges,
    PathwayClosing,
)

Execute = Callable[[str, Sequence[Any]], Any]
Append = Callable[[list[HubEvent]], None]

CURSOR = "events"
FIRE_TOLERANCE_SECONDS = 2.0

MILESTONE_COLUMNS = (
    "id, name, partner, start_record, correlation_id, nhs_index, state, opened_at, due_at, remind_at, "
    "reminded_at, breached_at, closed_at, closed_by, close_reason"
)
MILESTONE_KEYS = tuple(c.strip() for c in MILESTONE_COLUMNS.split(","))


def as_milestone(row: Sequence[Any]) -> dict[str, Any]:
    """A milestone row as a dict of ``MILESTONE_KEYS``."""
    return dict(zip(MILESTONE_KEYS, row, strict=True))


def cursor(ex: Execute) -> int:
    """The last event sequence number the pathway has read."""
    row = ex("SELECT seq FROM pathway_cursor WHERE name = ?", (CURSOR,)).fetchone()
    return int(row[0]) if row else 0


def apply_changes(ex: Execute, append: Append, changes: PathwayChanges, now: float, external: bool,
                  accept: Accept | None = None) -> list[HubEvent] | None:  # fmt: skip
    """Apply ``changes`` if the cursor is still at ``after_seq`` (else None: another process read those events).

    ``external``: an external scheduler must be told of each timer opened or cancelled (``sync``). ``accept``
    stores an intake in this transaction: the notices of the milestones opened (``NewMilestone.notices``), after
    the pathway's events; a milestone closed by the same events cancels them at once (``notice_ops``).
    """
    ex("INSERT INTO pathway_cursor (name, seq) VALUES (?, 0) ON CONFLICT (name) DO NOTHING", (CURSOR,))
    moved = ex("UPDATE pathway_cursor SET seq = ? WHERE name = ? AND seq = ?",
               (changes.to_seq, CURSOR, changes.after_seq))  # fmt: skip
    if moved.rowcount != 1:
        return None
    events: list[HubEvent] = []
    with_notices: list[NewMilestone] = []
    for milestone in changes.opened:
        opened = _open(ex, milestone, now, external)
        events += opened
        if opened and milestone.notices and accept is not None:
            with_notices.append(milestone)
    notices: list[HubEvent] = []
    for milestone in with_notices:  # stored before the closings below, so that they cancel them
        notices += notice_ops.store_notices(ex, accept, milestone)  # type: ignore[arg-type]
    for closing_message in changes.closed:
        events += _close_milestone(ex, closing_message, external)
    # last: a closing message applies to the milestones it finds, those opened by the same events included
    for closing in changes.pathways_closed:
        events += _close_pathway(ex, closing, external)
    append(events)
    return notices + events


def _open(ex: Execute, m: NewMilestone, now: float, external: bool) -> list[HubEvent]:
    if m.correlation_id is not None:
        closed = ex("SELECT reason FROM pathway_closures WHERE correlation_id = ?", (m.correlation_id,)).fetchone()
        if closed is not None:
            return []
    index = ex("SELECT nhs_index FROM messages WHERE id = ?", (m.start_record,)).fetchone()
    inserted = ex(
        "INSERT INTO pathway_milestones (id, name, partner, start_record, correlation_id, nhs_index, state, "
        "opened_at, due_at, remind_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        (m.id, m.name, m.partner, m.start_record, m.correlation_id, index[0] if index else None, m.opened_at,
         m.due_at, m.remind_at),
    )  # fmt: skip
    if inserted.rowcount != 1:
        return []  # opened before (the same message read again after a crash)
    timers = [("due", m.due_at)] + ([("remind", m.remind_at)] if m.remind_at is not None else [])
    for action, due_at in timers:
        ex("INSERT INTO pathway_timers (id, milestone_id, action, due_at, state, sync, sync_attempts) "
           "VALUES (?, ?, ?, ?, 'pending', ?, 0)",
           (f"{m.id}.{action}", m.id, action, due_at, "schedule" if external else None))  # fmt: skip
    detail = {"milestone": m.name, "milestone_id": m.id, "due_at": m.due_at, "remind_at": m.remind_at, **m.detail}
    return [HubEvent("milestone_opened", m.start_record, now, None, m.partner, detail)]


def _close_milestone(ex: Execute, closing: MilestoneClosing, external: bool) -> list[HubEvent]:
    # one conditional update on the state as it is now (a timer fired since a read must not make it miss), and
    # the milestone row is locked before its timers, in the order ``fire`` takes them
    changed = ex("UPDATE pathway_milestones SET state = CASE WHEN state = 'breached' THEN 'late' ELSE 'met' END, "
                 "closed_at = ?, closed_by = ? WHERE id = ? AND state IN ('open', 'reminded', 'breached')",
                 (closing.at, closing.record_id, closing.milestone_id))  # fmt: skip
    if changed.rowcount != 1:
        return []
    m = as_milestone(ex(f"SELECT {MILESTONE_COLUMNS} FROM pathway_milestones WHERE id = ?",
                        (closing.milestone_id,)).fetchone())  # fmt: skip
    cancelled = _cancel_timers(ex, m["id"], external)
    detail = {"milestone": m["name"], "milestone_id": m["id"], "closed_by": closing.record_id,
              "due_at": m["due_at"], "cancelled_timers": cancelled}  # fmt: skip
    return [HubEvent(f"milestone_{m['state']}", m["start_record"], closing.at, None, m["partner"], detail),
            *notice_ops.cancel_notices(ex, cancelled, closing.at, None)]  # fmt: skip


def _cancel_timers(ex: Execute, milestone_id: str, external: bool) -> list[str]:
    rows = ex("SELECT id FROM pathway_timers WHERE milestone_id = ? AND state = 'pending'", (milestone_id,)).fetchall()
    ids = [r[0] for r in rows]
    # a timer the external scheduler was never asked to schedule needs no cancel; one it took does; one whose
    # schedule call failed may still have reached it (a timeout, a lost answer): cancelled, then confirmed
    # (CANCEL_UNCERTAIN). A first schedule call on its way as this commits is the sync loop's to find. With no
    # external scheduler (the embedded one) nobody is told anything: a sync left from an external scheduler the hub
    # used before goes with the timer (a run that scheduler still holds fires into a closed milestone, recorded).
    sync = (f"CASE WHEN sync = 'schedule' AND sync_attempts = 0 THEN NULL WHEN sync = 'schedule' "
            f"THEN '{CANCEL_UNCERTAIN}' ELSE 'cancel' END" if external else "NULL")  # fmt: skip
    for timer in ids:
        ex(f"UPDATE pathway_timers SET state = 'cancelled', sync = {sync}, sync_attempts = 0, sync_next_at = NULL "
           "WHERE id = ? AND state = 'pending'", (timer,))  # fmt: skip
    return ids


def _involved(ex: Execute, partner: str, milestones: list[dict[str, Any]]) -> bool:
    """``partner`` is responsible for one of ``milestones`` or may read the message that started one."""
    if any(m["partner"] == partner for m in milestones):
        return True
    return any(ex("SELECT 1 FROM messages m WHERE m.id = ? AND (m.sender = ? OR EXISTS (SELECT 1 FROM deliveries d "
                  "WHERE d.record_id = m.id AND d.partner = ?))", (m["start_record"], partner, partner)).fetchone()
               for m in milestones)  # fmt: skip


def _close_pathway(ex: Execute, closing: PathwayClosing, external: bool) -> list[HubEvent]:
    rows = ex(f"SELECT {MILESTONE_COLUMNS} FROM pathway_milestones WHERE correlation_id = ? ORDER BY opened_at, id",
              (closing.correlation_id,)).fetchall()  # fmt: skip
    every = [as_milestone(r) for r in rows]
    if not every:
        return []  # nothing to close: no closure is recorded in advance for a pathway not begun
    if closing.record_id is not None and (closing.actor is None or not _involved(ex, closing.actor, every)):
        # a closing message from a partner with no part in this pathway closes nothing; the refusal is recorded
        return [HubEvent("pathway_close_refused", closing.record_id, closing.at, None, closing.actor,
                         {"reason": closing.reason, "why": "the sender has no part in this pathway"},
                         closing.actor)]  # fmt: skip
    inserted = ex("INSERT INTO pathway_closures (correlation_id, reason, at, actor, record_id) VALUES (?, ?, ?, ?, ?) "
                  "ON CONFLICT (correlation_id) DO NOTHING",
                  (closing.correlation_id, closing.reason, closing.at, closing.actor, closing.record_id))  # fmt: skip
    if inserted.rowcount != 1:
        return []
    events: list[HubEvent] = []
    anchor = closing.record_id
    for m in every:
        # only a running one: one met, late or breached keeps its state (a fire may have committed since the read)
        changed = ex("UPDATE pathway_milestones SET state = 'cancelled', closed_at = ?, close_reason = ? WHERE id = ? "
                     "AND state IN ('open', 'reminded')", (closing.at, closing.reason, m["id"]))  # fmt: skip
        if changed.rowcount != 1:
            continue
        cancelled = _cancel_timers(ex, m["id"], external)
        anchor = anchor or m["start_record"]
        events.append(HubEvent("milestone_cancelled", m["start_record"], closing.at, None, m["partner"],
                               {"milestone": m["name"], "milestone_id": m["id"], "reason": closing.reason,
                                "cancelled_timers": cancelled}, closing.actor))  # fmt: skip
        events += notice_ops.cancel_notices(ex, cancelled, closing.at, closing.actor)
    cancelled_milestones = sum(e.kind == "milestone_cancelled" for e in events)
    events.insert(0, HubEvent("pathway_closed", anchor or f"pathway:{closing.correlation_id}", closing.at,
                              detail={"reason": closing.reason, "milestones_cancelled": cancelled_milestones},
                              actor=closing.actor))  # fmt: skip
    return events


def fire(ex: Execute, append: Append, timer_id: str, now: float, fired_by: str) -> FireResult:
    """Fire ``timer_id`` at most once: the conditional update decides; every outcome writes an event."""
    row = ex("SELECT milestone_id, action, due_at, state FROM pathway_timers WHERE id = ?", (timer_id,)).fetchone()
    if row is None:
        events = [HubEvent("timer_fire", f"timer:{timer_id}", now, detail={"timer_id": timer_id, "outcome": "unknown"},
                           actor=fired_by)]  # fmt: skip
        append(events)
        return FireResult("unknown", events=tuple(events))
    milestone_id = row[0]
    # the milestone row is locked first, then the timer: the order a closing takes them (no deadlock between the
    # two on PostgreSQL); once the lock is held the timer and milestone are read again as they now are
    ex("UPDATE pathway_milestones SET state = state WHERE id = ?", (milestone_id,))
    milestone_id, action, due_at, state, notice = ex(
        "SELECT milestone_id, action, due_at, state, notice_record FROM pathway_timers WHERE id = ?", (timer_id,)
    ).fetchone()
    m = as_milestone(ex(f"SELECT {MILESTONE_COLUMNS} FROM pathway_milestones WHERE id = ?",
                        (milestone_id,)).fetchone())  # fmt: skip
    outcome = {"fired": "already_fired", "cancelled": "closed"}.get(state)
    if outcome is None and now < due_at - FIRE_TOLERANCE_SECONDS:
        outcome = "not_yet_due"
    if outcome is None:
        changed = ex("UPDATE pathway_timers SET state = 'fired', fired_at = ?, fired_by = ?, "
                     "sync = CASE WHEN sync = 'schedule' THEN NULL ELSE sync END WHERE id = ? AND state = 'pending'",
                     (now, fired_by, timer_id))  # fmt: skip
        outcome = "fired" if changed.rowcount == 1 else "already_fired"
    if outcome != "fired":
        events = [HubEvent("timer_fire", m["start_record"], now, None, m["partner"],
                           {"timer_id": timer_id, "outcome": outcome}, fired_by)]  # fmt: skip
        append(events)
        return FireResult(outcome, m, action, tuple(events))
    if notice is not None:  # stored when the milestone opened: its deliveries go now
        notice_ops.release_notices(ex, timer_id, now)
    new = "reminded" if action == "remind" else "breached"
    ex(f"UPDATE pathway_milestones SET state = ?, {new}_at = ? WHERE id = ? AND state IN ('open', 'reminded')",
       (new, now, milestone_id))  # fmt: skip
    m["state"] = new
    events = [HubEvent(f"milestone_{new}", m["start_record"], now, None, m["partner"],
                       {"milestone": m["name"], "milestone_id": milestone_id, "timer_id": timer_id,
                        "due_at": m["due_at"], "late_by_seconds": round(now - due_at, 3)}, fired_by)]  # fmt: skip
    append(events)
    return FireResult("fired", m, action, tuple(events), notice_stored=notice is not None)


def close_pathway(ex: Execute, append: Append, closing: PathwayClosing, external: bool) -> list[HubEvent]:
    """Close one pathway as a whole now (an operator's or the responsible partner's request)."""
    events = _close_pathway(ex, closing, external)
    append(events)
    return events


def record_notice(ex: Execute, timer_id: str, record_id: str) -> None:
    """Remember the notice message a fired timer sent (so that a restart does not look for it again)."""
    ex("UPDATE pathway_timers SET notice_record = ? WHERE id = ?", (record_id, timer_id))


def _synced(changed: Any, append: Append, timer_id: str, now: float, **detail: Any) -> list[HubEvent]:
    """The ``scheduler_sync`` event of a sync step whose conditional ``UPDATE`` changed the timer, written; none
    when it changed nothing (the step was no longer asked for)."""
    if changed.rowcount != 1:
        return []
    events = [HubEvent("scheduler_sync", f"timer:{timer_id}", now, detail={"timer_id": timer_id, **detail})]
    append(events)
    return events


def sync_done(ex: Execute, append: Append, timer_id: str, sync: str, now: float) -> list[HubEvent]:
    """The external scheduler took ``sync`` (``schedule`` / ``cancel``) for ``timer_id``; the event written."""
    changed = ex("UPDATE pathway_timers SET sync = NULL, sync_attempts = 0, sync_next_at = NULL, sync_error = NULL "
                 "WHERE id = ? AND sync = ?", (timer_id, sync))  # fmt: skip
    return _synced(changed, append, timer_id, now, sync=sync, result="done")


def sync_failed(ex: Execute, append: Append, timer_id: str, sync: str, now: float, next_at: float,
                error: str) -> list[HubEvent]:  # fmt: skip
    """The external scheduler could not take ``sync``: try again at ``next_at``; the event written."""
    changed = ex("UPDATE pathway_timers SET sync_attempts = sync_attempts + 1, sync_next_at = ?, sync_error = ? "
                 "WHERE id = ? AND sync = ?", (next_at, error[:500], timer_id, sync))  # fmt: skip
    return _synced(changed, append, timer_id, now, sync=sync, result="retry", next_at=next_at)


def confirm_cancel_later(ex: Execute, append: Append, timer_id: str, now: float, at: float) -> list[HubEvent]:
    """A ``CANCEL_UNCERTAIN`` cancel was taken: cancel once more at ``at`` (``CONFIRM_CANCEL``); the event written."""
    changed = ex(f"UPDATE pathway_timers SET sync = '{CONFIRM_CANCEL}', sync_attempts = 0, sync_next_at = ?, "
                 f"sync_error = NULL WHERE id = ? AND sync = '{CANCEL_UNCERTAIN}'", (at, timer_id))  # fmt: skip
    return _synced(changed, append, timer_id, now, sync=CANCEL_UNCERTAIN, result="confirm", next_at=at)


def cancel_if_settled(ex: Execute, append: Append, timer_id: str, sync: str, now: float) -> list[HubEvent]:
    """Ask for ``sync`` (``cancel``, or ``CANCEL_UNCERTAIN``) of ``timer_id`` if it was cancelled with nothing left
    to tell the scheduler: its schedule call was on its way when the close committed, and the scheduler took it
    (or the call failed, which leaves it uncertain). The event written (none when nothing was asked)."""
    changed = ex("UPDATE pathway_timers SET sync = ?, sync_attempts = 0, sync_next_at = NULL "
                 "WHERE id = ? AND state = 'cancelled' AND sync IS NULL", (sync, timer_id))  # fmt: skip
    return _synced(changed, append, timer_id, now, sync="schedule", result="after_close", next=sync)


def request_sync(ex: Execute, timer_id: str, sync: str) -> None:
    """Ask for ``sync`` of one timer again, at once (``hub pathway reconcile``).

    A timer already waiting for that same sync keeps its count of failed calls: a ``schedule`` call that failed
    may have reached the scheduler all the same, and a close must still cancel its run (``_cancel_timers``)."""
    ex("UPDATE pathway_timers SET sync = ?, sync_attempts = CASE WHEN sync = ? THEN sync_attempts ELSE 0 END, "
       "sync_next_at = NULL WHERE id = ?", (sync, sync, timer_id))  # fmt: skip


def encode(detail: dict[str, Any]) -> str:
    """Event details as the store keeps them."""
    return json.dumps(detail, sort_keys=True)


# -- reads ---------------------------------------------------------------------------------------------------------
EVENTS_AFTER = (
    "SELECT e.seq, e.kind, e.record_id, e.partner, e.at, m.type, m.sender, m.correlation_id, m.message_id, "
    "m.in_reply_to FROM events e JOIN messages m ON m.id = e.record_id WHERE e.seq > ? "
    "AND e.kind IN ('received', 'delivered') ORDER BY e.seq LIMIT ?"
)
LAST_SEQ = "SELECT COALESCE(MAX(seq), 0) FROM events"
# a timer whose notice waits for a push partner is fired by the claim of that delivery (``notice_claims``)
DUE_TIMERS = (
    "SELECT t.id FROM pathway_timers t WHERE t.state = 'pending' AND t.due_at <= ? AND NOT EXISTS (SELECT 1 FROM "
    "deliveries d WHERE d.timer_id = t.id AND d.state = 'pending') ORDER BY t.due_at LIMIT ?"
)
NEXT_DUE = "SELECT MIN(due_at) FROM pathway_timers WHERE state = 'pending'"
UNSENT_NOTICES = (
    "SELECT t.id FROM pathway_timers t WHERE t.state = 'fired' AND t.notice_record IS NULL ORDER BY t.fired_at LIMIT ?"
)
PENDING_SYNCS = (
    "SELECT id, sync, due_at, sync_attempts, sync_next_at, sync_error FROM pathway_timers WHERE sync IS NOT NULL "
    "ORDER BY due_at"
)
PENDING_TIMERS = "SELECT id, due_at FROM pathway_timers WHERE state = 'pending'"
TIMER_STATES = "SELECT state FROM pathway_timers WHERE id = ?"
TIMER_COLUMNS = ("id", "action", "due_at", "state", "fired_at", "fired_by", "sync", "notice_record")
TIMERS_OF = (
    f"SELECT milestone_id, {', '.join(TIMER_COLUMNS)} FROM pathway_timers WHERE {{values}} "
    "ORDER BY milestone_id, due_at, id"
)
"""The timers of several milestones (``values``: the backend's ``_in('milestone_id', ids)``), each milestone's
soonest due first."""
MILESTONE_COUNTS = "SELECT partner, name, state, COUNT(*) FROM pathway_milestones GROUP BY partner, name, state"
OPEN_FOR = (
    f"SELECT {MILESTONE_COLUMNS} FROM pathway_milestones WHERE partner = ? AND name = ? "
    "AND state IN ('open', 'reminded', 'breached') AND (correlation_id = ? OR start_record IN "
    "(SELECT id FROM messages WHERE message_id = ?))"
)
CLOSURE = "SELECT reason, at, actor FROM pathway_closures WHERE correlation_id = ?"


def milestones_query(correlation_id: str | None, nhs_index: str | Sequence[str] | None, partner: str | None,
                     due_before: float | None, states: Sequence[str] | None, milestone_id: str | None = None,
                     names: Sequence[str] | None = None, limit: int = 1000) -> tuple[str, list[Any]]:  # fmt: skip
    """The statement and arguments listing milestones by these filters (None: any), soonest due first, ``limit``
    at most."""
    clauses: list[str] = []
    args: list[Any] = []
    filters = (("id", milestone_id), ("correlation_id", correlation_id), ("partner", partner))
    for column, value in filters:
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if nhs_index is not None:  # several values: one statement, one snapshot (see ``Store.find_by_index``)
        values = [nhs_index] if isinstance(nhs_index, str) else list(nhs_index)
        clauses.append(f"nhs_index IN ({', '.join('?' for _ in values)})" if values else "1 = 0")
        args += values
    if due_before is not None:
        clauses.append("due_at <= ? AND state IN ('open', 'reminded')")
        args.append(due_before)
    if states:
        clauses.append(f"state IN ({', '.join('?' for _ in states)})")
        args += list(states)
    if names is not None:
        clauses.append(f"name IN ({', '.join('?' for _ in names)})" if names else "1 = 0")
        args += list(names)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"SELECT {MILESTONE_COLUMNS} FROM pathway_milestones{where} ORDER BY due_at, id LIMIT {int(limit)}", args
