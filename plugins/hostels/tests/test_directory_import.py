"""The service directory's import: published Open Referral examples and synthetic feeds over real loopback HTTP.

Each test runs on SQLite and on PostgreSQL (the directory's own tables in a fresh database). The synthetic
feed has 10,000 services, as the directory's users publish (``HUB_DIRECTORY_FEED_SIZE`` sets another size for
a quick run while working on the importer; four imports of 10,000 services fetched one by one take about half a
minute each on this machine; bench/directory_import.py measures the import's speed).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostels_feed import Feed, FeedServer, PublishedFeed, oruk_fixtures, synthetic_service
from hub_hostels.directory.database import DirectoryDatabase, open_directory
from hub_hostels.directory.importer import import_file, import_url
from hub_hostels.directory.records import FeedError, read_service

from hub.testing.postgres import drop_postgres_database, fresh_postgres_database, postgres_server


@pytest.fixture(params=["sqlite", "postgresql"])
def directory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DirectoryDatabase]:
    """An empty directory on each backend."""
    if request.param == "sqlite":
        database = open_directory(f"sqlite:///{tmp_path / 'directory.db'}")
        yield database
        database.close()
        return
    postgres_server()
    url = fresh_postgres_database()
    database = open_directory(url)
    yield database
    database.close()
    drop_postgres_database(url)


@pytest.fixture
def served() -> Iterator[list[FeedServer]]:
    """Feed servers started by a test, closed after it."""
    servers: list[FeedServer] = []
    yield servers
    for server in servers:
        server.close()


def serve(servers: list[FeedServer], feed: Any) -> FeedServer:
    server = FeedServer(feed)
    servers.append(server)
    return server


def test_published_uk_profile_example_as_published(directory: DirectoryDatabase, served: list[FeedServer]) -> None:
    """The UK profile's published list page says page 1 of 10; pages 2-10 are not published: incomplete, kept."""
    server = serve(served, PublishedFeed(oruk_fixtures() / "uk-profile-3.0"))
    report = import_url(directory, server.url, per_page=1)
    assert report.listed == 1 and report.added == 1
    assert report.failed_pages == list(range(2, 11)) and not report.complete and report.withdrawn == 0
    stored = directory.get("ac148810-d857-441c-9679-408f346de14b")
    assert stored is not None and not stored.withdrawn
    service = stored.service
    assert service.name == "Community Counselling" and service.status == "active"
    assert (service.minimum_age, service.maximum_age) == (12, 100)
    assert service.postcodes == ("ABC 1234",)
    assert service.organization_name
    assert "/api/services/ac148810-d857-441c-9679-408f346de14b" in server.requests  # fetched by id


def test_published_hsds_31_example_reads_capacities(directory: DirectoryDatabase, served: list[FeedServer]) -> None:
    """HSDS 3.1's published service carries ``capacities[]``: unit, available, maximum and updated are kept."""
    server = serve(served, PublishedFeed(oruk_fixtures() / "hsds-3.1", as_published=False))
    report = import_url(directory, server.url)
    assert report.complete and report.added == 1
    published = json.loads((oruk_fixtures() / "hsds-3.1" / "service_full.json").read_text())["capacities"][0]
    [figure] = directory.capacities(published_id := "ac148810-d857-441c-9679-408f346de14b")
    assert figure.source == "feed" and figure.service_id == published_id
    assert figure.capacity.unit == published["unit"]["name"]
    assert figure.capacity.available == published["available"] and figure.capacity.maximum == published["maximum"]
    assert figure.capacity.updated == published["updated"]


def test_published_full_service_file(directory: DirectoryDatabase) -> None:
    """A saved ``/services/{id}`` document imports from a file; one service is not a complete listing."""
    report = import_file(directory, oruk_fixtures() / "uk-profile-3.0" / "service_full.json")
    assert report.added == 1 and not report.complete
    assert directory.count() == (1, 0)


FEED_SIZE = int(os.environ.get("HUB_DIRECTORY_FEED_SIZE", "10000"))
PER_PAGE = 500 if FEED_SIZE >= 5000 else 50


