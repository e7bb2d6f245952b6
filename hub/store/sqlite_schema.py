"""Schema migrations for the SQLite store, applied in order at open."""

from __future__ import annotations

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

# the partner's reference for a delivered message (DeliveryOutcome.receipt); not personal data
MIGRATIONS.append((3, "ALTER TABLE deliveries ADD COLUMN receipt TEXT"))
