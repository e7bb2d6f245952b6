"""The dashboard's slowest screens read an index, not the tables, on both stores: checked with EXPLAIN (QUERY PLAN)
on a migrated store filled in SQL with 30,000 messages shaped like ``bench/dashboard_screens.py``'s (4 senders, 6
partners, 3 types, one delivery each, 1% dead, the rest delivered) and analysed, so each planner chooses by
statistics as it would on a big store. These are plans, not timings (the timings are the bench's: docs/performance.md).

The statements are the ones the store runs: the overview's per-minute counters (``activity_minutes``), the search
by partner and type (``deliveries_partner_type``), the search by state ``dead`` (``deliveries_dead_received``), the
dead-letter listing (``deliveries_dead``). The counters' values are checked against the rows they count.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.bodies import CodecRegistry, NoKeysCodec
from hub.store import message_queries, open_store
from hub.store.console_queries import ACTIVITY, search_statement
from hub.store.ports_console import MessageFilter

N = 30_000
T0 = 1_700_000_000.0
FILL = [
    "INSERT INTO messages (id, message_id, sender, type, received_at, body_codec, body) "
    "SELECT 'r-' || n, 'm-' || n, 'trust-' || (n % 4), 'Type' || (n % 3), {t0} + n, 'identity', {empty} "
    "FROM ({numbers}) AS s",
    "INSERT INTO deliveries (id, record_id, partner, route, mode, state, attempts, due_at, created_at) "
    "SELECT 'd-' || n, 'r-' || n, 'partner-' || (n % 6), 'r', 'push', CASE WHEN n % 100 = 0 THEN 'dead' ELSE "
    "'in_flight' END, 1, NULL, {t0} + n FROM ({numbers}) AS s",
    "UPDATE deliveries SET state = 'delivered', delivered_at = created_at + 1 WHERE state = 'in_flight'",
]
NUMBERS = {
    "sqlite": f"WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < {N}) SELECT n FROM c",
    "postgresql": f"SELECT generate_series(1, {N}) AS n",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def filled(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """(backend, a connection) to a migrated store holding the messages of ``FILL``, analysed."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        from hub.testing.postgres import drop_postgres_database, fresh_postgres_database

        url = fresh_postgres_database()
    open_store(url, CodecRegistry(NoKeysCodec())).close()  # migrates
    if request.param == "sqlite":
        conn: Any = sqlite3.connect(tmp_path / "hub.db")
        for statement in FILL:
            conn.execute(statement.format(t0=T0, numbers=NUMBERS["sqlite"], empty="''"))
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
        conn = sqlite3.connect(tmp_path / "hub.db")  # reads the statistics afresh
        yield "sqlite", conn
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            for statement in FILL:
                conn.execute(statement.format(t0=T0, numbers=NUMBERS["postgresql"], empty="''::bytea"))
            conn.execute("VACUUM ANALYZE")
            yield "postgresql", conn
        drop_postgres_database(url)


def plan(filled: tuple[str, Any], statement: str, args: list[Any] | tuple[Any, ...]) -> str:
    """The plan of ``statement`` (``?`` placeholders) as text, one step a line."""
    backend, conn = filled
    if backend == "sqlite":
        return "\n".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}", tuple(args)))
    statement = statement.replace("?", "%s")
    return "\n".join(row[0] for row in conn.execute(f"EXPLAIN {statement}", tuple(args)))


def scans(text: str) -> bool:
    """Whether a plan reads a big table whole (SQLite ``SCAN t`` without an index, PostgreSQL ``Seq Scan``)."""
    lines = text.splitlines()
    return any("Seq Scan on" in line and "activity_minutes" not in line for line in lines) or any(
        line.strip().startswith("SCAN") and "INDEX" not in line and line.split()[1] in ("messages", "deliveries",
                                                                                        "d", "m", "events")
        for line in lines
    )  # fmt: skip


def test_the_overview_reads_its_counters_by_key_and_they_count_what_was_written(filled: tuple[str, Any]) -> None:
    text = plan(filled, ACTIVITY, (int((T0 + N) // 60) - 59,))  # the overview's last hour
    assert "activity_minutes" in text and "messages" not in text and not scans(text), text
    assert "PRIMARY KEY" in text or "activity_minutes_pkey" in text, text
    _, conn = filled
    counted = dict(conn.execute("SELECT kind, sum(count) FROM activity_minutes GROUP BY kind").fetchall())
    # the deliveries made are counted by a trigger on both; what is accepted, by PostgreSQL's trigger, or by
    # SQLite's intake (not by these inserts: tests/contract/test_console_store.py counts through the intake)
    expected = {"accepted": N} if filled[0] == "postgresql" else {}
    assert counted == {**expected, "delivered": N - N // 100}


@pytest.mark.parametrize("before", [None, (T0 + N / 2, "r-15000")])
def test_a_search_by_partner_and_type_walks_the_partners_deliveries_of_the_type(filled: tuple[str, Any],
                                                                                 before: Any) -> None:  # fmt: skip
    statement, args = search_statement(MessageFilter(partner="partner-1", message_type="Type0"), 51, before)
    text = plan(filled, statement, args)
    assert "deliveries_partner_type" in text and not scans(text), text


@pytest.mark.parametrize("before", [None, (T0 + N / 2, "r-15000")])
def test_a_search_by_partner_walks_what_it_sent_and_its_deliveries(filled: tuple[str, Any], before: Any) -> None:
    statement, args = search_statement(MessageFilter(partner="trust-1", received_from=T0 + N - 86400), 51, before)
    text = plan(filled, statement, args)
    assert "deliveries_partner_received" in text and not scans(text), text  # what it sent: an index of messages


@pytest.mark.parametrize("before", [None, (T0 + N / 2, "r-15000")])
def test_a_search_by_state_dead_walks_the_dead_deliveries(filled: tuple[str, Any], before: Any) -> None:
    statement, args = search_statement(MessageFilter(state="dead"), 51, before)
    text = plan(filled, statement, args)
    assert "deliveries_dead_received" in text and not scans(text), text


def test_the_dead_letters_are_listed_from_their_own_index(filled: tuple[str, Any]) -> None:
    statement = message_queries.DEAD_LETTERS
    text = plan(filled, statement, (1000,))
    # PostgreSQL may read them by its older deliveries_state index and sort them: the dead ones only, either way
    assert ("deliveries_dead" in text or "Index Cond: (state = 'dead'::text)" in text) and not scans(text), text
    assert "messages" not in text, text  # the type is the delivery's own
