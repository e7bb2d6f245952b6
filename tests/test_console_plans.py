"""The dashboard's statements (``hub.store.console_queries``) are answered by index walks on SQLite, checked with
EXPLAIN QUERY PLAN on a migrated store: no statement reads the messages, deliveries or events table whole, or
sorts what an index walk could give in order.

(On PostgreSQL the plan depends on the table's statistics, so its plans were read at 1,000,000 messages with
``bench/dashboard_screens.py --keep``; docs/performance.md.)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hub.bodies import CodecRegistry, NoKeysCodec
from hub.store.console_queries import PARTNER_RECENT_REPLIES, search_statement
from hub.store.ports_console import MessageFilter
from hub.store.sqlite import SQLiteStore

KEYSET = (1.7e9, "record-id")


def plan_of(path: Path, statement: str, args: list[object] | tuple[object, ...]) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}", tuple(args))]
    finally:
        conn.close()


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    SQLiteStore(tmp_path / "hub.db", CodecRegistry(NoKeysCodec())).close()
    return tmp_path / "hub.db"


@pytest.mark.parametrize(
    ("where", "index"),
    [
        (MessageFilter(message_type="Referral"), "messages_type_received"),
        (MessageFilter(partner="council-a"), "deliveries_partner_received"),
        (MessageFilter(partner="council-a", message_type="Referral"), "deliveries_partner_type"),
        (MessageFilter(correlation_id="c-1"), "messages_correlation"),
        (MessageFilter(), "messages_received_activity"),
    ],
)
def test_each_search_walks_an_index_and_pages_by_a_range(migrated: Path, where: MessageFilter, index: str) -> None:
    for before in (None, KEYSET):
        plan = plan_of(migrated, *search_statement(where, 51, before))
        assert any(index in step for step in plan), plan
        # an ordered walk of an index (SCAN ... USING INDEX) stops at the page; a table scan or an OR of two does not
        assert not any(step == "SCAN messages" or "MULTI-INDEX OR" in step for step in plan), plan


def test_a_partners_recent_replies_are_one_seek_each(migrated: Path) -> None:
    plan = plan_of(migrated, PARTNER_RECENT_REPLIES, ("council-a", 500))
    assert any("deliveries_partner_done" in step for step in plan), plan
    assert sum("messages_replies" in step for step in plan) == 2, plan
    assert not any(step.startswith("SCAN deliveries") or step.startswith("SCAN m") for step in plan), plan


@pytest.mark.parametrize(("column", "index"), [("actor", "events_actor"), ("kind", "events_kind")])
def test_the_audit_log_by_user_or_kind_walks_its_index(migrated: Path, column: str, index: str) -> None:
    statement = f"SELECT seq FROM events WHERE {column} = ? ORDER BY seq DESC LIMIT 51"
    plan = plan_of(migrated, statement, ("alice",))
    assert any(index in step for step in plan) and not any("TEMP B-TREE" in step for step in plan), plan
