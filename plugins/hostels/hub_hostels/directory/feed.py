"""Reading an Open Referral UK feed over HTTP: pages of ``/services`` and each ``/services/{id}``.

A list page is ``{total_items, total_pages, page_number, size, first_page, last_page, empty, contents}``
(the UK profile's paginated list). Real feeds' list pages are shallow, so each service is fetched by id
for its locations, areas and capacities. Every answer is read up to ``MAX_DOCUMENT_BYTES``, so memory stays
bounded whatever a feed sends. A page or service that cannot be fetched raises ``FetchFailed`` (after
``retries`` more tries for a 5xx, a 429 or a network error); a service the feed answers 404 for raises
``NotFound``. Neither is ever taken as a deletion by the importer.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from typing import Any

import requests

from hub_hostels.directory.records import loads_feed_json

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


class FetchFailed(Exception):
    """A page or service could not be fetched; ``str(exc)`` says which and why (never the body)."""


class NotFound(FetchFailed):
    """The feed answered 404 for a service its listing named."""


def feed_base(url: str) -> str:
    """The feed's base URL: ``https://host/api`` from ``https://host/api``, ``.../api/`` or ``.../api/services``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url[:80]!r} is not an http(s) URL of an Open Referral feed")
    path = parts.path.rstrip("/")
    if path.endswith("/services"):
        path = path[: -len("/services")]
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def feed_name(url: str) -> str:
    """What a feed is known by in the directory: its base URL without credentials."""
    parts = urllib.parse.urlsplit(feed_base(url))
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class FeedClient:
    """Fetches pages and services of one feed; safe to share between threads (a session per thread)."""

    def __init__(self, url: str, *, timeout: float = 30.0, retries: int = 2, backoff: float = 0.2) -> None:
        self.base = feed_base(url)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["Accept"] = "application/json"
        return session

    def _get(self, path: str, params: dict[str, Any], what: str) -> Any:
        url = f"{self.base}{path}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * attempt)
            try:
                with self._session().get(url, params=params, timeout=self.timeout, stream=True) as response:
                    if response.status_code == 404:
                        raise NotFound(f"{what}: the feed answered 404")
                    if response.status_code >= 500 or response.status_code in (408, 429):
                        last = f"{what}: the feed answered {response.status_code}"
                        continue
                    if response.status_code != 200:
                        raise FetchFailed(f"{what}: the feed answered {response.status_code}")
                    body = response.raw.read(MAX_DOCUMENT_BYTES + 1, decode_content=True)
            except requests.RequestException as exc:
                last = f"{what}: {type(exc).__name__}"
                continue
            if len(body) > MAX_DOCUMENT_BYTES:
                raise FetchFailed(f"{what}: the answer is over {MAX_DOCUMENT_BYTES} bytes")
            try:
                return loads_feed_json(body)
            except ValueError as exc:
                raise FetchFailed(f"{what}: the answer is not JSON ({exc})") from None
        raise FetchFailed(f"{last} ({self.retries + 1} tries)")

    def page(self, number: int, per_page: int) -> Any:
        """Page ``number`` (from 1) of ``/services``, ``per_page`` services a page."""
        return self._get("/services", {"page": number, "per_page": per_page}, f"page {number} of /services")

    def service(self, service_id: str) -> Any:
        """``/services/{id}``; ``NotFound`` on 404, ``FetchFailed`` when it cannot be had."""
        quoted = urllib.parse.quote(service_id, safe="")
        return self._get(f"/services/{quoted}", {}, f"service {service_id[:80]}")
