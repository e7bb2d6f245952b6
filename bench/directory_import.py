"""The service directory's import of a large Open Referral feed over loopback HTTP: time and peak memory.

A synthetic feed of ``--n`` services (the test suite's generator, plugins/hostels/tests/hostels_feed.py) is
served by a threaded HTTP/1.1 server in this process; ``import_url`` pages ``/services`` and fetches every
service by id with ``--workers`` threads into a fresh directory (SQLite file, or ``--postgres URL``), then
imports it again unchanged. Prints services per second for each run and the peak of traced Python memory
(tracemalloc) during the second, which should not grow with ``--n`` (one page in memory at a time). It asserts
nothing.

    PYTHONPATH=.:plugins/hostels:plugins/hostels/tests python bench/directory_import.py --n 10000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "hostels" / "tests"))

from hostels_feed import Feed, FeedServer, synthetic_service
from hub_hostels.directory.database import open_directory
from hub_hostels.directory.importer import import_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--per-page", type=int, default=500)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL for the directory (default: SQLite)")
    args = parser.parse_args()
    server = FeedServer(Feed(count=args.n, make=lambda i: synthetic_service(i, available=i % 4)))
    with tempfile.TemporaryDirectory() as folder:
        database = open_directory(args.postgres or f"sqlite:///{Path(folder) / 'directory.db'}")
        try:
            for label in ("first import", "unchanged re-import"):
                if label != "first import":
                    tracemalloc.start()
                started = time.perf_counter()
                report = import_url(database, server.url, per_page=args.per_page, workers=args.workers)
                elapsed = time.perf_counter() - started
                peak = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else None
                tracemalloc.stop()
                print(f"{label}: {report.listed} services in {elapsed:.1f} s ({report.listed / elapsed:.0f}/s); "
                      f"added {report.added}, changed {report.changed}, unchanged {report.unchanged}, "
                      f"complete {report.complete}"
                      + (f"; peak traced memory {peak / 1e6:.1f} MB" if peak is not None else ""))  # fmt: skip
        finally:
            database.close()
            server.close()


if __name__ == "__main__":
    main()
