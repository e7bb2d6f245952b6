"""The pathway boards read the running and breached milestones from their own indexes, on both stores, and show
what the store's general milestone query shows: the soonest due, ``BOARD_ROWS`` at most, with how many there are.

A migrated store is filled in SQL with 30,000 milestones shaped like ``bench/pathway_boards.py``'s (7 partners,
3 milestone names; three in ten open, one reminded, one breached, the rest met) and analysed, so each planner
chooses by statistics as it would on a big store. These are plans and rows, not timings (the timings are the
bench's: docs/performance.md).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from hub.bodies import CodecRegistry, NoKeysCodec
from hub.pathway.clock import Offset
from hub.pathway.spec import DELIVERED_TO, MilestoneSpec, Pathways
from hub.services.pathway_boards import BOARD_ROWS, milestone_board, provider_deadline_board
from hub.store import Store, open_store
from hub.store.pathway_board import COUNTS, rows_statement

N = 30_000
T0 = 1_700_000_000.0
NAMES = ("assessment", "follow-up", "housing-offer")
STATE = ("CASE WHEN n % 10 < 3 THEN 'open' WHEN n % 10 = 3 THEN 'reminded' WHEN n % 10 = 4 THEN 'breached' "
         "ELSE 'met' END")  # fmt: skip
FILL = (
    "INSERT INTO pathway_milestones (id, name, partner, start_record, correlation_id, state, opened_at, due_at) "
    "SELECT 'ms-' || n, CASE n % 3 WHEN 0 THEN 'assessment' WHEN 1 THEN 'follow-up' ELSE 'housing-offer' END, "
    "'partner-' || (n % 7), 'r-' || n, 'c-' || n, " + STATE + ", {t0}, {t0} + (n * 7919) % {n} FROM ({numbers}) AS s"
)
NUMBERS = {
    "sqlite": f"WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < {N}) SELECT n FROM c",
    "postgresql": f"SELECT generate_series(1, {N}) AS n",
}


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Any, Store]]:
    """(backend, a connection, the store) of a migrated store holding the milestones of ``FILL``, analysed."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("board") / "hub.db"
        url = f"sqlite:///{path}"
    else:
        from hub.testing.postgres import drop_postgres_database, fresh_postgres_database

        url = fresh_postgres_database()
    open_store(url, CodecRegistry(NoKeysCodec())).close()  # migrates
    statement = FILL.format(t0=T0, n=N, numbers=NUMBERS[request.param])
    if request.param == "sqlite":
        conn: Any = sqlite3.connect(path)
        conn.execute(statement)
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
        conn = sqlite3.connect(path)  # reads the statistics afresh
        store = open_store(url, CodecRegistry(NoKeysCodec()))
        yield "sqlite", conn, store
        store.close()
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement)
            conn.execute("VACUUM ANALYZE pathway_milestones")
            store = open_store(url, CodecRegistry(NoKeysCodec()))
            yield "postgresql", conn, store
            store.close()
        drop_postgres_database(url)


def plan(filled: tuple[str, Any, Store], statement: str, args: list[Any] | tuple[Any, ...]) -> str:
    """The plan of ``statement`` (``?`` placeholders) as text, one step a line."""
    backend, conn, _ = filled
    if backend == "sqlite":
        return "\n".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}", tuple(args)))
    return "\n".join(row[0] for row in conn.execute(f"EXPLAIN {statement.replace('?', '%s')}", tuple(args)))


def scans(text: str) -> bool:
    """Whether a plan reads the milestones whole (SQLite ``SCAN pathway_milestones``, PostgreSQL ``Seq Scan``)."""
    return "Seq Scan" in text or any(line.strip() == "SCAN pathway_milestones" for line in text.splitlines())


def test_the_counts_are_read_from_an_index_of_what_the_boards_show(filled: tuple[str, Any, Store]) -> None:
    text = plan(filled, COUNTS, ())
    assert (
        "COVERING INDEX pathway_milestones_board_" in text
        or "Index Only Scan using pathway_milestones_board_counts" in text
    ), text
    assert not scans(text), text
    store = filled[2]
    shown = [c for c in store.milestone_counts() if c[2] in ("open", "reminded", "breached")]
    assert sorted(store.milestone_board_counts()) == sorted(shown)


