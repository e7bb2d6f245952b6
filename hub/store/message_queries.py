"""The statements of the message reads (``message_reads.MessageReadsOnBackend``), written once for both backends.

``?`` placeholders (the PostgreSQL backend turns them into ``%s``) and only SQL both backends understand. A list of
values is ``{values}``: the backend's ``_in(column, values)`` writes it (SQLite: ``IN (?,?,...)``, one mark per value;
PostgreSQL: ``= ANY(?::text[])``, one array). Delivery states are written out as their stored values
(``hub.store.records.DeliveryState``).
"""

from __future__ import annotations

from hub.store import console_queries
from hub.store.notice_ops import INBOX_VISIBLE

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
FAMILY_DELIVERIES = "SELECT * FROM deliveries WHERE {values} ORDER BY created_at, partner"
FAMILY_EVENTS = "SELECT * FROM events WHERE {values} ORDER BY at, seq"
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
INBOX = (
    "SELECT d.id, d.record_id, m.message_id, d.partner, d.attempts, m.type, m.sender, "
    "m.body_codec, m.body, m.kek_id, m.data_key, "
    "m.received_at FROM deliveries d JOIN messages m ON m.id=d.record_id "
    f"WHERE d.partner=? AND d.state='available' AND {INBOX_VISIBLE} ORDER BY d.created_at LIMIT ?"
)
BODY = "SELECT type, sender, body_codec, body, kek_id, data_key FROM messages WHERE id=?"
COUNT_DELIVERIES = "SELECT state, count(*) FROM deliveries GROUP BY state"
COUNT_MESSAGES = "SELECT count(*) FROM messages"
# A partner's search reads only its own entries: the outer loop is the (partner, nhs_index) key of
# message_index, so the work done depends on that partner's entries alone, never on whether someone else's
# message holds the number. {join} is the backend's ``_PARTNER_FIRST`` (SQLite: CROSS JOIN, which keeps SQLite
# from choosing another order; PostgreSQL, which has no CROSS JOIN ... ON: JOIN, and starts there anyway).
FIND_FOR_PARTNER = (
    "SELECT m.id, m.message_id, m.type, m.sender, m.received_at FROM message_index i "
    "{join} messages m ON m.id = i.record_id WHERE i.partner = ? AND {values} ORDER BY m.received_at"
)
# one statement (one snapshot) over every value searched: see ``Store.find_by_index``
FIND_ALL = "SELECT id, message_id, type, sender, received_at FROM messages WHERE {values} ORDER BY received_at"
# a reply is a message the partner sent with in_reply_to naming the delivered message; the first
# that is not an Acknowledgement is its answer (for a council: the first appointment)
# delivered at: the recorded delivery, else the partner's acknowledgement (a pull partner may acknowledge a
# message by an Acknowledgement before, or instead of, taking it from its inbox). {answer} is REPLY_ANY_ANSWER
# or the types' list (``_in('r.type', types)``).
REPLY_TIMES = (
    "SELECT d.partner, m.type, coalesce(d.delivered_at, d.acknowledged_at), "
    "(SELECT min(r.received_at) FROM messages r WHERE r.sender=d.partner AND r.in_reply_to=m.message_id "
    " AND r.type='Acknowledgement'), "
    "(SELECT min(r.received_at) FROM messages r WHERE r.sender=d.partner AND r.in_reply_to=m.message_id "
    " AND {answer}) "
    "FROM deliveries d JOIN messages m ON m.id=d.record_id "
    "WHERE coalesce(d.delivered_at, d.acknowledged_at) IS NOT NULL AND m.type<>'Acknowledgement'"
)
REPLY_ANY_ANSWER = "r.type<>'Acknowledgement'"
NO_ANSWER = "1=0"  # no answer types: no message is an answer
# a status reply: one carrying a clear business status (messages.status), from the partner the
# message was delivered to, answering that very record (messages.answers_record, resolved at intake: a
# message_id is unique per sender only, so another sender's message with the same id is not this one);
# delivered at as in REPLY_TIMES, so both count the same messages. The partial index
# messages_status_answers (answers_record, sender) WHERE status IS NOT NULL finds them. (NULLS FIRST is
# SQLite's default order, written out for PostgreSQL's, which puts them last.)
STATUS_REPLIES = (
    "SELECT d.partner, m.sender, m.message_id, m.type, coalesce(d.delivered_at, d.acknowledged_at), "
    "r.message_id, r.type, r.status, r.status_at, r.received_at "
    "FROM deliveries d JOIN messages m ON m.id=d.record_id "
    "JOIN messages r ON r.answers_record=m.id AND r.sender=d.partner AND r.status IS NOT NULL "
    "WHERE coalesce(d.delivered_at, d.acknowledged_at) IS NOT NULL AND {values} "
    "ORDER BY d.partner, m.sender, m.message_id, r.status_at NULLS FIRST, r.received_at, r.message_id"
)
