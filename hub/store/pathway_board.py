"""The pathway boards' reads (``ports_pathway.PathwayStore.milestone_board_counts`` and ``milestone_board_rows``),
written once for both backends, and the migration that keeps them fast whatever the store holds (SQLite version 16,
PostgreSQL version 13; ``bench/pathway_boards.py``, docs/performance.md).

Three partial indexes hold only the milestones a board shows (running: ``open`` or ``reminded``; ``breached``), so
they grow with what is running, not with the milestones closed over the years:

- ``pathway_milestones_board_name`` (state, name, due_at, id): one milestone's running or breached ones, soonest
  due first; a board of all partners reads one walk of it per state and milestone name, each stopping at a page;
- ``pathway_milestones_board_partner`` (state, partner, name, due_at, id): the same of one partner;
- ``pathway_milestones_board_counts`` (state, partner, name): the board's counts per partner, milestone and state,
  read from it alone (a covering range, grouped in its order). The one above would serve, but PostgreSQL costs
  its wider entries above the full ``pathway_milestones_partner`` index and reads that (three times the entries:
  80 ms against 30 ms at 100,000 running and 200,000 closed milestones).

Each statement repeats the indexes' condition (``SHOWN``) word for word: SQLite uses a partial index only for a
statement whose condition contains the index's own, and PostgreSQL proves it so with parameters bound too.
Nothing here holds personal data: milestone ids, names, partners and times.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Sequence
from typing import Any

from hub.store.pathway_ops import MILESTONE_COLUMNS, as_milestone

SQLITE_VERSION = 16
POSTGRES_VERSION = 13
BOARD_STATES = ("open", "reminded", "breached")
SHOWN = "state IN ('open', 'reminded', 'breached')"

SCHEMA = f"""
CREATE INDEX IF NOT EXISTS pathway_milestones_board_name ON pathway_milestones(state, name, due_at, id)
    WHERE {SHOWN};
CREATE INDEX IF NOT EXISTS pathway_milestones_board_partner ON pathway_milestones(state, partner, name, due_at, id)
    WHERE {SHOWN};
CREATE INDEX IF NOT EXISTS pathway_milestones_board_counts ON pathway_milestones(state, partner, name)
    WHERE {SHOWN};