@pytest.mark.parametrize("partner", [None, "partner-3"])
@pytest.mark.parametrize("states", [["open", "reminded"], ["breached"]])
def test_each_list_walks_an_index_per_state_and_name_and_stops_at_a_page(filled: tuple[str, Any, Store],
                                                                        partner: str | None,
                                                                        states: list[str]) -> None:  # fmt: skip
    text = plan(filled, *rows_statement(states, list(NAMES), partner, BOARD_ROWS))
    index = "pathway_milestones_board_name" if partner is None else "pathway_milestones_board_partner"
    arms = len(states) * len(NAMES)
    assert not scans(text), text
    if filled[0] == "sqlite" or partner is None:
        assert text.count(index) == arms, text
    else:  # PostgreSQL may seek one partner's few milestones of a name and state by its older index, and sort them
        assert text.count(index) + text.count("Index Scan using pathway_milestones_partner ") == arms, text
    if filled[0] == "postgresql" and partner is None:
        assert "Merge Append" in text and "Sort  " not in text, text  # each walk in order, merged: nothing sorted
    store = filled[2]
    for names in (list(NAMES), ["assessment"]):
        rows = store.milestone_board_rows(states, names, partner, BOARD_ROWS)
        expected = store.milestones(partner=partner, states=states, names=names, limit=BOARD_ROWS)
        assert [m["id"] for m in rows] == [m["id"] for m in expected] and 100 < len(rows) <= BOARD_ROWS
        assert rows[0] == {k: v for k, v in expected[0].items() if k != "timers"}


def test_a_list_of_no_name_or_of_a_state_no_board_shows_reads_nothing(filled: tuple[str, Any, Store]) -> None:
    store = filled[2]
    assert store.milestone_board_rows(["open"], [], None) == []
    assert store.milestone_board_rows(["met"], list(NAMES), None) == []


def test_the_boards_show_the_soonest_due_page_and_how_many_there_are(filled: tuple[str, Any, Store]) -> None:
    store = filled[2]
    board = milestone_board(store, now=T0)
    assert len(board.running) == len(board.breached) == BOARD_ROWS
    assert board.running_total == N * 4 // 10 and board.breached_total == N // 10
    assert [m["milestone_id"] for m in board.running] == [
        m["id"] for m in store.milestones(states=["open", "reminded"], limit=BOARD_ROWS)
    ]
    assert board.partners == [f"partner-{n}" for n in range(7)] and board.milestones == list(NAMES)
    one = milestone_board(store, partner="partner-3", milestone="follow-up", now=T0)
    assert {(m["partner"], m["milestone"]) for m in one.running + one.breached} == {("partner-3", "follow-up")}
    assert one.running_total == sum(c["open"] + c["reminded"] for c in one.counts) > BOARD_ROWS
    nobody = milestone_board(store, partner="nobody", now=T0)
    assert (nobody.running, nobody.breached, nobody.counts, nobody.running_total) == ([], [], [], 0)
    pathways = Pathways(milestones=(MilestoneSpec("assessment", "HousingRequest", "delivered", Offset.parse("48h"),
                                                  "event", DELIVERED_TO, ()),))  # fmt: skip
    names, rows, total = provider_deadline_board(store, pathways, now=T0)
    assert names == ["assessment"] and len(rows) == 2 * BOARD_ROWS and total == N // 3 // 2
    assert {m["milestone"] for m in rows} == {"assessment"} and rows[0]["state"] == "breached"


def test_a_board_of_hundreds_of_milestone_names_reads_them_in_parts(filled: tuple[str, Any, Store]) -> None:
    # SQLite refuses a compound SELECT of more than 500 arms: one arm per state and name would be 3 x 303
    store = filled[2]
    many = [*NAMES, *(f"other-{n}" for n in range(300))]
    states = ["open", "reminded", "breached"]
    assert store.milestone_board_rows(states, many, None) == store.milestone_board_rows(states, list(NAMES), None)
    assert len(store.milestone_board_rows(states, many, "partner-3", limit=50)) == 50
