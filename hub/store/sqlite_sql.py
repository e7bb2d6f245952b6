"""Every SQL statement the SQLite store runs, by name (the schema is in ``sqlite_schema.py``; the message reads'
statements, written once for both stores, are in ``message_queries.py``).

Statements with ``{marks}`` take a list of ``?`` placeholders (``marks(n)``).
Delivery states are written out as their stored values (``hub.store.records.DeliveryState``).
"""

from __future__ import annotations

from hub.store.notice_ops import INBOX_VISIBLE


def marks(n: int) -> str:
    """``n`` comma-separated placeholders."""
    return ",".join("?" * n)


# -- intake ----------------------------------------------------------------------------------
FIND_BY_MESSAGE_ID = "SELECT id, fingerprint FROM messages WHERE sender=? AND message_id=?"
FIND_BY_IDEMPOTENCY_KEY = "SELECT id, fingerprint FROM messages WHERE sender=? AND idempotency_key=?"
INSERT_MESSAGE = (
    "INSERT INTO messages (id, message_id, sender, type, correlation_id, in_reply_to, parent_id, "
    "idempotency_key, fingerprint, received_at, body_codec, body, kek_id, data_key, nhs_index, status, status_at, "
    "answers_record) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
# a delivery carries its message's type and time of receipt (hub.store.activity_schema), read from the message
INSERT_DELIVERY = (
    "INSERT INTO deliveries (id, record_id, partner, route, mode, state, attempts, due_at, created_at, type, "
    "received_at) SELECT d.*, m.type, m.received_at FROM (SELECT ? AS id, ? AS record_id, ?, ?, ?, ?, 0, ?, ?) AS d "
    "LEFT JOIN messages m ON m.id = d.record_id"
)
# an ordered delivery (an order_key) comes after every delivery of its key stored before it: its
# order_seq is one more than the key's last. SQLite serialises write transactions, so this is the
# commit order. (Not a sequence's nextval in PostgreSQL: values handed out before commit can commit
# in the other order; take max+1 under a transaction lock on the key instead.)
INSERT_ORDERED_DELIVERY = (
    "INSERT INTO deliveries (id, record_id, partner, route, mode, state, attempts, due_at, created_at, "
    "order_key, order_seq, type, received_at) SELECT d.*, m.type, m.received_at FROM (SELECT ? AS id, "
    "? AS record_id, ?, ?, ?, ?, 0, ?, ?, ?, (SELECT coalesce(max(order_seq), 0) + 1 FROM deliveries "
    "WHERE order_key=?)) AS d LEFT JOIN messages m ON m.id = d.record_id"
)
# an acknowledgement moves any delivery but a dead one
ACKNOWLEDGE_DELIVERY = (
    "UPDATE deliveries SET state=?, acknowledged_at=? WHERE id=? "
    "AND state IN ('pending','in_flight','available','delivered','acknowledged','rejected') "
    "RETURNING record_id, partner"
)
# the overview's per-minute counters (activity_schema): (minute, sender, type, how many) per key of a group of intakes
COUNT_ACCEPTED = (
    "INSERT INTO activity_minutes VALUES ('accepted', ?, ?, ?, ?) ON CONFLICT (kind, minute, partner, type) "
    "DO UPDATE SET count = activity_minutes.count + excluded.count"
)
INSERT_INDEX_ENTRY = "INSERT OR IGNORE INTO message_index (partner, nhs_index, record_id) VALUES (?,?,?)"

# -- the audit log ---------------------------------------------------------------------------
CHAIN_HEAD = "SELECT hash FROM events ORDER BY seq DESC LIMIT 1"
INSERT_EVENT = (
    "INSERT INTO events (record_id, delivery_id, partner, at, kind, detail, actor, prev_hash, hash) "
    "VALUES (?,?,?,?,?,?,?,?,?)"
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
# The claim walks the due pending deliveries oldest due first (PENDING_DUE, read row by row until
# it has enough, or has walked CLAIM_WALK_ROWS), takes those not held back, and parks the held-back
# ones it walked past (PARK): their due_at moves to the latest due_at of their waiting elders (a
# retry's time, a lease's end; now, if that has passed), so the next claims do not walk them again
# while their elders cannot have finished, and walk past them to their elders. An
# elder's outcome wakes the next delivery of its key at once (WAKE_NEXT); a wake that never came
# only costs time: a parked delivery is due again when its elders' time is up, and is held back
# or taken then. Expired leases (EXPIRED_DUE) are taken the same way, held back by a waiting elder.
_WAITING_ELDERS = (
    "FROM deliveries elder WHERE elder.order_key=d.order_key AND elder.order_seq<d.order_seq "
    "AND elder.state IN ('pending','in_flight')"
)
PENDING_DUE = (
    f"SELECT d.id, d.due_at, (SELECT max(elder.due_at) {_WAITING_ELDERS}) AS held_until "
    "FROM deliveries d WHERE d.state='pending' AND d.due_at<=? ORDER BY d.due_at"
)
EXPIRED_DUE = (
    f"SELECT d.id, d.due_at FROM deliveries d WHERE d.state='in_flight' AND d.due_at<=? "
    f"AND NOT EXISTS (SELECT 1 {_WAITING_ELDERS}) ORDER BY d.due_at LIMIT ?"
)
LEASE = (
    "UPDATE deliveries SET state='in_flight', attempts=attempts+1, due_at=?, lease_id=? "
    "WHERE id IN ({marks}) RETURNING id, record_id, partner, attempts, order_key, order_seq"
)
PARK = "UPDATE deliveries SET due_at=? WHERE id=? AND state='pending'"
# the next delivery of a finished (delivered or dead) delivery's key, if parked, is due at once
WAKE_NEXT = (
    "UPDATE deliveries SET due_at=:at WHERE id=(SELECT next.id FROM deliveries done JOIN deliveries next "
    "ON next.order_key=done.order_key AND next.order_seq>done.order_seq "
    "WHERE done.id=:delivery_id AND next.state='pending' ORDER BY next.order_seq LIMIT 1) AND due_at>:at"
)
# the dead elders an ordered delivery goes out before (claimed for the first time): each is warned of
DEAD_ELDERS = "SELECT id FROM deliveries WHERE order_key=? AND order_seq<? AND state='dead' ORDER BY order_seq"
CLAIMED_BODIES = (
    "SELECT id, message_id, sender, type, body_codec, body, kek_id, data_key, received_at "
    "FROM messages WHERE id IN ({marks})"
)
DEAD_UNREADABLE = "UPDATE deliveries SET state='dead', due_at=NULL, last_error=? WHERE id=?"
# a lease is only ever lengthened; rows changed are the leases still held
EXTEND_LEASE = "UPDATE deliveries SET due_at=max(due_at, ?) WHERE id=? AND lease_id=? AND state='in_flight'"
# an acknowledgement can overtake the transport's answer: keep its state then
# an outcome's update returns the delivery's order key (a row only when it changed): only an ordered
# delivery's end can wake a next one (WAKE_NEXT), so an unordered one costs one statement, not two
RECORD_DELIVERED = (
    "UPDATE deliveries SET state=CASE WHEN state='in_flight' THEN 'delivered' ELSE state END, "
    "delivered_at=coalesce(delivered_at, ?), due_at=NULL, last_error=NULL, "
    "receipt=coalesce(?, receipt) "
    "WHERE id=? AND lease_id=? AND state IN ('in_flight', 'acknowledged', 'rejected') RETURNING order_key"
)
RECORD_RETRY = (
    "UPDATE deliveries SET state='pending', due_at=?, last_error=? WHERE id=? AND lease_id=? AND state='in_flight' "
    "RETURNING order_key"
)
RECORD_DEAD = (
    "UPDATE deliveries SET state='dead', due_at=NULL, last_error=? WHERE id=? AND lease_id=? AND state='in_flight' "
    "RETURNING order_key"
)
ALL_DEAD = "SELECT id, record_id, partner FROM deliveries WHERE state='dead'"
DEAD_BY_ID = "SELECT id, record_id, partner FROM deliveries WHERE state='dead' AND (id=? OR record_id=?)"
REPLAY = "UPDATE deliveries SET state='pending', attempts=0, due_at=? WHERE id=?"
ACK_INBOX = (
    "UPDATE deliveries SET state='delivered', delivered_at=?, attempts=attempts+1 "
    f"WHERE id=? AND partner=? AND state='available' AND {INBOX_VISIBLE.replace('d.', 'deliveries.')} "
    "RETURNING record_id"
)

# -- upkeep (its statements, written once for both stores, are in ``upkeep_backend.py``) ---------------
CHECKPOINT = "PRAGMA wal_checkpoint(TRUNCATE)"
