"""One import run of a feed into the directory: page by page, what changed, and withdrawals only when safe.

``import_url`` pages ``/services``, fetches each listed service by id (``workers`` at a time), writes the
page's services in one short transaction, and forgets them: memory holds one page whatever the feed's size.
Then, and only when the listing was complete and successful (every page fetched and readable, the pages
agreeing on their number), a service of that feed that the listing no longer names is marked withdrawn. A
page that fails makes the run incomplete (nothing is withdrawn); a listed service whose fetch fails (404,
5xx, unreadable) keeps what the directory last read of it. ``import_file`` reads a saved list page, one
service, or a JSON array of services the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hub_hostels.directory.database import DirectoryDatabase, now
from hub_hostels.directory.feed import FeedClient, FetchFailed, NotFound, feed_name
from hub_hostels.directory.records import DirectoryService, FeedError, loads_feed_json, read_service, service_id

MAX_PAGES = 100_000
MAX_PROBLEMS = 50  # problems kept in a report; the counts say how many there were


@dataclass
class ImportReport:
    """What one run did. ``complete``: the listing was whole, so withdrawals were applied."""

    feed: str
    listed: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    failed_pages: list[int] = field(default_factory=list)
    not_found: int = 0
    failed_services: int = 0
    invalid: int = 0
    complete: bool = False
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        """Keep ``text`` (up to ``MAX_PROBLEMS`` of them)."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


Progress = Callable[[int, int | None], None]
"""``progress(services_done_now, total_items_or_None)``, called after each page."""


def _page_shape(listing: Any, number: int) -> tuple[list[Any], int | None, int | None, bool]:
    """(contents, total_pages, total_items, last_page) of a list page; ``FeedError`` when it is not one."""
    where = f"page {number} of /services"
    if not isinstance(listing, dict) or not isinstance(listing.get("contents"), list):
        raise FeedError(f"{where}: not a list page (an object with a 'contents' array)")
    total_pages, total_items = listing.get("total_pages"), listing.get("total_items")
    for name, value in (("total_pages", total_pages), ("total_items", total_items)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise FeedError(f"{where}: {name} must be a whole number")
    return listing["contents"], total_pages, total_items, listing.get("last_page") is True


def _write(database: DirectoryDatabase, report: ImportReport, feed: str, services: list[DirectoryService],
           kept: list[str], run_id: str) -> None:  # fmt: skip
    counts = database.upsert(feed, services, run_id, now())
    report.added += counts.added
    report.changed += counts.changed
    report.unchanged += counts.unchanged
    database.keep_seen(kept, run_id, now())


def import_url(
    database: DirectoryDatabase,
    url: str,
    *,
    per_page: int = 100,
    workers: int = 8,
    progress: Progress = lambda done, total: None,
    client: FeedClient | None = None,
) -> ImportReport:
    """Import the feed at ``url`` (see the module's docstring); return what was done."""
    client = client or FeedClient(url)
    feed = feed_name(url)
    report = ImportReport(feed)
    run_id = uuid.uuid4().hex
    complete = True
    expected_pages: int | None = None
    number = 1
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while number <= MAX_PAGES:
            try:
                contents, total_pages, total_items, last_page = _page_shape(client.page(number, per_page), number)
            except (FetchFailed, FeedError) as exc:
                complete = False
                report.failed_pages.append(number)
                report.problem(str(exc))
                if expected_pages is None or number >= expected_pages:
                    break  # without a page count, nothing says where the listing ends
                number += 1
                continue
            if expected_pages is None:
                expected_pages = total_pages
            elif total_pages is not None and total_pages != expected_pages:
                complete = False  # the feed changed under us: the listing is not one consistent whole
                report.problem(f"page {number} of /services: total_pages {total_pages}, page 1 said {expected_pages}")
            ids: list[str] = []
            for index, item in enumerate(contents):
                try:
                    ids.append(service_id(item, f"page {number} of /services, contents[{index}]"))
                except FeedError as exc:
                    complete = False  # a listed service the hub cannot key: the listing is not whole
                    report.invalid += 1
                    report.problem(str(exc))
            report.listed += len(ids)
            services, kept = _hydrate(client, pool, ids, report)
            _write(database, report, feed, services, kept, run_id)
            progress(len(contents), total_items)
            if not contents or last_page or (expected_pages is not None and number >= expected_pages):
                break
            number += 1
        else:
            complete = False
            report.problem(f"stopped after {MAX_PAGES} pages")
    _finish(database, report, feed, run_id, complete)
    return report


def _hydrate(client: FeedClient, pool: ThreadPoolExecutor, ids: list[str], report: ImportReport
             ) -> tuple[list[DirectoryService], list[str]]:  # fmt: skip
    """Fetch each listed service; (services read, ids kept as they were because their fetch failed)."""

    def one(ident: str) -> DirectoryService | Exception:
        try:
            document = client.service(ident)
            service = read_service(document, f"/services/{ident}")
        except (FetchFailed, FeedError) as exc:
            return exc
        if service.id != ident:
            return FeedError(f"/services/{ident}: the document's id is {service.id[:80]!r}")
        return service

    services: list[DirectoryService] = []
    kept: list[str] = []
    for ident, result in zip(ids, pool.map(one, ids), strict=True):
        if isinstance(result, DirectoryService):
            services.append(result)
            continue
        kept.append(ident)
        if isinstance(result, NotFound):
            report.not_found += 1
        elif isinstance(result, FeedError):
            report.invalid += 1
        else:
            report.failed_services += 1
        report.problem(str(result))
    return services, kept


def _finish(database: DirectoryDatabase, report: ImportReport, feed: str, run_id: str, complete: bool) -> None:
    report.complete = complete
    if complete:
        report.withdrawn = len(database.withdraw_unseen(feed, run_id, now()))
    database.record_run(feed, run_id, complete, report.as_dict(), now())


def _file_items(document: Any) -> tuple[Iterable[Any], bool]:
    """(service documents, whether they are a complete listing) of a saved file."""
    if isinstance(document, list):
        return document, True
    if isinstance(document, dict) and isinstance(document.get("contents"), list):
        whole = document.get("total_pages") in (0, 1) or (document.get("first_page") is True
                                                           and document.get("last_page") is True)  # fmt: skip
        return document["contents"], whole
    return [document], False


def import_file(database: DirectoryDatabase, path: Path, *, feed: str | None = None,
                progress: Progress = lambda done, total: None, batch: int = 500) -> ImportReport:  # fmt: skip
    """Import a saved feed document: a list page, one service, or an array of services.

    Only an array, or a list page that is the feed's only page, is a complete listing (withdrawals then
    apply to services of the same ``feed``, by default ``file:`` and the file's absolute path).
    """
    try:
        document = loads_feed_json(path.read_bytes())
    except OSError as exc:
        raise FeedError(f"{path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise FeedError(f"{path}: not JSON ({exc})") from None
    name = feed or f"file:{path.resolve()}"
    report = ImportReport(name)
    run_id = uuid.uuid4().hex
    items, complete = _file_items(document)
    batch_services: list[DirectoryService] = []
    items = list(items)
    for index, item in enumerate(items):
        try:
            batch_services.append(read_service(item, f"{path.name}[{index}]"))
        except FeedError as exc:
            complete = False
            report.invalid += 1
            report.problem(str(exc))
        report.listed += 1
        if len(batch_services) >= batch:
            _write(database, report, name, batch_services, [], run_id)
            progress(len(batch_services), len(items))
            batch_services = []
    _write(database, report, name, batch_services, [], run_id)
    progress(len(batch_services), len(items))
    _finish(database, report, name, run_id, complete)
    return report
