"""Every SQL statement the SQLite store runs, by name (the schema is in ``sqlite_schema.py``).

Statements with ``{marks}`` take a list of ``?`` placeholders (``marks(n)``); ``{skip}`` likewise.
Delivery states are written out as their stored values (``hub.store.records.DeliveryState``).
"""

from __future__ import annotations

from hub.store import console_queries
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
INBOX = (
    "SELECT d.id, d.record_id, m.message_id, d.partner, d.attempts, m.type, m.sender, "
    "m.body_codec, m.body, m.kek_id, m.data_key, "
    "m.received_at FROM deliveries d JOIN messages m ON m.id=d.record_id "
    f"WHERE d.partner=? AND d.state='available' AND {INBOX_VISIBLE} ORDER BY d.created_at LIMIT ?"
)
ACK_INBOX = (
    "UPDATE deliveries SET state='delivered', delivered_at=?, attempts=attempts+1 "
    f"WHERE id=? AND partner=? AND state='available' AND {INBOX_VISIBLE.replace('d.', 'deliveries.')} "
    "RETURNING record_id"
)

# -- keys and retention ----------------------------------------------------------------------
KEY_USAGE = "SELECT kek_id, count(*) FROM messages WHERE kek_id IS NOT NULL GROUP BY kek_id"
TO_REWRAP = (
    "SELECT id, kek_id, data_key FROM messages WHERE kek_id IS NOT NULL AND kek_id != ? "
    "AND kek_id NOT IN ({skip}) LIMIT ?"
)
SET_DATA_KEY = "UPDATE messages SET kek_id=?, data_key=? WHERE id=?"
# finished: no delivery still waiting
EXPIRED = (
    "SELECT id FROM messages m WHERE type=? AND received_at < ? AND shredded_at IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.record_id=m.id "
    "AND d.state IN ('pending','in_flight','available'))"
)
SHRED = (
    "UPDATE messages SET data_key=NULL, kek_id=NULL, body=NULL, nhs_index=NULL, fingerprint=NULL, status=NULL, "
    "status_at=NULL, shredded_at=? WHERE id=?"
)
SHRED_INDEX_ENTRIES = "DELETE FROM message_index WHERE record_id=?"
# a milestone keeps a copy of its start message's blind-index value: it goes with the message's
SHRED_MILESTONES = "UPDATE pathway_milestones SET nhs_index=NULL WHERE start_record=?"
SHRED_UPGRADES = "DELETE FROM upgrade_pending WHERE record_id=?"
ANY_UPGRADE = "SELECT 1 FROM upgrade_pending LIMIT 1"
UPGRADES = (
    "SELECT u.task, u.record_id, u.partner, m.type, m.sender, m.body_codec, m.body, m.kek_id, m.data_key "
    "FROM upgrade_pending u LEFT JOIN messages m ON m.id = u.record_id LIMIT ?"
)
SET_FINGERPRINT = "UPDATE messages SET fingerprint=? WHERE id=?"
UPGRADE_DONE = "DELETE FROM upgrade_pending WHERE task=? AND record_id=? AND partner=?"
CHECKPOINT = "PRAGMA wal_checkpoint(TRUNCATE)"

