"""The pathway's scheduled notices (SQLite version 17, PostgreSQL version 14).

``deliveries.timer_id``: the pathway timer (``pathway_timers.id``) whose reminder or due notice this delivery
carries. With the embedded scheduler a milestone's notices are stored when it opens, each delivery scheduled
until its timer's time (``NewDelivery.not_before``) and linked to the timer here; a claim of such a delivery fires
the timer in the claim's transaction, and a close cancels the delivery with the timer (``hub.store.notice_ops``).
NULL for every other delivery. ``deliveries_timer`` finds a timer's deliveries (partial: only linked rows).

Nothing here holds personal data: ids only.
"""

from __future__ import annotations

SQLITE_VERSION = 17
POSTGRES_VERSION = 14

SQLITE = """
ALTER TABLE deliveries ADD COLUMN timer_id TEXT;
CREATE INDEX deliveries_timer ON deliveries(timer_id) WHERE timer_id IS NOT NULL;
"""

POSTGRES = """
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS timer_id TEXT;
CREATE INDEX IF NOT EXISTS deliveries_timer ON deliveries(timer_id) WHERE timer_id IS NOT NULL;
"""
