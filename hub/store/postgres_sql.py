"""Every SQL statement the PostgreSQL store runs, by name (the schema is in ``postgres_schema.py``; the message
reads' statements, written once for both stores, are in ``message_queries.py``).

The statements mirror ``sqlite_sql.py`` one for one where they can; lists are passed as one
array parameter (``= ANY(%s)``) instead of a run of placeholders. Delivery states are written
out as their stored values (``hub.store.records.DeliveryState``).
"""

from __future__ import annotations

from hub.store.notice_ops import INBOX_VISIBLE

#: the channel a transaction that makes deliveries due notifies (``PostgresStore.watch`` listens)
DUE_CHANNEL = "hub_deliveries_due"
NOTIFY_DUE = f"SELECT pg_notify('{DUE_CHANNEL}', '')"
LISTEN_DUE = f"LISTEN {DUE_CHANNEL}"

# -- intake ----------------------------------------------------------------------------------
# the stored message this one repeats: by message id first, else by idempotency key (one round trip)
FIND_EXISTING = (
    "SELECT id, fingerprint, CASE rank WHEN 0 THEN 'message_id' ELSE 'Idempotency-Key' END FROM ("
    "SELECT id, fingerprint, 0 AS rank FROM messages WHERE sender=%s AND message_id=%s UNION ALL "
    "SELECT id, fingerprint, 1 FROM messages WHERE sender=%s AND idempotency_key=%s) found ORDER BY rank LIMIT 1"
)
# the same for every message of a group at once: (senders, message ids, senders, idempotency keys) as arrays
LOOK_UP_EXISTING = (
    "SELECT sender, message_id, idempotency_key, id, fingerprint FROM messages "
    "WHERE (sender, message_id) IN (SELECT * FROM unnest(%s::text[], %s::text[])) UNION "
    "SELECT sender, message_id, idempotency_key, id, fingerprint FROM messages "
    "WHERE (sender, idempotency_key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
)
# inserts take one array per column (``unnest``), so a group's rows of a table go in one statement
INSERT_MESSAGES = (
    "INSERT INTO messages (id, message_id, sender, type, correlation_id, in_reply_to, parent_id, "
    "idempotency_key, fingerprint, received_at, body_codec, body, kek_id, data_key, nhs_index, status, status_at, "
    "answers_record) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::text[], %s::text[], %s::float8[], %s::text[], %s::bytea[], %s::text[], %s::bytea[], %s::text[], "
    "%s::text[], %s::float8[], %s::text[])"
)
INSERT_DELIVERIES = (
    "INSERT INTO deliveries (id, record_id, partner, route, mode, state, attempts, due_at, created_at, type, "
    "received_at) SELECT d.id, d.record_id, d.partner, d.route, d.mode, d.state, 0, d.due_at, d.created_at, m.type, "
    "m.received_at FROM "
    "unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::float8[], %s::float8[]) "
    "AS d(id, record_id, partner, route, mode, state, due_at, created_at) LEFT JOIN messages m ON m.id = d.record_id"
)
# An ordered delivery (an order_key) comes after every delivery of its key committed before it: its
# order_seq is one more than the key's last. Not a sequence's nextval, which can commit in another
# order than it was taken: each writer first takes a transaction-level advisory lock on every key it
# writes (LOCK_ORDER_KEYS, held until its commit, taken in one order so that two writers never wait
# for each other the wrong way round), then numbers in a statement of its own, whose snapshot sees
# every commit of the key made before the lock was granted. Several deliveries of one key in one
# statement (a group's intakes, in acceptance order: WITH ORDINALITY) take consecutive numbers.
LOCK_ORDER_KEYS = (
    "SELECT count(pg_advisory_xact_lock(h)) FROM "
    "(SELECT DISTINCT hashtext(k) AS h FROM unnest(%s::text[]) AS k ORDER BY 1) AS keys"
)
INSERT_ORDERED_DELIVERIES = (
    "INSERT INTO deliveries (id, record_id, partner, route, mode, state, attempts, due_at, created_at, "
    "order_key, order_seq, type, received_at) "
    "SELECT d.id, d.record_id, d.partner, d.route, d.mode, d.state, 0, d.due_at, d.created_at, d.order_key, "
    "coalesce((SELECT max(o.order_seq) FROM deliveries o WHERE o.order_key=d.order_key), 0) "
    "+ row_number() OVER (PARTITION BY d.order_key ORDER BY d.n), "
    "(SELECT m.type FROM messages m WHERE m.id = d.record_id), "
    "(SELECT m.received_at FROM messages m WHERE m.id = d.record_id) FROM "
    "unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::float8[], %s::float8[], "
    "%s::text[]) WITH ORDINALITY AS d(id, record_id, partner, route, mode, state, due_at, created_at, order_key, n)"
)
# an acknowledgement moves any delivery but a dead one
ACKNOWLEDGE_DELIVERY = (
    "UPDATE deliveries SET state=%s, acknowledged_at=%s WHERE id=%s "
    "AND state IN ('pending','in_flight','available','delivered','acknowledged','rejected') "
    "RETURNING record_id, partner"
)
INSERT_INDEX_ENTRIES = (
    "INSERT INTO message_index (partner, nhs_index, record_id) SELECT * FROM "
    "unnest(%s::text[], %s::text[], %s::text[]) ON CONFLICT DO NOTHING"
)

