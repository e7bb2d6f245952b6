"""Rebuilding the blind index under a new index key, batch by batch, beside a running hub.

When the index key rotates (``hub keys rotate-index``), new messages are indexed under the new key
at once, and the rows already stored are re-indexed by ``rebuild_index_batch`` (both backends run
the statements here): each batch decrypts its messages' bodies, computes their blind-index value
under the new key, and writes it to the message and to every search entry of that message, in one
transaction together with the rebuild's cursor. A record is therefore under exactly one of the two
keys at any moment, a search that looks under both finds it once, and a crash loses at most the
batch in flight (the next run starts after the cursor).

The rebuild's one row (table ``index_rebuild``, one per rotation) moves through phases:

``scan``     every message with a blind-index value, in id order after ``cursor``;
``recent``   once more, the messages received since ``started_at - RECENT_MARGIN_SECONDS``: a hub
             process sees a rotation within a second (the key ring is re-read when it changes), so
             one that had not seen it yet may have indexed a message under the old key after the
             scan passed it. This phase starts only when ``settle_seconds`` have gone by since the
             rotation, so that every running process has switched;
``finished`` nothing left under the old key: it can be retired.

``runner`` names the process that last took the rebuild's lock to run it (``hub.store.rebuild_lock``):
NULL while no process has run it (``hub keys rotate-index --no-rebuild`` leaves it for an operator's
``hub keys rebuild-index``). Once a process has run it, running hubs finish it if that process dies.

The stored keyed fingerprints (``messages.fingerprint``, duplicate detection at intake) are re-keyed
under a new fingerprint key the same way, by the same statements and runner (``Rekeying``: ``INDEX``
and ``FINGERPRINT``; the row's ``purpose`` says which). A repeat of a message is recognised during it
because intake fingerprints every message under each live key (``hub.store.records``); its scan waits
``settle_seconds`` after the rotation so that every process holds both keys first.

``done`` counts messages re-indexed in the scan (``total`` is how many had a value when the rebuild
began, so progress is ``done / total``; messages indexed under the new key meanwhile count too);
``lost`` counts messages whose body could not be read (its KEK retired): their old value and
search entries are removed, since nothing could find them once the old key is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from hub.bodies import BodyUnreadable, CodecRegistry, StoredBody
from hub.plugin_api.events import HubEvent

RECENT_MARGIN_SECONDS = 60.0
"""How long before the rotation a message may have been planned (indexed) and still be committed after it."""

PHASES = ("scan", "recent", "finished")


@dataclass(frozen=True)
class IndexRebuild:
    """The state of one rebuild of the blind index (see the module docstring)."""

    old_key_id: str
    new_key_id: str
    started_at: float
    phase: str
    cursor: str
    total: int
    done: int
    lost: int
    finished_at: float | None
    actor: str
    runner: str | None = None
    """The process that last took the rebuild's lock to run it; None if none ever did."""
    purpose: str = "index"
    """Which keys it moves to the new one: ``index`` (the blind index) or ``fingerprint``."""

    @property
    def finished(self) -> bool:
        """True once nothing is left under the old key."""
        return self.phase == "finished"

    def progress(self) -> str:
        """One line for an operator: phase, done of total, lost."""
        spec = rekeying(self.purpose)
        if self.finished:
            return f"finished: {self.done} {spec.noun} under {self.new_key_id}, {self.lost} unreadable"
        command = "rebuild-index" if self.purpose == "index" else "rebuild-fingerprints"
        return (
            f"{self.phase}: {min(self.done, self.total)} of {self.total} {spec.noun} under "
            f"{self.new_key_id} ({self.lost} unreadable); {spec.meanwhile.format(old=self.old_key_id)}"
            + (f"; last run by {self.runner}" if self.runner else f"; waiting for 'hub keys {command}'")
        )


@dataclass(frozen=True)
class Rekeying:
    """What one kind of rebuild moves to a new key: a column of ``messages`` (and the copies that follow it).

    ``waits_before_scan``: the scan starts only once ``settle_seconds`` have passed since the rotation.
    A fingerprint is compared, not searched: a process that had not seen the rotation yet would fingerprint
    a repeat under the old key only, and take a first copy already re-keyed for other content (409). Once
    every process holds both keys, a repeat matches whichever key its first copy is under.
    """

    purpose: str
    column: str
    noun: str
    """What is moved, for the progress line."""
    meanwhile: str
    """How the old key is still used meanwhile, for the progress line (``{old}`` is its id)."""
    finished_kind: str
    """The audit event of the batch that finishes it."""
    copies: tuple[tuple[str, str], ...] = ()
    """``(set, clear)`` statements of the copies of the value kept elsewhere, keyed by the message's record id."""
    waits_before_scan: bool = False

    def count(self) -> str:
        return f"SELECT count(*) FROM messages WHERE {self.column} IS NOT NULL"

    def scan(self) -> str:
        return (f"SELECT id, type, sender, body_codec, body, kek_id, data_key FROM messages "
                f"WHERE id > ? AND {self.column} IS NOT NULL ORDER BY id LIMIT ?")  # fmt: skip

    def recent(self) -> str:
        return (f"SELECT id, type, sender, body_codec, body, kek_id, data_key FROM messages "
                f"WHERE id > ? AND {self.column} IS NOT NULL AND received_at >= ? ORDER BY id LIMIT ?")  # fmt: skip

    def set_message(self) -> str:
        # only while it still has a value: retention may have shredded it since the batch read it (PostgreSQL
        # re-checks the condition on the row as it is once its lock is free), and a shredded message must not
        # get one back
        return f"UPDATE messages SET {self.column} = ? WHERE id = ? AND {self.column} IS NOT NULL"

    def clear_message(self) -> str:
        return f"UPDATE messages SET {self.column} = NULL WHERE id = ?"


