"""The offer book a running hub keeps open while its sweep runs, instead of opening it for every use.

Opening the book is a new database connection (on PostgreSQL a server process forked for it) and a read of its
schema version. The sweep does several things every half second, and each opened and closed the book: about eight
connections a second per ``hub serve`` process, doing nothing most of the time. While ``kept_open(hub, url)`` is
entered (the sweep's lifetime), ``borrow(hub, url)`` hands out one book for that hub and URL, opened at its first
use; every use outside it (a command, another hub in the same process) opens its own as before.

The book is thread-safe (one lock per transaction, ``DirectoryDatabase``). A kept book whose PostgreSQL connection
broke (the database restarted) is closed and forgotten by ``forget_if_broken``; the next borrow opens a new one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hub_hostels.offers.book import OfferBook, open_offers


@dataclass
class _Kept:
    hub: Any
    url: str
    book: OfferBook | None = None


_KEPT: dict[int, _Kept] = {}
_LOCK = threading.Lock()


@contextmanager
def kept_open(hub: Any, url: str) -> Iterator[None]:
    """Keep one offer book at ``url`` open for ``hub`` while the block runs; close it at the end."""
    with _LOCK:
        _KEPT[id(hub)] = _Kept(hub, url)
    try:
        yield
    finally:
        with _LOCK:
            kept = _KEPT.pop(id(hub), None)
        if kept is not None and kept.book is not None:
            kept.book.close()


def borrow(hub: Any, url: str) -> OfferBook | None:
    """The book kept open for ``hub`` at ``url`` (opened now if this is its first use), or None when none is kept."""
    with _LOCK:
        kept = _KEPT.get(id(hub))
        if kept is None or kept.hub is not hub or kept.url != url:
            return None
        if kept.book is None:
            kept.book = open_offers(url)
        return kept.book


def forget_if_broken(hub: Any, book: OfferBook) -> None:
    """Close and forget ``book`` if it is ``hub``'s kept book and its connection broke (the next borrow reopens)."""
    if not book.broken:
        return
    with _LOCK:
        kept = _KEPT.get(id(hub))
        if kept is None or kept.book is not book:
            return
        kept.book = None
    book.close()