# -- the audit log: the head row is locked until the transaction commits ----------------------
LOCK_CHAIN_HEAD = "SELECT hash FROM audit_head WHERE id=1 FOR UPDATE"
SET_CHAIN_HEAD = "UPDATE audit_head SET hash=%s WHERE id=1"
# every event of a group in one statement: one array per column (events_columns)
INSERT_EVENTS = (
    "INSERT INTO events (record_id, delivery_id, partner, at, kind, detail, actor, prev_hash, hash) SELECT * FROM "
    "unnest(%s::text[], %s::text[], %s::text[], %s::float8[], %s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::text[])"
)
CHAIN_ROWS = (
    "SELECT seq, prev_hash, hash, record_id, delivery_id, partner, at, kind, detail, actor FROM events ORDER BY seq"
)

# -- delivery --------------------------------------------------------------------------------
# Claiming. Due: pending and due, or in flight with its lease run out. An ordered delivery (an
# order_key) is held back while a delivery of its key accepted before it (smaller order_seq, an
# "elder") is still waiting (pending: a retry waiting out its back-off, or in flight), so one key
# never has two out at once and never one before its elders; a dead or finished elder holds
# nothing back. An unordered delivery's key is NULL, which equals nothing: it has no elders.
#
# As on SQLite (sqlite_sql.py says more), the claim walks the due pending deliveries oldest due
# first (PENDING_DUE, a server-side cursor read in chunks until it has enough, or has walked
# CLAIM_WALK_ROWS), takes those not held back, parks the held-back ones it walked past (PARK), and
# takes expired leases nothing holds back (EXPIRED_DUE); an elder's end wakes the next of its key
# (WAKE_NEXT). What is PostgreSQL's: several processes claim at once.
# - Rows are locked as walked, FOR UPDATE SKIP LOCKED: rows another claim (or an outcome) holds are
#   skipped, never waited for; a row changed since the walk's snapshot is re-read and taken only if
#   it is still due (so two claims never lease one delivery).
# - The elder check reads committed state. An elder another process is claiming right now is still
#   pending to it, so its later ones are held back; one leased (committed) is in flight. So a key's
#   next delivery is never handed out while its elder is out, by this process or any other. A key's
#   deliveries not held back are at most one (its eldest still waiting), so one claim never takes
#   two of one key either.
# - PARK runs as a statement of its own, with a fresh snapshot, on the rows the walk locked, and
#   parks only those still held back then: an elder that ended after the walk's snapshot parks
#   nothing. An outcome's WAKE_NEXT updates the next row whatever its due_at (least(due_at, now)):
#   a condition on due_at would be judged on the outcome's snapshot, where a park not yet committed
#   is not seen, and the row would be passed over and stay parked. Without one, a row a claim has
#   locked is waited for, and woken after that claim's commit.
NO_JIT = "SET LOCAL jit = off"
_WAITING_ELDERS = (
    "FROM deliveries elder WHERE elder.order_key=d.order_key AND elder.order_seq<d.order_seq "
    "AND elder.state IN ('pending','in_flight')"
)
PENDING_DUE = (
    f"SELECT d.id, d.due_at, (SELECT max(elder.due_at) {_WAITING_ELDERS}) AS held_until "
    "FROM deliveries d WHERE d.state='pending' AND d.due_at<=%s ORDER BY d.due_at FOR UPDATE OF d SKIP LOCKED"
)
EXPIRED_DUE = (
    f"SELECT d.id, d.due_at FROM deliveries d WHERE d.state='in_flight' AND d.due_at<=%s "
    f"AND NOT EXISTS (SELECT 1 {_WAITING_ELDERS}) ORDER BY d.due_at LIMIT %s FOR UPDATE OF d SKIP LOCKED"
)
LEASE = (
    "UPDATE deliveries SET state='in_flight', attempts=attempts+1, due_at=%s, lease_id=%s "
    "WHERE id = ANY(%s) RETURNING id, record_id, partner, attempts, order_key, order_seq"
)
# (now, ids): each parked until its waiting elders' latest due time, no earlier than now
PARK = (
    f"UPDATE deliveries d SET due_at=greatest(%s, (SELECT max(elder.due_at) {_WAITING_ELDERS})) "
    f"WHERE d.id = ANY(%s) AND d.state='pending' AND EXISTS (SELECT 1 {_WAITING_ELDERS})"
)
# the next delivery of each finished (delivered, dead or acknowledged) delivery's key (ids, and the time each
# ended), if parked, is due at once, all in one statement (one round trip for a group of outcomes); an id comes
# back for each key with one still pending (parked or not: it may go now), so that the transaction wakes the other
# processes' idle workers (NOTIFY); two ends of one key wake its next at the earlier of their times
WAKE_NEXT = (
    "WITH done AS (SELECT d.order_key, d.order_seq, u.at FROM unnest(%s::text[], %s::float8[]) AS u(id, at) "
    "JOIN deliveries d ON d.id=u.id WHERE d.order_key IS NOT NULL), "
    "later AS (SELECT nxt.id, min(done.at) AS at FROM done CROSS JOIN LATERAL (SELECT l.id FROM deliveries l "
    "WHERE l.order_key=done.order_key AND l.order_seq>done.order_seq AND l.state='pending' "
    "ORDER BY l.order_seq LIMIT 1) AS nxt GROUP BY nxt.id), "
    "woken AS (UPDATE deliveries w SET due_at=least(w.due_at, later.at) FROM later "
    "WHERE w.id=later.id AND w.state='pending') "
    "SELECT id FROM later"
)
# the dead elders each of the claimed deliveries (ids) goes out before, oldest first
DEAD_ELDERS = (
    "SELECT c.id, elder.id FROM deliveries c JOIN deliveries elder ON elder.order_key=c.order_key "
    "AND elder.order_seq<c.order_seq AND elder.state='dead' WHERE c.id = ANY(%s) ORDER BY c.id, elder.order_seq"
)
CLAIMED_BODIES = (
    "SELECT id, message_id, sender, type, body_codec, body, kek_id, data_key, received_at "
    "FROM messages WHERE id = ANY(%s)"
)
DEAD_UNREADABLE = "UPDATE deliveries SET state='dead', due_at=NULL, last_error=%s WHERE id=%s"
# a lease is only ever lengthened; rows changed are the leases still held
EXTEND_LEASE = "UPDATE deliveries SET due_at=greatest(due_at, %s) WHERE id=%s AND lease_id=%s AND state='in_flight'"
# the delivered outcomes of a group in one statement (one array per column); each row returned is one
# that changed, with its order key: only an ordered delivery's end can wake a next one (WAKE_NEXT); an
# acknowledgement can overtake the transport's answer: keep its state then
RECORD_DELIVERED_MANY = (
    "UPDATE deliveries d SET state=CASE WHEN d.state='in_flight' THEN 'delivered' ELSE d.state END, "
    "delivered_at=coalesce(d.delivered_at, u.at), due_at=NULL, last_error=NULL, "
    "receipt=coalesce(u.receipt, d.receipt) "
    "FROM unnest(%s::text[], %s::text[], %s::float8[], %s::text[]) AS u(id, lease_id, at, receipt) "
    "WHERE d.id=u.id AND d.lease_id=u.lease_id AND d.state IN ('in_flight', 'acknowledged', 'rejected') "
    "RETURNING d.id, d.lease_id, d.order_key"
)
RECORD_RETRY = (
    "UPDATE deliveries SET state='pending', due_at=%s, last_error=%s WHERE id=%s AND lease_id=%s AND state='in_flight' "
    "RETURNING order_key"
)
RECORD_DEAD = (
    "UPDATE deliveries SET state='dead', due_at=NULL, last_error=%s WHERE id=%s AND lease_id=%s AND state='in_flight' "
    "RETURNING order_key"
)
ALL_DEAD = "SELECT id, record_id, partner FROM deliveries WHERE state='dead' ORDER BY created_at, id FOR UPDATE"
DEAD_BY_ID = (
    "SELECT id, record_id, partner FROM deliveries WHERE state='dead' AND (id=%s OR record_id=%s) "
    "ORDER BY created_at, id FOR UPDATE"
)
REPLAY = "UPDATE deliveries SET state='pending', attempts=0, due_at=%s WHERE id=%s"
ACK_INBOX = (
    "UPDATE deliveries SET state='delivered', delivered_at=%s, attempts=attempts+1 "
    f"WHERE id=%s AND partner=%s AND state='available' AND {INBOX_VISIBLE.replace('d.', 'deliveries.')} "
    "RETURNING record_id"
)

# -- upkeep (its statements, written once for both stores, are in ``upkeep_backend.py``) ---------------
# what shredding and delivery leave behind: dead row versions (run outside a transaction)
VACUUM = "VACUUM (ANALYZE) messages, message_index, deliveries, upgrade_pending"