# the search entries (``message_index``) and a milestone's copy of its start message's value
# (``pathway_milestones.nhs_index``) follow the message's blind-index value
INDEX = Rekeying(
    "index", "nhs_index", "messages re-indexed", "searches look under {old} too", "index_rebuilt",
    (("UPDATE message_index SET nhs_index = ? WHERE record_id = ?", "DELETE FROM message_index WHERE record_id = ?"),
     ("UPDATE pathway_milestones SET nhs_index = ? WHERE start_record = ? AND nhs_index IS NOT NULL",
      "UPDATE pathway_milestones SET nhs_index = NULL WHERE start_record = ?")),
)  # fmt: skip
FINGERPRINT = Rekeying(
    "fingerprint", "fingerprint", "fingerprints re-keyed", "repeats are recognised under {old} too",
    "fingerprints_rekeyed", waits_before_scan=True,
)  # fmt: skip
REKEYINGS = {spec.purpose: spec for spec in (INDEX, FINGERPRINT)}


def rekeying(purpose: str) -> Rekeying:
    """The rebuild of ``purpose`` (``index`` or ``fingerprint``); ``ValueError`` naming them for another."""
    try:
        return REKEYINGS[purpose]
    except KeyError:
        raise ValueError(f"no rebuild for keys of purpose {purpose!r} (there are: {', '.join(REKEYINGS)})") from None


COLUMNS = "old_key_id, new_key_id, started_at, phase, cursor, total, done, lost, finished_at, actor, runner, purpose"

# written with ? placeholders; ``statement(text, "postgresql")`` gives the %s form
CURRENT = f"SELECT {COLUMNS} FROM index_rebuild WHERE purpose = ? ORDER BY started_at DESC LIMIT 1"
BY_KEY = f"SELECT {COLUMNS} FROM index_rebuild WHERE new_key_id = ?"
BEGIN = (
    "INSERT INTO index_rebuild (old_key_id, new_key_id, started_at, phase, cursor, total, done, lost, actor, "
    "purpose) VALUES (?, ?, ?, 'scan', '', ?, 0, 0, ?, ?)"
)
ADVANCE = "UPDATE index_rebuild SET phase = ?, cursor = ?, done = ?, lost = ?, finished_at = ? WHERE new_key_id = ?"
RUN_BY = "UPDATE index_rebuild SET runner = ? WHERE new_key_id = ?"


def statement(text: str, backend: str) -> str:
    """``text`` for ``backend`` (``sqlite`` keeps ``?``; ``postgresql`` takes ``%s``)."""
    return text.replace("?", "%s") if backend == "postgresql" else text


def from_row(row: Any) -> IndexRebuild:
    """An ``IndexRebuild`` from a row of ``COLUMNS``."""
    old, new, started, phase, cursor, total, done, lost, finished, actor, runner, purpose = tuple(row)
    return IndexRebuild(str(old), str(new), float(started), str(phase), str(cursor), int(total), int(done),
                        int(lost), None if finished is None else float(finished), str(actor),
                        None if runner is None else str(runner), str(purpose))  # fmt: skip


RebuildRow = tuple[str, str, str, str, bytes | None, str | None, bytes | None]


def reindex_steps(
    rows: Iterable[RebuildRow], codecs: CodecRegistry, reindex: Callable[[dict[str, Any]], str | None]
) -> tuple[list[tuple[str, str]], list[str], str]:
    """For rows of ``SCAN``/``RECENT``: ``(new value, record id)`` to write, record ids whose body cannot be
    read (or holds no NHS number any more) whose value and entries go, and the last id seen ('' if none)."""
    updates: list[tuple[str, str]] = []
    dropped: list[str] = []
    last = ""
    for record_id, mtype, sender, codec, data, kek_id, wrapped in rows:
        last = record_id
        value: str | None = None
        try:
            stored = StoredBody(codec, None if data is None else bytes(data), kek_id,
                                None if wrapped is None else bytes(wrapped))  # fmt: skip
            body = codecs.decode(record_id, mtype, sender, stored)
            value = reindex(orjson.loads(body))
        except BodyUnreadable:
            value = None
        if value is None:
            dropped.append(record_id)
        else:
            updates.append((value, record_id))
    return updates, dropped, last


