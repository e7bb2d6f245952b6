"""The dashboard's second migration (SQLite version 13, PostgreSQL version 10): indexes that keep its screens fast on
a big store (``bench/dashboard_screens.py``; the figures in docs/performance.md).

- ``messages_type_received`` and ``messages_sender_received``: the message search by type and by partner (as
  sender) walks the newest first and stops at a page, however many messages the store holds;
- ``messages_received_activity`` (replacing ``messages_received``) and ``deliveries_delivered_activity`` (replacing
  ``deliveries_delivered_at``): the overview's last hour read from the index alone;
- ``deliveries_partner_done``: a partner's latest delivery, and its latest deliveries for its response times, by
  one seek (``console_queries.PARTNER_RECENT_REPLIES``);
- ``messages_replies``: a message's first replies from a partner, by one seek (the same reply times);
- ``events_actor`` and ``events_kind``: the audit log filtered by user or by kind, newest first.

Nothing here holds personal data: indexes over ids, codes, partner and user names, and times.
"""

from __future__ import annotations

SQLITE_VERSION = 13
POSTGRES_VERSION = 10

_DDL = """
{drop} messages_received;
CREATE INDEX {if_not} messages_received_activity ON messages(received_at, sender, type);
{drop} deliveries_delivered_at;
CREATE INDEX {if_not} deliveries_delivered_activity ON deliveries(delivered_at, partner, record_id)
    WHERE delivered_at IS NOT NULL;
CREATE INDEX {if_not} messages_type_received ON messages(type, received_at, id);
CREATE INDEX {if_not} messages_sender_received ON messages(sender, received_at, id);
CREATE INDEX {if_not} deliveries_partner_done ON deliveries(partner, (coalesce(delivered_at, acknowledged_at)));
CREATE INDEX {if_not} messages_replies ON messages(in_reply_to, sender, received_at) WHERE in_reply_to IS NOT NULL;
CREATE INDEX {if_not} events_actor ON events(actor, seq) WHERE actor IS NOT NULL;
CREATE INDEX {if_not} events_kind ON events(kind, seq);
"""

SQLITE = _DDL.format(drop="DROP INDEX IF EXISTS", if_not="") + "ANALYZE;"
POSTGRES = _DDL.format(drop="DROP INDEX IF EXISTS", if_not="IF NOT EXISTS") + "ANALYZE messages, deliveries, events;"
