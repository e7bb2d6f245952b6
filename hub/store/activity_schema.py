"""The dashboard's third migration (SQLite version 15, PostgreSQL version 12): what keeps the overview and the
per-partner, per-type screens fast whatever the store holds (``bench/dashboard_screens.py``; docs/performance.md).

- ``activity_minutes``: per whole minute (``floor(epoch seconds / 60)``), per ``kind`` (``accepted``: ``partner`` is
  the sender; ``delivered``: the recipient) and message type, how many. Kept in the same transaction as the write
  that counts: a message inserted (``accepted``); a delivery's ``delivered_at`` set or changed (``delivered``: each
  time a delivery is made, a delivery made again after a replay counts again). Filled from the store's rows when
  the migration runs. The overview reads an hour of it (on SQLite at most 60 rows per partner and type; on
  PostgreSQL that many per writing session, see below) instead of counting the hour's messages and deliveries.
  On PostgreSQL, triggers upsert both once per statement, grouped (transition tables). On SQLite a trigger counts
  ``delivered``; ``accepted`` is upserted by the store's intake once per group of intakes and key
  (``sqlite_sql.COUNT_ACCEPTED``): a per-row trigger there cost about 50 us of CPU per intake.
- ``deliveries.type`` and ``deliveries.received_at``: the message's type and time of receipt, copied on the
  delivery when it is inserted (the insert statements read them from the message) and filled for the rows there
  are; ``deliveries_partner_type`` walks a partner's deliveries of a type newest first (the search by partner and
  type, which otherwise walked every message of the type to find what a partner was sent), and
  ``deliveries_partner_received`` its deliveries of any type (the search by partner, which otherwise walked the
  newest messages checking each for a delivery to it: every message of a day, for a sender sent nothing).
- ``deliveries_dead`` and ``deliveries_dead_received``: the dead deliveries, oldest created first (the dead-letter
  listing) and newest received first (the search by state ``dead``); partial, so only dead rows are in them.

Nothing here holds personal data: counts, codes, partner names, ids and times.

PostgreSQL's version 15 (``POSTGRES_WRITERS``) keeps the counters per database session: ``writer`` is the
backend's process id (``pg_backend_pid()``), part of the key. With one row per minute, partner and type for
everyone, two processes' transactions that counted an accepted message and a delivery in opposite orders locked
the two rows in opposite orders and deadlocked (``bench/throughput.py --store postgresql --serve 2``: every
request of the warm-up refused with 503 within a second; ``tests/test_postgres_contention.py``). A session runs
one transaction at a time, so no two transactions ever wait for one counter row. Readers add the writers' rows
up (``console_queries.ACTIVITY``); the rows of one minute are as many as the sessions that wrote in it. The rows
counted before the migration keep ``writer`` 0; a row inserted without one gets the inserting session's.
"""

from __future__ import annotations

SQLITE_VERSION = 15
POSTGRES_VERSION = 12
POSTGRES_WRITERS_VERSION = 15

_UPSERT = "ON CONFLICT (kind, minute, partner, type) DO UPDATE SET count = activity_minutes.count + {added}"
_WRITERS_UPSERT = (
    "ON CONFLICT (kind, minute, partner, type, writer) DO UPDATE SET count = activity_minutes.count + EXCLUDED.count"
)

SQLITE = f"""
ALTER TABLE deliveries ADD COLUMN type TEXT;
ALTER TABLE deliveries ADD COLUMN received_at REAL;
UPDATE deliveries SET (type, received_at) =
    (SELECT m.type, m.received_at FROM messages m WHERE m.id = deliveries.record_id);
CREATE TABLE activity_minutes (
    kind     TEXT NOT NULL,
    minute   INTEGER NOT NULL,
    partner  TEXT NOT NULL,
    type     TEXT NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (kind, minute, partner, type)
) WITHOUT ROWID;
INSERT INTO activity_minutes SELECT 'accepted', CAST(received_at / 60 AS INTEGER), sender, type, count(*)
    FROM messages WHERE true GROUP BY 2, 3, 4;
INSERT INTO activity_minutes SELECT 'delivered', CAST(delivered_at / 60 AS INTEGER), partner, coalesce(type, ''),
    count(*) FROM deliveries WHERE delivered_at IS NOT NULL GROUP BY 2, 3, 4;
CREATE TRIGGER activity_delivered AFTER UPDATE OF delivered_at ON deliveries
WHEN NEW.delivered_at IS NOT NULL AND NEW.delivered_at IS NOT OLD.delivered_at BEGIN
    INSERT INTO activity_minutes VALUES ('delivered', CAST(NEW.delivered_at / 60 AS INTEGER), NEW.partner,
        coalesce(NEW.type, ''), 1)
    {_UPSERT.format(added=1)};
END;
CREATE INDEX deliveries_partner_type ON deliveries(partner, type, received_at, record_id);
CREATE INDEX deliveries_partner_received ON deliveries(partner, received_at, record_id);
CREATE INDEX deliveries_dead ON deliveries(created_at) WHERE state = 'dead';
CREATE INDEX deliveries_dead_received ON deliveries(received_at, record_id) WHERE state = 'dead';
ANALYZE;
"""

