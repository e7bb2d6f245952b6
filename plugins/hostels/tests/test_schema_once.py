"""The directory's and the offer book's tables are created once per database, never at every opening.

Processes open the directory and the offer book together (real ``python`` processes on a real PostgreSQL or
SQLite file). On PostgreSQL even a ``CREATE INDEX IF NOT EXISTS`` locks its table, so an opening that ran DDL
waited for every other process's transaction on that table (two hub processes deadlocked so): with the schema
version recorded, an opening that finds it current runs none.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hub_hostels.offers.book import open_offers

from hub.testing.postgres import drop_postgres_database, fresh_postgres_database, postgres_server

OPEN = """
import sys
from hub_hostels.directory.database import open_directory
from hub_hostels.offers.book import open_offers
open_directory(sys.argv[1]).close()
open_offers(sys.argv[1]).close()
print("opened")
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'directory.db'}"
        return
    postgres_server()
    made = fresh_postgres_database()
    yield made
    drop_postgres_database(made)


def open_together(url: str, count: int = 2) -> list[subprocess.CompletedProcess[str]]:
    """``count`` processes that each open the directory and the offer book, started at once."""
    started = [subprocess.Popen([sys.executable, "-c", OPEN, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(count)]  # fmt: skip
    done = []
    for process in started:
        out, err = process.communicate(timeout=60)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return done


def test_two_processes_opening_a_new_database_at_once_create_it_once(url: str) -> None:
    for run in open_together(url):
        assert (run.returncode, run.stdout.strip()) == (0, "opened"), run.stderr
    book = open_offers(url)
    try:
        assert (book.schema_version("directory"), book.schema_version("offers")) == (1, 3)
        with book.transaction() as tx:
            assert tx._run("SELECT part, version FROM hostels_schema ORDER BY part") == [("directory", 1),
                                                                                        ("offers", 3)]  # fmt: skip
    finally:
        book.close()


def test_older_code_opening_a_newer_book_runs_no_ddl_and_keeps_the_newer_version(url: str) -> None:
    """A process of older code beside newer (a rolling upgrade) neither re-runs its DDL nor takes the version back."""
    book = open_offers(url)
    try:
        with book.transaction() as tx:
            tx._run("UPDATE hostels_schema SET version = 99 WHERE part = 'offers'")
    finally:
        book.close()
    applied: list[object] = []
    book = open_offers(url)
    try:
        book.ensure_schema("offers", 3, applied.append)
        assert applied == [] and book.schema_version("offers") == 99
    finally:
        book.close()


def test_opening_on_postgresql_waits_for_no_other_transaction() -> None:
    """Two processes open the directory and the offer book while another holds write locks on every one of
    their tables (as a hub's offer round or import does): they take no table lock, so they never wait; the
    lock timeout makes a wait an error instead of a hang."""
    postgres_server()
    made = fresh_postgres_database()
    try:
        open_offers(made).close()
        columns = {"hostels_directory_service": "feed", "hostels_directory_capacity": "unit",
                   "hostels_directory_run": "feed", "hostels_offers_referral": "state", "hostels_offers_offer": "state",
                   "hostels_offers_allocation": "reason", "hostels_offers_notice": "step"}  # fmt: skip
        with psycopg.connect(made) as holder:  # a transaction stays open until the block ends
            for table, column in columns.items():
                holder.execute(f"UPDATE {table} SET {column} = {column} WHERE false")
            timed = made + ("&" if "?" in made else "?") + "options=-c%20lock_timeout%3D3000"
            for run in open_together(timed):
                assert (run.returncode, run.stdout.strip()) == (0, "opened"), run.stderr
    finally:
        drop_postgres_database(made)
