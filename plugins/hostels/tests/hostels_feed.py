"""A real Open Referral UK feed on loopback for the directory's tests: published examples and synthetic feeds.

``FeedServer`` is an HTTP/1.1 server (keep-alive, a thread per connection) answering ``GET /services?page=N
&per_page=M`` with the UK profile's list page and ``GET /services/{id}`` with one service. What it serves is a
``Feed``: the services in order, pages that fail (500), ids that answer 404, and ids left out of the listing.
It counts the requests it answered, so a test can see what the importer asked for.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


def oruk_fixtures() -> Path:
    """The published Open Referral examples (``../shared/fixtures/oruk`` from the project root, or $HUB_ORUK_FIXTURES).

    They are CC BY-SA and are read where they are, never copied into the project. Missing: the test is
    skipped, or fails with HUB_REQUIRE_SERVICES=1.
    """
    root = Path(__file__).resolve().parents[3]
    path = Path(os.environ.get("HUB_ORUK_FIXTURES") or root.parent / "shared" / "fixtures" / "oruk")
    if not (path / "uk-profile-3.0" / "service_full.json").exists():
        reason = f"the Open Referral examples are not at {path} (set HUB_ORUK_FIXTURES)"
        if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def synthetic_service(index: int, *, available: int | None = None, name: str | None = None) -> dict[str, Any]:
    """One made-up HSDS 3.1 service (no real organisation), with an area, a location and, if given, capacity."""
    ident = f"svc-{index:06d}"
    service: dict[str, Any] = {
        "id": ident,
        "name": name or f"Test hostel {index}",
        "status": "active",
        "minimum_age": 18,
        "maximum_age": 65,
        "organization": {"id": f"org-{index % 97:03d}", "name": f"Test charity {index % 97}"},
        "attributes": [{"id": f"a-{index}", "taxonomy_term": {"id": "t-mh", "name": "Mental health"}}],
        "service_areas": [{"id": f"area-{index}", "name": "Luton"}],
        "service_at_locations": [{"id": f"sal-{index}", "location": {"id": f"loc-{index}", "addresses": [
            {"id": f"ad-{index}", "address_1": f"{index} Test Street", "city": "Luton", "postal_code": "LU1 1AA",
             "country": "GB"}]}}],
        "last_modified": "2026-01-01T00:00:00Z",
    }  # fmt: skip
    if available is not None:
        unit = {"id": "u-bed", "name": "bed"}
        service["capacities"] = [{"id": f"cap-{index}", "unit": unit, "available": available, "maximum": 20,
                                  "updated": "2026-01-01T09:00:00Z"}]  # fmt: skip
    return service


@dataclass
class Feed:
    """What a ``FeedServer`` serves. ``make(i)`` builds service ``i`` on request (10,000 never sit in a list)."""

    count: int
    make: Callable[[int], dict[str, Any]] = synthetic_service
    failing_pages: set[int] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)  # listed, but /services/{id} answers 404
    unlisted: set[int] = field(default_factory=set)  # indexes left out of the listing (withdrawn by the feed)
    list_page: Callable[[int, int], dict[str, Any]] | None = None  # replaces the generated list pages

    def listed(self) -> Iterator[int]:
        """Indexes of the services the listing names, in order."""
        return (i for i in range(self.count) if i not in self.unlisted)

    def page(self, number: int, per_page: int) -> dict[str, Any]:
        """List page ``number`` (shallow items: id, name, status)."""
        if self.list_page is not None:
            return self.list_page(number, per_page)
        indexes = list(self.listed())
        pages = max(1, -(-len(indexes) // per_page))
        chunk = indexes[(number - 1) * per_page : number * per_page]
        contents = [{k: v for k, v in self.make(i).items() if k in ("id", "name", "status")} for i in chunk]
        return {"total_items": len(indexes), "total_pages": pages, "page_number": number, "size": len(contents),
                "first_page": number == 1, "last_page": number >= pages, "empty": not contents,
                "contents": contents}  # fmt: skip

    def service(self, ident: str) -> dict[str, Any] | None:
        """``/services/{ident}``, or None for 404."""
        if ident in self.missing:
            return None
        for_index = ident.removeprefix("svc-")
        if ident.startswith("svc-") and for_index.isdigit() and int(for_index) < self.count:
            return self.make(int(for_index))
        return None


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client closing its keep-alive connection is not news


class FeedServer:
    """Serves a ``Feed`` on 127.0.0.1 (``url``); ``feed`` may be replaced between imports."""

    def __init__(self, feed: Feed | Any) -> None:
        self.feed = feed
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                server.requests.append(parts.path)
                query = urllib.parse.parse_qs(parts.query)
                status, document = 404, None
                if parts.path == "/api/services":
                    number = int(query.get("page", ["1"])[0])
                    per_page = int(query.get("per_page", ["50"])[0])
                    if number in server.feed.failing_pages:
                        status = 500
                    else:
                        status, document = 200, server.feed.page(number, per_page)
                elif parts.path.startswith("/api/services/"):
                    document = server.feed.service(urllib.parse.unquote(parts.path[len("/api/services/") :]))
                    status = 200 if document is not None else 404
                if document is None and status == 200:
                    status = 404
                body = json.dumps(document).encode() if document is not None else b'{"error": "no"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The feed's base URL."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/api"

    def close(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()


class PublishedFeed:
    """The published examples of one profile folder, served as a feed (list page and each service by id)."""

    def __init__(self, folder: Path, *, as_published: bool = True) -> None:
        self.listing: dict[str, Any] = json.loads((folder / "service_list.json").read_text())
        self.full: dict[str, Any] = json.loads((folder / "service_full.json").read_text())
        self.as_published = as_published
        self.failing_pages: set[int] = set()

    def page(self, number: int, per_page: int) -> dict[str, Any] | None:
        """Page 1 as published (it says it is page 1 of 10); with ``as_published=False``, the only page."""
        if number != 1:
            return None
        if self.as_published:
            return self.listing
        return {**self.listing, "total_items": len(self.listing["contents"]), "total_pages": 1, "last_page": True}

    def service(self, ident: str) -> dict[str, Any] | None:
        """The published full service for its id."""
        return self.full if ident == self.full["id"] else None
