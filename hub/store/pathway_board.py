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
from collections.abc import Sequence
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


def rows_statement(states: Sequence[str], names: Sequence[str], partner: str | None,
                   limit: int) -> tuple[str, list[Any]]:  # fmt: skip
    """The statement and arguments listing the milestones in ``states`` (of ``BOARD_STATES``) of ``names`` (and of
    ``partner``), soonest due first (then by id), ``limit`` at most: the union of one index walk per state and
    name, each stopping at ``limit``. A state outside ``BOARD_STATES``, or no name, lists nothing."""
    arms: list[str] = []
    args: list[Any] = []
    where = f"{SHOWN} AND state = ? AND name = ?" + ("" if partner is None else " AND partner = ?")
    for state in sorted(set(states) & set(BOARD_STATES)):
        for name in sorted(set(names)):
            arms.append(f"SELECT * FROM (SELECT {MILESTONE_COLUMNS} FROM pathway_milestones WHERE {where} "
                        f"ORDER BY due_at, id LIMIT {int(limit)}) AS a{len(arms)}")  # fmt: skip
            args += [state, name] + ([] if partner is None else [partner])
    if not arms:
        return f"SELECT {MILESTONE_COLUMNS} FROM pathway_milestones WHERE 1 = 0", []
    return f"{' UNION ALL '.join(arms)} ORDER BY due_at, id LIMIT {int(limit)}", args


class PathwayBoardReads(abc.ABC):
    """Implements the boards' reads of ``ports_pathway.PathwayStore`` with a backend's ``_pathway_read``."""

    @abc.abstractmethod
    def _pathway_read(self, statement: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read (``?`` placeholders)."""

    def milestone_board_counts(self) -> list[tuple[str, str, str, int]]:
        return [(r[0], r[1], r[2], int(r[3])) for r in self._pathway_read(COUNTS)]

    def milestone_board_rows(self, states: Sequence[str], names: Sequence[str], partner: str | None = None,
                             limit: int = 200) -> list[dict[str, Any]]:  # fmt: skip
        rows: list[dict[str, Any]] = []
        every = sorted(set(names))
        for start in range(0, max(len(every), 1), NAMES_PER_READ):  # SQLite takes 500 arms in a compound SELECT
            statement, args = rows_statement(states, every[start : start + NAMES_PER_READ], partner, limit)
            rows += [as_milestone(r) for r in self._pathway_read(statement, args)]
        return sorted(rows, key=lambda m: (m["due_at"], m["id"]))[:limit]
