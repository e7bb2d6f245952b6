"""The offer book a running hub's sweep keeps open (``hub_hostels.offers.kept_book``), on SQLite and PostgreSQL.

The sweep used to open the book, a new database connection with a read of its schema version, for every step of
its half-second rounds. Now one book serves the hub while the sweep runs; what lies outside that opens its own; a
book whose connection broke is replaced at the next use.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hub_hostels.offers.book import Offer, OfferBook
from hub_hostels.offers.kept_book import borrow, forget_if_broken, kept_open

from hub.testing.postgres import drop_postgres_database, fresh_postgres_database, postgres_server


class FakeHub:
    """Only the identity of a hub matters here."""


def open_offers_in(book: OfferBook) -> list[Offer]:
    with book.transaction() as tx:
        return tx.open_offers()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'directory.db'}"
        return
    postgres_server()
    made = fresh_postgres_database()
    yield made
    drop_postgres_database(made)


def test_one_book_serves_the_hub_while_kept_open_and_none_outside(url: str) -> None:
    hub, other = FakeHub(), FakeHub()
    assert borrow(hub, url) is None, "a book was kept before the sweep started"
    with kept_open(hub, url):
        first = borrow(hub, url)
        assert first is not None
        assert borrow(hub, url) is first, "the kept book was opened again"
        assert borrow(other, url) is None, "another hub was given this hub's book"
        assert borrow(hub, url + "-elsewhere") is None, "a book at another URL was taken for this one"
        assert open_offers_in(first) == []  # usable
    assert borrow(hub, url) is None, "the book outlived the sweep"
    with pytest.raises((sqlite3.ProgrammingError, psycopg.OperationalError)):  # closed with the sweep
        open_offers_in(first)


def test_a_book_whose_connection_broke_is_replaced_at_the_next_use(url: str) -> None:
    hub = FakeHub()
    with kept_open(hub, url):
        first = borrow(hub, url)
        assert first is not None
        forget_if_broken(hub, first)
        assert borrow(hub, url) is first, "a working book was dropped"
        if not url.startswith("postgresql"):
            return  # a SQLite file has no connection to lose
        # the server ends the book's connection, as a database restart would
        with psycopg.connect(postgres_server(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                          (url.partition("?")[0].rpartition("/")[2],))  # fmt: skip
        with pytest.raises(psycopg.OperationalError):
            open_offers_in(first)
        assert first.broken
        forget_if_broken(hub, first)
        second = borrow(hub, url)
        assert second is not None and second is not first
        assert open_offers_in(second) == []
