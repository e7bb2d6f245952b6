"""The PostgreSQL store's schema: versioned migrations, applied in order under an advisory lock.

The tables and columns are those of the SQLite store (``sqlite_schema.py``) with the same
meaning, so ``hub.store.views`` shows both alike: bodies and wrapped keys are ``BYTEA``, times
are seconds since the epoch as ``double precision``. PostgreSQL starts at the SQLite schema's
version 4 in one step (version 1 here); later changes are new entries in ``MIGRATIONS``, never
edits of old ones.

``migrate`` takes a session advisory lock (keyed on the schema it migrates) before it reads
which versions are applied, so that processes starting together wait for one another instead
of racing: the first applies what is missing, the others then find nothing left to do. Each
version is applied in its own transaction together with its row in ``schema_migrations``.
"""

from __future__ import annotations

import time
from typing import Any

from hub.store import activity_schema, alerts_schema, console_schema, notice_schema, pathway_board
from hub.store.postgres_connect import connect

#: (version, statements) in order; a version's statements run in one transaction
MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE messages (
            id              TEXT PRIMARY KEY,
            message_id      TEXT NOT NULL,
            sender          TEXT NOT NULL,
            type            TEXT NOT NULL,
            correlation_id  TEXT,
            in_reply_to     TEXT,
            parent_id       TEXT REFERENCES messages(id),
            idempotency_key TEXT,
            fingerprint     TEXT,
            received_at     DOUBLE PRECISION NOT NULL,
            body_codec      TEXT NOT NULL,
            body            BYTEA,
            kek_id          TEXT,
            data_key        BYTEA,
            nhs_index       TEXT,
            shredded_at     DOUBLE PRECISION
        );
        CREATE UNIQUE INDEX messages_sender_message_id ON messages(sender, message_id);
        CREATE UNIQUE INDEX messages_sender_idempotency_key ON messages(sender, idempotency_key)
            WHERE idempotency_key IS NOT NULL;
        CREATE INDEX messages_parent ON messages(parent_id) WHERE parent_id IS NOT NULL;
        CREATE INDEX messages_received ON messages(received_at);
        CREATE INDEX messages_message_id ON messages(message_id);
        CREATE INDEX messages_in_reply_to ON messages(sender, in_reply_to) WHERE in_reply_to IS NOT NULL;
        CREATE INDEX messages_nhs_index ON messages(nhs_index) WHERE nhs_index IS NOT NULL;
        CREATE INDEX messages_kek ON messages(kek_id) WHERE kek_id IS NOT NULL;

        CREATE TABLE deliveries (
            id              TEXT PRIMARY KEY,
            record_id       TEXT NOT NULL REFERENCES messages(id),
            partner         TEXT NOT NULL,
            route           TEXT NOT NULL,
            mode            TEXT NOT NULL,
            state           TEXT NOT NULL,
            attempts        INTEGER NOT NULL DEFAULT 0,
            due_at          DOUBLE PRECISION,
            lease_id        TEXT,
            last_error      TEXT,
            created_at      DOUBLE PRECISION NOT NULL,
            delivered_at    DOUBLE PRECISION,
            acknowledged_at DOUBLE PRECISION,
            receipt         TEXT,
            UNIQUE (record_id, partner)
        );
        -- the claim's index: only deliveries a worker may take are in it
        CREATE INDEX deliveries_due ON deliveries(due_at) WHERE state IN ('pending', 'in_flight');
        CREATE INDEX deliveries_partner_state ON deliveries(partner, state);
        CREATE INDEX deliveries_state ON deliveries(state);

        CREATE TABLE events (
            seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            record_id    TEXT NOT NULL,
            delivery_id  TEXT,
            partner      TEXT,
            at           DOUBLE PRECISION NOT NULL,
            kind         TEXT NOT NULL,
            detail       TEXT,
            actor        TEXT,
            prev_hash    TEXT,
            hash         TEXT
        );
        CREATE INDEX events_record ON events(record_id, seq);

        -- the head of the hash chain: one row, locked by every transaction that appends events, so
        -- that the events of every process form one chain (see postgres_writer)
        CREATE TABLE audit_head (
            id    INTEGER PRIMARY KEY CHECK (id = 1),
            hash  TEXT
        );
        INSERT INTO audit_head VALUES (1, NULL);

        CREATE TABLE message_index (
            partner    TEXT NOT NULL,
            nhs_index  TEXT NOT NULL,
            record_id  TEXT NOT NULL REFERENCES messages(id),
            PRIMARY KEY (partner, nhs_index, record_id)
        );
        CREATE INDEX message_index_record ON message_index(record_id);

        CREATE TABLE upgrade_pending (
            task       TEXT NOT NULL,
            record_id  TEXT NOT NULL,
            partner    TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (task, record_id, partner)
        );
        """,
    ),
]

# 2: order where it matters (the SQLite schema's version 5, with the same meaning). A delivery of a
# route that asks for order carries an ``order_key`` (a digest, never a value in clear) and
# ``order_seq``, its place in the commit order of its key's deliveries (1, 2, 3...; see
# ``postgres_sql.LOCK_ORDER_KEYS``). The index answers "the key's last number" and "its waiting
# elders", each with one seek; it is unique, so a numbering that ever raced would fail (and the
# writer run the intake again) rather than store two of one place. Deliveries stored before this
# migration have no key: they were never ordered and are not now.
MIGRATIONS.append(
    (
        2,
        """
        ALTER TABLE deliveries ADD COLUMN order_key TEXT;
        ALTER TABLE deliveries ADD COLUMN order_seq INTEGER;
        CREATE UNIQUE INDEX deliveries_order ON deliveries(order_key, order_seq) WHERE order_key IS NOT NULL;
        """,
    )
)

# 3: the care pathway; the same tables as the SQLite store's migration 6 (hub/store/sqlite_schema.py says what each
# column is for).
MIGRATIONS.append(
    (
        3,
        """
        CREATE TABLE pathway_milestones (
            id             TEXT PRIMARY KEY,
            name           TEXT NOT NULL,
            partner        TEXT NOT NULL,
            start_record   TEXT NOT NULL,
            correlation_id TEXT,
            nhs_index      TEXT,
            state          TEXT NOT NULL,
            opened_at      DOUBLE PRECISION NOT NULL,
            due_at         DOUBLE PRECISION NOT NULL,
            remind_at      DOUBLE PRECISION,
            reminded_at    DOUBLE PRECISION,
            breached_at    DOUBLE PRECISION,
            closed_at      DOUBLE PRECISION,
            closed_by      TEXT,
            close_reason   TEXT
        );
        CREATE INDEX pathway_milestones_correlation ON pathway_milestones(correlation_id);
        CREATE INDEX pathway_milestones_nhs_index ON pathway_milestones(nhs_index) WHERE nhs_index IS NOT NULL;
        CREATE INDEX pathway_milestones_partner ON pathway_milestones(partner, name, state);
        CREATE INDEX pathway_milestones_due ON pathway_milestones(state, due_at);
        CREATE TABLE pathway_timers (
            id            TEXT PRIMARY KEY,
            milestone_id  TEXT NOT NULL REFERENCES pathway_milestones(id),
            action        TEXT NOT NULL,
            due_at        DOUBLE PRECISION NOT NULL,
            state         TEXT NOT NULL,
            fired_at      DOUBLE PRECISION,
            fired_by      TEXT,
            notice_record TEXT,
            sync          TEXT,
            sync_attempts INTEGER NOT NULL DEFAULT 0,
            sync_next_at  DOUBLE PRECISION,
            sync_error    TEXT
        );
        CREATE INDEX pathway_timers_due ON pathway_timers(state, due_at);
        CREATE INDEX pathway_timers_milestone ON pathway_timers(milestone_id);
        CREATE INDEX pathway_timers_sync ON pathway_timers(sync) WHERE sync IS NOT NULL;
        CREATE TABLE pathway_closures (
            correlation_id TEXT PRIMARY KEY,
            reason         TEXT NOT NULL,
            at             DOUBLE PRECISION NOT NULL,
            actor          TEXT,
            record_id      TEXT
        );
        CREATE TABLE pathway_cursor (
            name TEXT PRIMARY KEY,
            seq  BIGINT NOT NULL
        );
        -- the pathway starts from now: messages stored before it existed open no milestone
        INSERT INTO pathway_cursor (name, seq) SELECT 'events', COALESCE(MAX(seq), 0) FROM events;
        """,
    )
)

# 4: the rebuild of the blind index under a new index key (the SQLite schema's version 7, with the same
# meaning; hub.store.index_rebuild): one row per rotation with its key ids, phase, cursor and counts.
MIGRATIONS.append(
    (
        4,
        """
        CREATE TABLE IF NOT EXISTS index_rebuild (
            new_key_id  TEXT PRIMARY KEY,
            old_key_id  TEXT NOT NULL,
            started_at  DOUBLE PRECISION NOT NULL,
            phase       TEXT NOT NULL CHECK (phase IN ('scan', 'recent', 'finished')),
            cursor      TEXT NOT NULL,
            total       BIGINT NOT NULL,
            done        BIGINT NOT NULL,
            lost        BIGINT NOT NULL,
            finished_at DOUBLE PRECISION,
            actor       TEXT NOT NULL
        );
        """,
    )
)

# 5: a business status in clear, for types that declare one (the SQLite schema's version 8, with the same
# meaning): the status code (an enumerated code, never free text) and the time the sender says it was
# reached, so plugins count and time statuses without decrypting a body. Older messages have none.
MIGRATIONS.append(
    (
        5,
        """
        ALTER TABLE messages ADD COLUMN IF NOT EXISTS status TEXT;
        ALTER TABLE messages ADD COLUMN IF NOT EXISTS status_at DOUBLE PRECISION;
        CREATE INDEX IF NOT EXISTS messages_status_replies ON messages(sender, in_reply_to) WHERE status IS NOT NULL;
        """,
    )
)

# 6: the record a reply answers (the SQLite schema's version 9, with the same meaning and backfill).
MIGRATIONS.append(
    (
        6,
        """
        ALTER TABLE messages ADD COLUMN IF NOT EXISTS answers_record TEXT;
        UPDATE messages SET answers_record = (
            SELECT t.id FROM messages t JOIN deliveries d ON d.record_id = t.id
            WHERE t.message_id = messages.in_reply_to AND d.partner = messages.sender)
        WHERE status IS NOT NULL AND in_reply_to IS NOT NULL AND (
            SELECT count(DISTINCT t.id) FROM messages t JOIN deliveries d ON d.record_id = t.id
            WHERE t.message_id = messages.in_reply_to AND d.partner = messages.sender) = 1;
        CREATE INDEX IF NOT EXISTS messages_status_answers ON messages(answers_record, sender)
            WHERE status IS NOT NULL;
        """,
    )
)

# 7: alerts (hub.store.alerts_schema says what each table holds)
MIGRATIONS.append((alerts_schema.POSTGRES_VERSION, alerts_schema.POSTGRES))

# 8: who runs the blind index's rebuild (the SQLite schema's version 11, with the same meaning).
MIGRATIONS.append((8, "ALTER TABLE index_rebuild ADD COLUMN IF NOT EXISTS runner TEXT;"))

# 9: the dashboard's users and its screens' indexes (the SQLite schema's version 12, with the same meaning).
MIGRATIONS.append(
    (
        9,
        """
        CREATE TABLE IF NOT EXISTS users (
            name           TEXT PRIMARY KEY,
            role           TEXT NOT NULL,
            password_hash  TEXT NOT NULL,
            created_at     DOUBLE PRECISION NOT NULL,
            disabled_at    DOUBLE PRECISION,
            failed_logins  INTEGER NOT NULL DEFAULT 0,
            locked_until   DOUBLE PRECISION,
            last_login_at  DOUBLE PRECISION
        );
        CREATE INDEX IF NOT EXISTS messages_correlation ON messages(correlation_id) WHERE correlation_id IS NOT NULL;
        CREATE INDEX IF NOT EXISTS deliveries_delivered_at ON deliveries(delivered_at) WHERE delivered_at IS NOT NULL;
        """,
    )
)

# 10: indexes for the dashboard's screens on a big store (hub.store.console_schema says which serves what)
MIGRATIONS.append((console_schema.POSTGRES_VERSION, console_schema.POSTGRES))

# 11: which keys a rebuild moves (the SQLite schema's version 14, with the same meaning).
MIGRATIONS.append((11, "ALTER TABLE index_rebuild ADD COLUMN IF NOT EXISTS purpose TEXT NOT NULL DEFAULT 'index';"))

# 12: the SQLite schema's version 15 (hub.store.activity_schema), with the same meaning.
MIGRATIONS.append((activity_schema.POSTGRES_VERSION, activity_schema.POSTGRES))

# 13: the SQLite schema's version 16 (hub.store.pathway_board), with the same meaning.
MIGRATIONS.append((pathway_board.POSTGRES_VERSION, pathway_board.SCHEMA))

# 14: the SQLite schema's version 17 (hub.store.notice_schema), with the same meaning.
MIGRATIONS.append((notice_schema.POSTGRES_VERSION, notice_schema.POSTGRES))

# 15: the overview's counters per database session, so that two writers never wait for one counter row
# (hub.store.activity_schema.POSTGRES_WRITERS); PostgreSQL's alone (SQLite has one writer).
MIGRATIONS.append((activity_schema.POSTGRES_WRITERS_VERSION, activity_schema.POSTGRES_WRITERS))

LATEST = max(version for version, _ in MIGRATIONS)

_TRACKING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
)
# one lock per schema: two hubs in two schemas of one database do not wait for each other
_LOCK = "SELECT pg_advisory_lock(hashtext('hub.store.migrations:' || current_schema()))"
_UNLOCK = "SELECT pg_advisory_unlock(hashtext('hub.store.migrations:' || current_schema()))"
_APPLIED = "SELECT version FROM schema_migrations"
_TRACKED = "SELECT to_regclass('schema_migrations') IS NOT NULL"


def applied_version(conn: Any) -> int:
    """The highest version applied on the database ``conn`` (an autocommit psycopg connection); 0 when none."""
    if not conn.execute(_TRACKED).fetchone()[0]:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def schema_status(url: str) -> tuple[int, int]:
    """(applied version, latest version) of the database ``url`` names; nothing is changed."""
    with connect(url) as conn:
        return applied_version(conn), LATEST


def upgrade_schema(url: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Apply the pending migrations under the advisory lock; (version, latest) before and after."""
    with connect(url) as conn:
        before, now = migrate(conn)
    return (before, LATEST), (now, LATEST)


def migrate(conn: Any) -> tuple[int, int]:
    """Apply the pending migrations on ``conn`` (autocommit); return (version before, version now).

    Holds the migrations' advisory lock throughout, so concurrent callers apply each version once.
    A version that fails is rolled back whole and the error raised; the versions before it stay.
    """
    conn.execute(_LOCK)
    try:
        conn.execute(_TRACKING)
        done = {row[0] for row in conn.execute(_APPLIED)}
        before = max(done, default=0)
        for version, ddl in MIGRATIONS:
            if version in done:
                continue
            with conn.transaction():
                conn.execute(ddl)
                conn.execute("INSERT INTO schema_migrations VALUES (%s, %s)", (version, time.time()))
        return before, LATEST
    finally:
        conn.execute(_UNLOCK)
