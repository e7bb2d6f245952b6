"""The alerts' migration (SQLite version 10, PostgreSQL version 7): their state, their outbox, the evaluator's
lease and its event cursor.

- ``alert_states``: one row per alert key (``partner:ID``, ``queue:MEASURE>=N:PARTNER``, ``milestone:PARTNER:NAME``):
  its state now (``ok`` / ``firing``) and since when, a count (failures, the queue's depth, breaches not yet
  alerted), the state last alerted and when, and how many alerts it has given (the alert ids' numbers). Keeping it in
  the store is what makes a restart, or a second process, not alert again for the same change.
- ``alert_outbox``: one row per alert and channel (``webhook:NAME``, ``email``), the JSON sent, and its attempts;
  an alert id is ``KEY#N``, so a change of state is queued once whatever races.
- ``alert_leases``: who runs the evaluator (one process at a time across the hub's processes) and until when.
- ``alert_cursor``: the last event the evaluator read; it starts at the last event stored before the migration,
  so that older failures alert nothing.

Nothing here holds personal data: partner ids, counts, measure and milestone names.
"""

from __future__ import annotations

SQLITE_VERSION = 10
POSTGRES_VERSION = 7

_DDL = """
CREATE TABLE alert_states (
    key         TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('partner', 'queue', 'milestone')),
    partner     TEXT,
    subject     TEXT,
    state       TEXT NOT NULL CHECK (state IN ('ok', 'firing')),
    since       {real} NOT NULL,
    value       BIGINT NOT NULL DEFAULT 0,
    sent_state  TEXT,
    sent_at     {real},
    alerts      INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE alert_outbox (
    id          TEXT PRIMARY KEY,
    alert_id    TEXT NOT NULL,
    channel     TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  {real} NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     {real} NOT NULL,
    sent_at     {real},
    last_error  TEXT
);
CREATE INDEX alert_outbox_due ON alert_outbox(state, next_at);
CREATE TABLE alert_leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    until       {real} NOT NULL
);
CREATE TABLE alert_cursor (
    name        TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL
);
INSERT INTO alert_cursor (name, seq) SELECT 'events', COALESCE(MAX(seq), 0) FROM events;
"""

SQLITE = _DDL.format(real="REAL")
POSTGRES = _DDL.format(real="DOUBLE PRECISION")