def test_synthetic_feed_with_paging_a_failing_page_a_404_and_a_withdrawal(
    directory: DirectoryDatabase, served: list[FeedServer]
) -> None:
    """A large feed in pages: imported, then re-imported with changes, failures and withdrawals."""
    size = FEED_SIZE
    every = {f"svc-{i:06d}" for i in range(size)}
    feed = Feed(count=size, make=lambda i: synthetic_service(i, available=i % 3))
    server = serve(served, feed)
    done: list[int] = []
    first = import_url(directory, server.url, per_page=PER_PAGE, workers=16,
                       progress=lambda n, total: done.append(n))  # fmt: skip
    assert (first.listed, first.added, first.complete, first.withdrawn) == (size, size, True, 0)
    assert sum(done) == size and len(done) == -(-size // PER_PAGE)  # one progress call a page
    assert directory.count() == (size, 0)

    # second run: page 3 fails, svc-000007 answers 404, svc-000010 changed, 42 no longer listed:
    # the listing is incomplete, so nothing is withdrawn
    feed.failing_pages = {3}
    feed.missing = {"svc-000007"}
    feed.unlisted = {42}
    feed.make = lambda i: synthetic_service(i, available=i % 3, name="Renamed" if i == 10 else None)
    second = import_url(directory, server.url, per_page=PER_PAGE, workers=16)
    assert second.failed_pages == [3] and not second.complete and second.withdrawn == 0
    assert second.not_found == 1 and second.changed == 1
    kept = directory.get("svc-000007")
    assert kept is not None and not kept.withdrawn and kept.service.name == "Test hostel 7"  # a failed fetch
    assert directory.get("svc-000010").service.name == "Renamed"  # type: ignore[union-attr]
    assert not directory.get("svc-000042").withdrawn  # type: ignore[union-attr]
    assert directory.count() == (size, 0)

    # third run: the listing is whole again; 42 is still not listed, 7 still 404: only 42 is withdrawn
    feed.failing_pages = set()
    third = import_url(directory, server.url, per_page=PER_PAGE, workers=16)
    assert third.complete and third.withdrawn == 1 and third.not_found == 1 and third.changed == 0
    assert directory.get("svc-000042").withdrawn  # type: ignore[union-attr]
    assert not directory.get("svc-000007").withdrawn  # type: ignore[union-attr]
    assert directory.count() == (size, 1)
    assert {s.service.id for s in directory.services(batch=250)} == every - {"svc-000042"}

    # fourth: 42 is listed again and taken back
    feed.unlisted = set()
    fourth = import_url(directory, server.url, per_page=PER_PAGE, workers=16)
    assert fourth.complete and fourth.withdrawn == 0 and fourth.changed == 1
    assert not directory.get("svc-000042").withdrawn  # type: ignore[union-attr]


def test_a_feed_that_marks_a_service_inactive_withdraws_it(directory: DirectoryDatabase,
                                                           served: list[FeedServer]) -> None:  # fmt: skip
    def make(i: int) -> dict[str, Any]:
        return {**synthetic_service(i), "status": "inactive"} if i == 1 else synthetic_service(i)

    server = serve(served, Feed(count=3, make=make))
    report = import_url(directory, server.url)
    assert report.complete and report.added == 3
    assert directory.get("svc-000001").withdrawn  # type: ignore[union-attr]
    assert [s.service.id for s in directory.services()] == ["svc-000000", "svc-000002"]


def test_the_first_page_failing_changes_nothing(directory: DirectoryDatabase, served: list[FeedServer]) -> None:
    server = serve(served, Feed(count=5))
    assert import_url(directory, server.url).added == 5
    server.feed = Feed(count=0, failing_pages={1})
    report = import_url(directory, server.url)
    assert report.failed_pages == [1] and not report.complete and report.withdrawn == 0
    assert directory.count() == (5, 0)


def test_capacity_from_a_provider_is_not_overwritten_by_an_older_feed_figure(
    directory: DirectoryDatabase, served: list[FeedServer]
) -> None:
    from hub_hostels.directory.records import Capacity

    server = serve(served, Feed(count=1, make=lambda i: synthetic_service(i, available=4)))
    import_url(directory, server.url)
    directory.set_capacity("svc-000000", Capacity("bed", 0, 20, "2026-06-01T00:00:00Z"), "partner:hostel-a",
                           now=2e9)  # fmt: skip
    import_url(directory, server.url)  # the feed's figure is from 2026-01-01, before the provider's
    [figure] = directory.capacities("svc-000000")
    assert figure.source == "partner:hostel-a" and figure.capacity.available == 0


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"name": "x"}, "has no id"),
        ({"id": "a/b", "name": "x"}, "not usable as a key"),
        ({"id": "a"}, "name is missing"),
        ({"id": "a", "name": "x", "minimum_age": "old"}, "minimum_age must be a number"),
        ({"id": "a", "name": "x", "capacities": [{"unit": {"name": "bed"}}]}, "capacities[0]: available is missing"),
        ({"id": "a", "name": "x", "capacities": [{"available": -1}]}, "available must not be negative"),
        ({"id": "a", "name": "x", "capacities": [{"available": 1, "updated": "soon"}]}, "updated must be an ISO"),
    ],
)
def test_unreadable_services_are_refused_naming_the_field(document: dict[str, Any], fragment: str) -> None:
    with pytest.raises(FeedError) as caught:
        read_service(document, "page 1")
    assert fragment in str(caught.value) and str(caught.value).startswith("page 1")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({}, "listeners.directory-refresh.feeds: a non-empty list"),
        ({"feeds": ["ftp://x"]}, "listeners.directory-refresh.feeds[0]: 'ftp://x' is not an http(s) URL"),
        ({"feeds": ["https://d.example/api"], "every_minutes": 0}, "every_minutes: a number of minutes above 0"),
        ({"feeds": ["https://d.example/api"], "workers": 65}, "workers: a whole number from 1 to 64"),
    ],
)
def test_the_refresh_schedule_refuses_bad_options_naming_the_key(options: dict[str, Any], fragment: str) -> None:
    from hub_hostels.directory.refresh import _options

    from hub import ConfigError

    with pytest.raises(ConfigError) as caught:
        _options(options)
    assert fragment in str(caught.value)


def test_feed_names_never_keep_credentials() -> None:
    from hub_hostels.directory.feed import feed_base, feed_name

    assert feed_name("https://user:secret@dir.example:8443/api/services/?page=2") == "https://dir.example:8443/api"
    assert feed_base("https://dir.example/api/") == "https://dir.example/api"


def test_an_unusable_directory_url_is_refused_naming_the_setting_not_its_value() -> None:
    """The URL may hold a user and password: the error names where it is set and never echoes it."""
    with pytest.raises(ValueError, match=r"plugins\.hostels\.directory_database") as refused:
        open_directory("mysql://hub:s3cret-pass@db.example/directory")
    assert "s3cret" not in str(refused.value) and "mysql" not in str(refused.value)
