"""The scheduled refresh of the directory: a listener ``hub serve`` runs when ``hub.toml`` enables it.

::

    [listeners.directory-refresh]
    feeds = ["https://directory.example.org/api"]   # Open Referral UK feeds, imported in turn
    every_minutes = 360                              # between the end of one round and the start of the next
    per_page = 100                                   # optional
    workers = 4                                      # optional: services fetched at once

The first round starts as the hub starts. Each import runs in a worker thread, one feed after another,
exactly as ``hub directory import URL`` would (a failed page or service never withdraws anything); its
report is logged (counts and problem locations, never bodies) and kept as the feed's last run. A round that
raises is logged and the schedule goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from hub import ConfigError, ListenerContext
from hub_hostels.directory.database import database_url, open_directory
from hub_hostels.directory.feed import feed_base, feed_name
from hub_hostels.directory.importer import ImportReport, import_url

log = logging.getLogger("hub_hostels.directory.refresh")
NAME = "directory-refresh"


def _options(options: dict[str, Any]) -> tuple[list[str], float, int, int]:
    where = f"hub.toml: listeners.{NAME}"
    feeds = options.get("feeds")
    if not isinstance(feeds, list) or not feeds or not all(isinstance(f, str) for f in feeds):
        raise ConfigError(f"{where}.feeds: a non-empty list of feed URLs")
    for index, url in enumerate(feeds):
        try:
            feed_base(url)
        except ValueError as exc:
            raise ConfigError(f"{where}.feeds[{index}]: {exc}") from None
    every = options.get("every_minutes", 360)
    if isinstance(every, bool) or not isinstance(every, int | float) or every <= 0:
        raise ConfigError(f"{where}.every_minutes: a number of minutes above 0")
    per_page, workers = options.get("per_page", 100), options.get("workers", 4)
    for key, value, top in (("per_page", per_page, 1000), ("workers", workers, 64)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise ConfigError(f"{where}.{key}: a whole number from 1 to {top}")
    return feeds, float(every) * 60, per_page, workers


class DirectoryRefresh:
    """Imports the configured feeds now and then every ``every_minutes`` while the hub runs."""

    name = NAME

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0

    async def start(self, context: ListenerContext) -> None:
        """Check the options (``ConfigError`` naming the key) and start the schedule."""
        feeds, interval, per_page, workers = _options(context.options)
        url = database_url(context.settings)
        self._task = asyncio.create_task(self._run(url, feeds, interval, per_page, workers))

    async def _run(self, url: str, feeds: list[str], interval: float, per_page: int, workers: int) -> None:
        while True:
            for feed in feeds:
                try:
                    report = await asyncio.to_thread(self._import, url, feed, per_page, workers)
                except Exception as exc:
                    log.error("directory refresh of %s failed: %s", feed_name(feed), type(exc).__name__)
                    continue
                log.info("directory refresh of %s: %d listed, %d added, %d changed, %d withdrawn, complete=%s, "
                         "%d pages failed, %d services not fetched", report.feed, report.listed, report.added,
                         report.changed, report.withdrawn, report.complete, len(report.failed_pages),
                         report.not_found + report.failed_services)  # fmt: skip
            self.rounds += 1
            await asyncio.sleep(interval)

    @staticmethod
    def _import(url: str, feed: str, per_page: int, workers: int) -> ImportReport:
        database = open_directory(url)
        try:
            return import_url(database, feed, per_page=per_page, workers=workers)
        finally:
            database.close()

    async def stop(self) -> None:
        """Stop the schedule (an import in its thread finishes its current page's transaction)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