# -- reads -----------------------------------------------------------------------------------
REPLY_TARGETS = (
    "SELECT m.id, m.sender, d.id, m.type FROM messages m JOIN deliveries d ON d.record_id = m.id "
    "WHERE m.message_id=? AND d.partner=? ORDER BY m.received_at DESC"
)
RECORD_OF = "SELECT id FROM messages WHERE sender=? AND message_id=?"
MAY_READ = (
    "SELECT 1 FROM messages m WHERE m.id=? AND (m.sender=? OR EXISTS "
    "(SELECT 1 FROM deliveries d WHERE d.record_id=m.id AND d.partner=?))"
)
MESSAGE = (
    "SELECT id, message_id, sender, type, correlation_id, in_reply_to, parent_id, received_at FROM messages WHERE id=?"
)
DERIVED = "SELECT id, type FROM messages WHERE parent_id=? ORDER BY received_at"
FAMILY_DELIVERIES = "SELECT * FROM deliveries WHERE record_id IN ({marks}) ORDER BY created_at, partner"
FAMILY_EVENTS = "SELECT * FROM events WHERE record_id IN ({marks}) ORDER BY at, seq"
LIST_MESSAGES = "SELECT id, message_id, type, sender, received_at FROM messages WHERE 1=1"
LIST_BY_TYPE = " AND type=?"
LIST_BY_PARTNER = " AND (sender=? OR id IN (SELECT record_id FROM deliveries WHERE partner=?))"
LIST_ORDER = " ORDER BY received_at DESC LIMIT ?"
FAMILY_STATES = console_queries.FAMILY_STATES  # a message's and its derived messages' delivery states: two seeks
# the delivery carries its message's type (activity_schema); deliveries_dead walks the dead ones, oldest first
DEAD_LETTERS = (
    "SELECT d.id, d.record_id, d.type, d.partner, d.attempts, d.last_error, d.created_at "
    "FROM deliveries d WHERE d.state='dead' ORDER BY d.created_at LIMIT ?"
)
# such events have no record id, so the events_record index finds them among the few like them
REFUSED_TRANSMISSIONS = (
    "SELECT at, detail FROM events WHERE record_id='' AND kind='transmission_refused' ORDER BY seq DESC LIMIT ?"
)
BODY = "SELECT type, sender, body_codec, body, kek_id, data_key FROM messages WHERE id=?"
COUNT_DELIVERIES = "SELECT state, count(*) FROM deliveries GROUP BY state"
COUNT_MESSAGES = "SELECT count(*) FROM messages"
# A partner's search reads only its own entries: the outer loop is the (partner, nhs_index) key of
# message_index (CROSS JOIN keeps SQLite from choosing another order), so the work done depends on
# that partner's entries alone, never on whether someone else's message holds the number.
FIND_FOR_PARTNER = (
    "SELECT m.id, m.message_id, m.type, m.sender, m.received_at FROM message_index i "
    "CROSS JOIN messages m ON m.id = i.record_id WHERE i.partner = ? AND i.nhs_index IN ({marks}) "
    "ORDER BY m.received_at"
)
# one statement (one snapshot) over every value searched, {marks} one ? per value: see ``Store.find_by_index``
FIND_ALL = (
    "SELECT id, message_id, type, sender, received_at FROM messages WHERE nhs_index IN ({marks}) ORDER BY received_at"
)
# a reply is a message the partner sent with in_reply_to naming the delivered message; the first
# that is not an Acknowledgement is its answer (for a council: the first appointment)
# delivered at: the recorded delivery, else the partner's acknowledgement (a pull partner may acknowledge a
# message by an Acknowledgement before, or instead of, taking it from its inbox). {answer} is REPLY_ANY_ANSWER
# or REPLY_ANSWER_OF_TYPES with one mark per type.
REPLY_TIMES = (
    "SELECT d.partner, m.type, coalesce(d.delivered_at, d.acknowledged_at), "
    "(SELECT min(r.received_at) FROM messages r WHERE r.sender=d.partner AND r.in_reply_to=m.message_id "
    " AND r.type='Acknowledgement'), "
    "(SELECT min(r.received_at) FROM messages r WHERE r.sender=d.partner AND r.in_reply_to=m.message_id "
    " AND {answer}) "
    "FROM deliveries d JOIN messages m ON m.id=d.record_id "
    "WHERE coalesce(d.delivered_at, d.acknowledged_at) IS NOT NULL AND m.type!='Acknowledgement'"
)
# a status reply: one carrying a clear business status (messages.status), from the partner the
# message was delivered to, answering that very record (messages.answers_record, resolved at intake: a
# message_id is unique per sender only, so another sender's message with the same id is not this one);
# delivered at as in REPLY_TIMES, so both count the same messages. The partial index
# messages_status_answers (answers_record, sender) WHERE status IS NOT NULL finds them.
STATUS_REPLIES = (
    "SELECT d.partner, m.sender, m.message_id, m.type, coalesce(d.delivered_at, d.acknowledged_at), "
    "r.message_id, r.type, r.status, r.status_at, r.received_at "
    "FROM deliveries d JOIN messages m ON m.id=d.record_id "
    "JOIN messages r ON r.answers_record=m.id AND r.sender=d.partner AND r.status IS NOT NULL "
    "WHERE coalesce(d.delivered_at, d.acknowledged_at) IS NOT NULL AND r.type IN ({marks}) "
    "ORDER BY d.partner, m.sender, m.message_id, r.status_at, r.received_at, r.message_id"
)
REPLY_ANY_ANSWER = "r.type!='Acknowledgement'"
REPLY_ANSWER_OF_TYPES = "r.type IN ({marks})"