"""
"""The migration, the same on both backends."""

NAMES_PER_READ = 100
"""Milestone names one read of ``milestone_board_rows`` walks (times the three states: 300 arms at most)."""
COUNTS = f"SELECT partner, name, state, COUNT(*) FROM pathway_milestones WHERE {SHOWN} GROUP BY state, partner, name"


def rows_statement(states: Sequence[str], names: Sequence[str], partner: str | None, limit: int,
                   due_before: float | None = None) -> tuple[str, list[Any]]:  # fmt: skip
    """The statement and arguments listing the milestones in ``states`` (of ``BOARD_STATES``) of ``names`` (and of
    ``partner``; due by ``due_before``), soonest due first (then by id), ``limit`` at most: the union of one index
    walk per state and name, each stopping at ``limit`` (or at the due time). A state outside ``BOARD_STATES``, or
    no name, lists nothing."""
    arms: list[str] = []
    args: list[Any] = []
    where = f"{SHOWN} AND state = ? AND name = ?" + ("" if partner is None else " AND partner = ?")
    where += "" if due_before is None else " AND due_at <= ?"
    for state in sorted(set(states) & set(BOARD_STATES)):
        for name in sorted(set(names)):
            arms.append(f"SELECT * FROM (SELECT {MILESTONE_COLUMNS} FROM pathway_milestones WHERE {where} "
                        f"ORDER BY due_at, id LIMIT {int(limit)}) AS a{len(arms)}")  # fmt: skip
            args += [state, name, *([] if partner is None else [partner]),
                     *([] if due_before is None else [due_before])]  # fmt: skip
    if not arms:
        return f"SELECT {MILESTONE_COLUMNS} FROM pathway_milestones WHERE 1 = 0", []
    return f"{' UNION ALL '.join(arms)} ORDER BY due_at, id LIMIT {int(limit)}", args


def board_states(states: Collection[str] | None, due_before: float | None) -> set[str] | None:
    """The states a milestone list filtered by ``states`` (None or empty: any) and ``due_before`` (running and due
    by then) shows, when they are all ``BOARD_STATES`` (so one index walk per state and name reads the list);
    None when it may show others (no filter at all: closed milestones too)."""
    if states:
        shown = set(states)
    elif due_before is not None:
        shown = {"open", "reminded"}
    else:
        return None
    if due_before is not None:
        shown &= {"open", "reminded"}
    return shown if shown <= set(BOARD_STATES) else None


def names_statement(state: str, partner: str | None) -> tuple[str, list[Any]]:
    """The statement and arguments listing the names of the milestones in ``state`` (of ``BOARD_STATES``) of
    ``partner`` (None: all): one index seek per name found and one more (a loose index scan: each name is the
    least one after the last), however many milestones each name has."""
    where = f"{SHOWN} AND state = ?" + ("" if partner is None else " AND partner = ?")
    args = [state] + ([] if partner is None else [partner])
    statement = (f"WITH RECURSIVE found(name) AS (SELECT min(name) FROM pathway_milestones WHERE {where} "
                 f"UNION ALL SELECT (SELECT min(name) FROM pathway_milestones WHERE {where} AND name > found.name) "
                 "FROM found WHERE found.name IS NOT NULL) SELECT name FROM found WHERE name IS NOT NULL")  # fmt: skip
    return statement, args + args


class PathwayBoardReads(abc.ABC):
    """Implements the boards' reads of ``ports_pathway.PathwayStore`` with a backend's ``_pathway_read``."""

    @abc.abstractmethod
    def _pathway_read(self, statement: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read (``?`` placeholders)."""

    def milestone_board_counts(self) -> list[tuple[str, str, str, int]]:
        return [(r[0], r[1], r[2], int(r[3])) for r in self._pathway_read(COUNTS)]

    def milestone_board_rows(self, states: Sequence[str], names: Sequence[str], partner: str | None = None,
                             limit: int = 200) -> list[dict[str, Any]]:  # fmt: skip
        return self._walked(states, names, partner, limit, None)

    def _walked(self, states: Sequence[str], names: Sequence[str], partner: str | None, limit: int,
                due_before: float | None) -> list[dict[str, Any]]:  # fmt: skip
        """``rows_statement``'s milestones, read in parts of ``NAMES_PER_READ`` names, soonest due first."""
        rows: list[dict[str, Any]] = []
        every = sorted(set(names))
        for start in range(0, max(len(every), 1), NAMES_PER_READ):  # SQLite takes 500 arms in a compound SELECT
            statement, args = rows_statement(states, every[start : start + NAMES_PER_READ], partner, limit,
                                             due_before)  # fmt: skip
            rows += [as_milestone(r) for r in self._pathway_read(statement, args)]
        return sorted(rows, key=lambda m: (m["due_at"], m["id"]))[:limit]

    def board_states_by_due(self, states: Collection[str], partner: str | None, due_before: float | None,
                            limit: int) -> list[dict[str, Any]]:  # fmt: skip
        """The milestones in ``states`` (of ``BOARD_STATES``) of ``partner`` (None: all), due by ``due_before``
        (None: whenever), soonest due first (then by id), ``limit`` at most, without their timers: the names there
        are (``names_statement``), then one index walk per state and name (``rows_statement``), never a read of
        them all. Call it inside the backend's snapshot, so that the names and the walks see one commit. Ties on the
        due time are ordered by id as Python orders strings (code points: SQLite's and PostgreSQL's "C" order; a
        PostgreSQL database with a linguistic collation orders the general query's ties otherwise)."""
        names: set[str] = set()
        for state in sorted(set(states) & set(BOARD_STATES)):
            statement, args = names_statement(state, partner)
            names.update(str(row[0]) for row in self._pathway_read(statement, args))
        if not names:
            return []
        return self._walked(sorted(states), sorted(names), partner, limit, due_before)
