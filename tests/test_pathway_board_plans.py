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
from hub.store.pathway_board import COUNTS, SHOWN, names_statement, rows_statement

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
FILL_TIMERS = (
    "INSERT INTO pathway_timers (id, milestone_id, action, due_at, state) SELECT id || '.' || action, id, action, "
    "CASE action WHEN 'remind' THEN due_at - 10 ELSE due_at END, 'pending' FROM pathway_milestones CROSS JOIN "
    "(SELECT 'due' AS action UNION ALL SELECT 'remind') AS actions WHERE state IN ('open', 'reminded')"
)
"""Each running milestone's two timers, the reminder due 10 s before the milestone."""
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
        conn.execute(FILL_TIMERS)
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
            conn.execute(FILL_TIMERS)
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
    assert [m["milestone_id"] for m in board.running] == [  # names given: the general query, not the walks
        m["id"] for m in store.milestones(states=["open", "reminded"], names=NAMES, limit=BOARD_ROWS)
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


@pytest.mark.parametrize("partner", [None, "partner-3"])
@pytest.mark.parametrize("state", ["open", "reminded", "breached"])
def test_the_names_of_a_state_are_read_by_seeks_in_an_index_not_by_reading_its_milestones(
    filled: tuple[str, Any, Store], partner: str | None, state: str
) -> None:
    text = plan(filled, *names_statement(state, partner))
    assert not scans(text) and "pathway_milestones_board_" in text, text  # of the partner: its counts' index serves
    if filled[0] == "sqlite":
        assert "COVERING INDEX" in text, text
    backend, conn, _ = filled
    statement, args = names_statement(state, partner)
    found = {row[0] for row in conn.execute(statement.replace("?", "%s") if backend == "postgresql" else statement,
                                            tuple(args))}  # fmt: skip
    assert found == set(NAMES)
    assert not {row[0] for row in conn.execute(*_nobody(backend, state))}


def _nobody(backend: str, state: str) -> tuple[str, tuple[Any, ...]]:
    statement, args = names_statement(state, "nobody")
    return (statement.replace("?", "%s") if backend == "postgresql" else statement), tuple(args)


@pytest.mark.parametrize(
    ("filters", "listed"),
    [({"states": ["open", "reminded"]}, 1000), ({"states": ["breached"]}, 1000),
     ({"states": ["open", "breached"], "limit": 7}, 7), ({"partner": "partner-3", "states": ["reminded"]}, 429),
     ({"due_before": T0 + N / 2}, 1000), ({"due_before": T0 + 40}, 17),
     ({"partner": "partner-5", "due_before": T0 + N / 3, "limit": 20}, 20),
     ({"states": ["breached"], "due_before": T0 + N}, 0),  # due by a time: running ones only
     ({"states": ["met"], "limit": 5}, 5), ({"states": ["open", "met"], "limit": 5}, 5)],
)  # fmt: skip
def test_a_list_of_running_or_breached_milestones_is_what_the_general_query_lists(
    filled: tuple[str, Any, Store], filters: dict[str, Any], listed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # without names, such a list is read by the boards' walks; with every name given, by the general query
    store = filled[2]
    read = store._pathway_read  # type: ignore[attr-defined]
    statements: list[str] = []

    def recorded(statement: str, args: Any = ()) -> Any:
        statements.append(statement)
        return read(statement, args)

    monkeypatch.setattr(store, "_pathway_read", recorded)
    walked = store.milestones(**filters)
    monkeypatch.undo()
    assert walked == store.milestones(**filters, names=NAMES)
    assert len(walked) == listed
    for m in walked:  # each its own timers, soonest due first (read for 500 milestones a statement)
        running = m["state"] in ("open", "reminded")
        assert [t["id"] for t in m["timers"]] == ([f"{m['id']}.remind", f"{m['id']}.due"] if running else [])
        assert [t["due_at"] for t in m["timers"]] == ([m["due_at"] - 10, m["due_at"]] if running else [])
    milestone_reads = [st for st in statements if "FROM pathway_milestones" in st]
    if "met" in filters.get("states", []):  # closed ones too: the general query
        assert len(milestone_reads) == 1 and SHOWN not in milestone_reads[0]
    else:  # only what the boards' indexes hold, by their walks (no state left to list: nothing read)
        assert bool(milestone_reads) == (listed > 0) and all(SHOWN in st for st in milestone_reads), milestone_reads
