"""Schema migrations for the SQLite store, applied in order at open."""

from __future__ import annotations

from hub.store import activity_schema, alerts_schema, console_schema, notice_schema, pathway_board

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE messages (
            id             TEXT PRIMARY KEY,
            message_id     TEXT NOT NULL,
            sender         TEXT NOT NULL,
            type           TEXT NOT NULL,
            correlation_id TEXT,
            in_reply_to    TEXT,
            parent_id      TEXT REFERENCES messages(id),
            idempotency_key TEXT,
            fingerprint    TEXT,
            received_at    REAL NOT NULL,
            body_codec     TEXT NOT NULL,
            body           BLOB
        );
        CREATE UNIQUE INDEX messages_sender_message_id ON messages(sender, message_id);
        CREATE UNIQUE INDEX messages_sender_idempotency_key ON messages(sender, idempotency_key)
            WHERE idempotency_key IS NOT NULL;
        CREATE INDEX messages_parent ON messages(parent_id) WHERE parent_id IS NOT NULL;
        CREATE INDEX messages_received ON messages(received_at);
        CREATE INDEX messages_message_id ON messages(message_id);

        CREATE TABLE deliveries (
            id            TEXT PRIMARY KEY,
            record_id     TEXT NOT NULL REFERENCES messages(id),
            partner       TEXT NOT NULL,
            route         TEXT NOT NULL,
            mode          TEXT NOT NULL,
            state         TEXT NOT NULL,
            attempts      INTEGER NOT NULL DEFAULT 0,
            due_at        REAL,
            lease_id      TEXT,
            last_error    TEXT,
            created_at    REAL NOT NULL,
            delivered_at  REAL,
            acknowledged_at REAL,
            UNIQUE (record_id, partner)
        );
        CREATE INDEX deliveries_due ON deliveries(state, due_at);
        CREATE INDEX deliveries_partner_state ON deliveries(partner, state);

        CREATE TABLE events (
            seq          INTEGER PRIMARY KEY AUTOINCREMENT,
            record_id    TEXT NOT NULL,
            delivery_id  TEXT,
            partner      TEXT,
            at           REAL NOT NULL,
            kind         TEXT NOT NULL,
            detail       TEXT
        );
        CREATE INDEX events_record ON events(record_id, seq);
        """,
    ),
]

MIGRATIONS.append(
    (
        2,
        """
        ALTER TABLE messages ADD COLUMN kek_id TEXT;
        ALTER TABLE messages ADD COLUMN data_key BLOB;
        ALTER TABLE messages ADD COLUMN nhs_index TEXT;
        ALTER TABLE messages ADD COLUMN shredded_at REAL;
        CREATE INDEX messages_nhs_index ON messages(nhs_index) WHERE nhs_index IS NOT NULL;
        CREATE INDEX messages_kek ON messages(kek_id) WHERE kek_id IS NOT NULL;
        ALTER TABLE events ADD COLUMN actor TEXT;
        ALTER TABLE events ADD COLUMN prev_hash TEXT;
        ALTER TABLE events ADD COLUMN hash TEXT;
        """,
    )
)

# 3: NHS-number search entries per (partner, blind index), and keyed fingerprints.
# A partner's search reads only its own entries, so its work never depends on other
# partners' messages; a recipient has an entry only when its minimised copy carried
# the NHS number. The senders' entries can be written here. Recipients' entries and
# the re-keying of the old unkeyed fingerprints need the keys and the agreements, so
# this migration lists them in upgrade_pending and the hub finishes them when it
# starts with its keys (SQLiteStore.complete_upgrades); until then a recipient finds
# nothing it could not find before by the rules above. Shredded messages lose their
# fingerprint (and had no index value left).
MIGRATIONS.append(
    (
        3,
        """
        CREATE TABLE message_index (
            partner    TEXT NOT NULL,
            nhs_index  TEXT NOT NULL,
            record_id  TEXT NOT NULL REFERENCES messages(id),
            PRIMARY KEY (partner, nhs_index, record_id)
        ) WITHOUT ROWID;
        CREATE INDEX message_index_record ON message_index(record_id);
        INSERT OR IGNORE INTO message_index (partner, nhs_index, record_id)
            SELECT sender, nhs_index, id FROM messages WHERE nhs_index IS NOT NULL;

        CREATE TABLE upgrade_pending (
            task       TEXT NOT NULL,
            record_id  TEXT NOT NULL,
            partner    TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (task, record_id, partner)
        ) WITHOUT ROWID;
        INSERT OR IGNORE INTO upgrade_pending (task, record_id, partner)
            SELECT 'recipient_index', d.record_id, d.partner FROM deliveries d
            JOIN messages m ON m.id = d.record_id WHERE m.nhs_index IS NOT NULL;
        INSERT OR IGNORE INTO upgrade_pending (task, record_id)
            SELECT 'fingerprint', id FROM messages WHERE fingerprint IS NOT NULL AND shredded_at IS NULL;
        UPDATE messages SET fingerprint = NULL WHERE shredded_at IS NOT NULL;
        """,
    )
)

# the partner's reference for a delivered message (DeliveryOutcome.receipt); not personal data
MIGRATIONS.append((4, "ALTER TABLE deliveries ADD COLUMN receipt TEXT"))

# 5: order where it matters. A delivery of a route that asks for order (routes.toml ``order``) carries
# an ``order_key`` (a digest of its partner and the message's correlation id, never a value in clear)
# and ``order_seq``, its place in the acceptance order among the deliveries of that key (1, 2, 3...,
# assigned when it is stored). ``claim`` hands a delivery out only when no delivery of its key with a
# smaller ``order_seq`` is still pending or in flight; the index answers that question, and "what is
# the last ``order_seq`` of this key", each with one seek. Deliveries stored before this migration
# have no key: they were never ordered and are not now.
MIGRATIONS.append(
    (
        5,
        """
        ALTER TABLE deliveries ADD COLUMN order_key TEXT;
        ALTER TABLE deliveries ADD COLUMN order_seq INTEGER;
        CREATE INDEX deliveries_order ON deliveries(order_key, order_seq) WHERE order_key IS NOT NULL;
        """,
    )
)

# 6: the care pathway (hub/pathway, hub/store/pathway_ops.py). A milestone is opened by a stored message and
# kept until it is met, late, breached or cancelled; each has a ``due`` timer and maybe a ``remind`` timer, which
# fire once (a conditional update); ``sync`` is what an external scheduler has still to be told (``schedule``,
# ``cancel``), retried from ``sync_next_at``. ``pathway_cursor`` is the last event the pathway read: it starts at
# the last event stored before the migration, so that older messages open no milestone.
MIGRATIONS.append(
    (
        6,
        """
        CREATE TABLE pathway_milestones (
            id             TEXT PRIMARY KEY,
            name           TEXT NOT NULL,
            partner        TEXT NOT NULL,
            start_record   TEXT NOT NULL,
            correlation_id TEXT,
            nhs_index      TEXT,
            state          TEXT NOT NULL,
            opened_at      REAL NOT NULL,
            due_at         REAL NOT NULL,
            remind_at      REAL,
            reminded_at    REAL,
            breached_at    REAL,
            closed_at      REAL,
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
            due_at        REAL NOT NULL,
            state         TEXT NOT NULL,
            fired_at      REAL,
            fired_by      TEXT,
            notice_record TEXT,
            sync          TEXT,
            sync_attempts INTEGER NOT NULL DEFAULT 0,
            sync_next_at  REAL,
            sync_error    TEXT
        );
        CREATE INDEX pathway_timers_due ON pathway_timers(state, due_at);
        CREATE INDEX pathway_timers_milestone ON pathway_timers(milestone_id);
        CREATE INDEX pathway_timers_sync ON pathway_timers(sync) WHERE sync IS NOT NULL;
        CREATE TABLE pathway_closures (
            correlation_id TEXT PRIMARY KEY,
            reason         TEXT NOT NULL,
            at             REAL NOT NULL,
            actor          TEXT,
            record_id      TEXT
        );
        CREATE TABLE pathway_cursor (
            name TEXT PRIMARY KEY,
            seq  INTEGER NOT NULL
        );
        -- the pathway starts from now: messages stored before it existed open no milestone
        INSERT INTO pathway_cursor (name, seq) SELECT 'events', COALESCE(MAX(seq), 0) FROM events;
        """,
    )
)

# 7: the rebuild of the blind index under a new index key (hub.store.index_rebuild): one row per
# rotation, naming the two key ids (ids from the key ring, never key material), the phase, the
# cursor (the last record id done) and the counts. Nothing else changes: a message's search entries
# are re-written in place, so a record is under exactly one key at any moment.
MIGRATIONS.append(
    (
        7,
        """
        CREATE TABLE IF NOT EXISTS index_rebuild (
            new_key_id  TEXT PRIMARY KEY,
            old_key_id  TEXT NOT NULL,
            started_at  REAL NOT NULL,
            phase       TEXT NOT NULL CHECK (phase IN ('scan', 'recent', 'finished')),
            cursor      TEXT NOT NULL,
            total       INTEGER NOT NULL,
            done        INTEGER NOT NULL,
            lost        INTEGER NOT NULL,
            finished_at REAL,
            actor       TEXT NOT NULL
        );
        """,
    )
)

# 8: a business status in clear, for types that declare one (MessageType.status): the status code
# (an enumerated code such as a council's ``relief_duty``, never free text) and the time the sender
# says it was reached. They let plugins count and time statuses (``ReadModel.status_replies``) without
# decrypting a body. Messages stored before have none: their bodies are not read to fill them in.
MIGRATIONS.append(
    (
        8,
        """
        ALTER TABLE messages ADD COLUMN status TEXT;
        ALTER TABLE messages ADD COLUMN status_at REAL;
        CREATE INDEX messages_status_replies ON messages(sender, in_reply_to) WHERE status IS NOT NULL;
        """,
    )
)

# 9: the record a reply answers (``answers_record``), as intake resolved it from ``in_reply_to``, the replier
# and the recipient it named: a message_id is unique per sender only, so two senders' messages delivered to one
# partner can share it, and a reply must count for the one it answers (``ReadModel.status_replies``). Status
# replies stored before are given it when exactly one message delivered to their sender has that id; the others
# (ambiguous) keep none and are left out of the statuses rather than counted for both.
MIGRATIONS.append(
    (
        9,
        """
        ALTER TABLE messages ADD COLUMN answers_record TEXT;
        UPDATE messages SET answers_record = (
            SELECT t.id FROM messages t JOIN deliveries d ON d.record_id = t.id
            WHERE t.message_id = messages.in_reply_to AND d.partner = messages.sender)
        WHERE status IS NOT NULL AND in_reply_to IS NOT NULL AND (
            SELECT count(DISTINCT t.id) FROM messages t JOIN deliveries d ON d.record_id = t.id
            WHERE t.message_id = messages.in_reply_to AND d.partner = messages.sender) = 1;
        CREATE INDEX messages_status_answers ON messages(answers_record, sender) WHERE status IS NOT NULL;
        """,
    )
)

# 10: alerts (hub.store.alerts_schema says what each table holds)
MIGRATIONS.append((alerts_schema.SQLITE_VERSION, alerts_schema.SQLITE))

# 11: who runs the blind index's rebuild (``index_rebuild.runner``, hub.store.index_rebuild): the process that
# last took the rebuild's lock; NULL until one has. Running hubs finish a rebuild some process began running.
MIGRATIONS.append((11, "ALTER TABLE index_rebuild ADD COLUMN runner TEXT;"))

# 12: the operator dashboard's users (``hub users``, ``ports_console.UserStore``): an argon2 hash, never a
# password, and the failed logins in a row with the lock they earned; and indexes for its screens: messages by
# correlation id (the search), deliveries by the time they were delivered (the overview's last hour).
MIGRATIONS.append(
    (
        12,
        """
        CREATE TABLE users (
            name           TEXT PRIMARY KEY,
            role           TEXT NOT NULL,
            password_hash  TEXT NOT NULL,
            created_at     REAL NOT NULL,
            disabled_at    REAL,
            failed_logins  INTEGER NOT NULL DEFAULT 0,
            locked_until   REAL,
            last_login_at  REAL
        );
        CREATE INDEX messages_correlation ON messages(correlation_id) WHERE correlation_id IS NOT NULL;
        CREATE INDEX deliveries_delivered_at ON deliveries(delivered_at) WHERE delivered_at IS NOT NULL;
        """,
    )
)

# 13: indexes for the dashboard's screens on a big store (hub.store.console_schema says which serves what)
MIGRATIONS.append((console_schema.SQLITE_VERSION, console_schema.SQLITE))

# 14: the rebuild's row says which keys it moves (``hub.store.index_rebuild.Rekeying``): the blind index's, or the
# keyed fingerprints' (``hub keys rotate-fingerprint``). Rows written before it are the blind index's.
MIGRATIONS.append((14, "ALTER TABLE index_rebuild ADD COLUMN purpose TEXT NOT NULL DEFAULT 'index';"))

# 15: per-minute counters for the overview, the message's type and time on its deliveries, the dead deliveries'
# indexes (hub.store.activity_schema says which serves what)
MIGRATIONS.append((activity_schema.SQLITE_VERSION, activity_schema.SQLITE))

# 16: the pathway boards' indexes (hub.store.pathway_board)
MIGRATIONS.append((pathway_board.SQLITE_VERSION, pathway_board.SCHEMA))

# 17: a delivery carrying a pathway notice names its timer (hub.store.notice_schema)
MIGRATIONS.append((notice_schema.SQLITE_VERSION, notice_schema.SQLITE))