def next_state(
    state: IndexRebuild, seen: int, updated: int, dropped: int, last: str, batch_size: int, now: float,
    settle_seconds: float,
) -> IndexRebuild:  # fmt: skip
    """The state after a batch that saw ``seen`` rows (``updated`` re-indexed, ``dropped`` unreadable)."""
    done = state.done + (updated if state.phase == "scan" else 0)
    lost = state.lost + dropped
    cursor = last or state.cursor
    phase, finished_at = state.phase, None
    if seen < batch_size:  # the end of this phase's rows, for now
        if state.phase == "scan" and now >= state.started_at + settle_seconds:
            phase, cursor = "recent", ""
        elif state.phase == "recent":
            phase, finished_at = "finished", now
    return IndexRebuild(state.old_key_id, state.new_key_id, state.started_at, phase, cursor, state.total, done,
                        lost, finished_at, state.actor, state.runner, state.purpose)  # fmt: skip


def advance_args(state: IndexRebuild) -> tuple[Any, ...]:
    """The arguments of ``ADVANCE`` for ``state``."""
    return (state.phase, state.cursor, state.done, state.lost, state.finished_at, state.new_key_id)


# -- the jobs each backend runs in its own write transaction --------------------------------------------
# ``conn`` is a sqlite3 or psycopg connection (both have ``execute`` returning a cursor); ``append`` adds
# events to the audit chain in the same transaction.
Append = Callable[[list[HubEvent]], None]


def read_current(conn: Any, backend: str, purpose: str = "index") -> IndexRebuild | None:
    """The latest rebuild of ``purpose``'s keys, or None."""
    row = conn.execute(statement(CURRENT, backend), (rekeying(purpose).purpose,)).fetchone()
    return from_row(row) if row is not None else None


def run_by_job(conn: Any, backend: str, new_key_id: str, runner: str) -> None:
    """Record ``runner`` as the process running the rebuild to ``new_key_id`` (it holds the lock)."""
    conn.execute(statement(RUN_BY, backend), (runner, new_key_id))


def begin_job(conn: Any, backend: str, old_key_id: str, new_key_id: str, now: float, actor: str,
              append: Append, purpose: str = "index") -> IndexRebuild:  # fmt: skip
    """Insert the rebuild's row (unless it exists) and put the rotation on the audit chain."""
    spec = rekeying(purpose)
    row = conn.execute(statement(BY_KEY, backend), (new_key_id,)).fetchone()
    if row is not None:
        return from_row(row)
    total = int(conn.execute(spec.count()).fetchone()[0])
    conn.execute(statement(BEGIN, backend), (old_key_id, new_key_id, now, total, actor, spec.purpose))
    detail = {"purpose": spec.purpose, "from": old_key_id, "to": new_key_id, "messages": total}
    append([HubEvent("key_rotated", "", now, actor=actor, detail=detail)])
    return from_row(conn.execute(statement(BY_KEY, backend), (new_key_id,)).fetchone())


def batch_job(
    conn: Any,
    backend: str,
    codecs: CodecRegistry,
    new_key_id: str,
    reindex: Callable[[dict[str, Any]], str | None],
    batch_size: int,
    now: float,
    settle_seconds: float,
    append: Append,
) -> tuple[IndexRebuild, int]:
    """One batch of the rebuild to ``new_key_id`` (see ``IndexRebuilding.rebuild_index_batch``)."""
    lock = " FOR UPDATE" if backend == "postgresql" else ""  # two rebuilders take turns, batch by batch
    row = conn.execute(statement(BY_KEY, backend) + lock, (new_key_id,)).fetchone()
    if row is None:
        raise LookupError(f"no rebuild of the blind index to {new_key_id} was begun")
    state = from_row(row)
    spec = rekeying(state.purpose)
    if state.finished or (spec.waits_before_scan and now < state.started_at + settle_seconds):
        return state, 0  # finished; or every running process may not hold the new key yet
    if state.phase == "scan":
        rows = conn.execute(statement(spec.scan(), backend), (state.cursor, batch_size)).fetchall()
    else:
        since = state.started_at - RECENT_MARGIN_SECONDS
        rows = conn.execute(statement(spec.recent(), backend), (state.cursor, since, batch_size)).fetchall()
    updates, dropped, last = reindex_steps(rows, codecs, reindex)
    cursor = conn.cursor()  # executemany: one round trip per statement and batch on PostgreSQL (pipelined)
    cleared = [(record_id,) for record_id in dropped]
    for set_value, clear_value in ((spec.set_message(), spec.clear_message()), *spec.copies):
        if updates:
            cursor.executemany(statement(set_value, backend), updates)
        if dropped:
            cursor.executemany(statement(clear_value, backend), cleared)
    after = next_state(state, len(rows), len(updates), len(dropped), last, batch_size, now, settle_seconds)
    conn.execute(statement(ADVANCE, backend), advance_args(after))
    if after.finished:
        append([HubEvent(spec.finished_kind, "", now, actor=after.actor,
                         detail={"key": after.new_key_id, "replaced": after.old_key_id, "messages": after.done,
                                 "unreadable": after.lost})])  # fmt: skip
    return after, len(rows)