POSTGRES = f"""
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS type TEXT, ADD COLUMN IF NOT EXISTS received_at DOUBLE PRECISION;
UPDATE deliveries d SET type = m.type, received_at = m.received_at FROM messages m WHERE m.id = d.record_id;
CREATE TABLE IF NOT EXISTS activity_minutes (
    kind     TEXT NOT NULL,
    minute   BIGINT NOT NULL,
    partner  TEXT NOT NULL,
    type     TEXT NOT NULL,
    count    BIGINT NOT NULL,
    PRIMARY KEY (kind, minute, partner, type)
);
INSERT INTO activity_minutes SELECT 'accepted', floor(received_at / 60)::bigint, sender, type, count(*)
    FROM messages GROUP BY 2, 3, 4 {_UPSERT.format(added="EXCLUDED.count")};
INSERT INTO activity_minutes SELECT 'delivered', floor(delivered_at / 60)::bigint, partner, coalesce(type, ''),
    count(*) FROM deliveries WHERE delivered_at IS NOT NULL GROUP BY 2, 3, 4 {_UPSERT.format(added="EXCLUDED.count")};
CREATE OR REPLACE FUNCTION activity_accepted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO activity_minutes
    SELECT 'accepted', floor(received_at / 60)::bigint AS minute, sender, type, count(*) FROM added
    GROUP BY 2, 3, 4 ORDER BY 2, 3, 4 {_UPSERT.format(added="EXCLUDED.count")};
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION activity_delivered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO activity_minutes
    SELECT 'delivered', floor(n.delivered_at / 60)::bigint, n.partner, coalesce(n.type, ''), count(*)
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.delivered_at IS NOT NULL AND n.delivered_at IS DISTINCT FROM o.delivered_at
    GROUP BY 2, 3, 4 ORDER BY 2, 3, 4 {_UPSERT.format(added="EXCLUDED.count")};
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS activity_accepted ON messages;
CREATE TRIGGER activity_accepted AFTER INSERT ON messages REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION activity_accepted();
DROP TRIGGER IF EXISTS activity_delivered ON deliveries;
CREATE TRIGGER activity_delivered AFTER UPDATE ON deliveries REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION activity_delivered();
CREATE INDEX IF NOT EXISTS deliveries_partner_type ON deliveries(partner, type, received_at, record_id);
CREATE INDEX IF NOT EXISTS deliveries_partner_received ON deliveries(partner, received_at, record_id);
CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries(created_at) WHERE state = 'dead';
CREATE INDEX IF NOT EXISTS deliveries_dead_received ON deliveries(received_at, record_id) WHERE state = 'dead';
ANALYZE messages, deliveries, activity_minutes;
"""

POSTGRES_WRITERS = f"""
ALTER TABLE activity_minutes ADD COLUMN IF NOT EXISTS writer INTEGER NOT NULL DEFAULT 0;
ALTER TABLE activity_minutes ALTER COLUMN writer SET DEFAULT pg_backend_pid();
ALTER TABLE activity_minutes DROP CONSTRAINT IF EXISTS activity_minutes_pkey;
ALTER TABLE activity_minutes ADD CONSTRAINT activity_minutes_pkey PRIMARY KEY (kind, minute, partner, type, writer);
CREATE OR REPLACE FUNCTION activity_accepted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO activity_minutes (kind, minute, partner, type, writer, count)
    SELECT 'accepted', floor(received_at / 60)::bigint AS minute, sender, type, pg_backend_pid(), count(*)
    FROM added GROUP BY 2, 3, 4 {_WRITERS_UPSERT};
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION activity_delivered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO activity_minutes (kind, minute, partner, type, writer, count)
    SELECT 'delivered', floor(n.delivered_at / 60)::bigint, n.partner, coalesce(n.type, ''), pg_backend_pid(),
        count(*)
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.delivered_at IS NOT NULL AND n.delivered_at IS DISTINCT FROM o.delivered_at
    GROUP BY 2, 3, 4 {_WRITERS_UPSERT};
    RETURN NULL;
END $$;
"""
