"""How fast the dashboard's pathway board and 48-hour board answer on a big store: each page's HTTP GET, timed.

Starts a hub (``hub.testing.world``, the standard partners, the ``PATHWAYS`` below) on a fresh store (SQLite in
its config directory by default, or ``--store postgresql``: a database of its own on ``HUB_TEST_POSTGRES_URL``,
dropped at the end), fills the store before the hub starts with ``--open`` running milestones (one in ten of them
reminded), ``--breached`` breached ones and ``--closed`` closed ones (met, late, cancelled), over ``PARTNERS``
(the standard ones and more providers) and the three milestones of ``PATHWAYS`` (a third of them the 48-hour
``assessment``), each with its ``due`` and ``remind`` timers in the states the pathway leaves them. The rows are
written in bulk into the store's own tables (``executemany`` on SQLite, ``COPY`` on PostgreSQL), after the
store's migrations made them: the pathway's own transactions (one per event) would take hours and leave the same
rows. No timer is left pending in the past, so the running hub fires none while it is timed.

Then signs in as a viewer (the password form, its CSRF token) and times, ``--rounds`` times each after one warm-up,
the GET of each board page (``PAGES``): the median and the 95th percentile in milliseconds, and the page's size.
Asserts nothing about speed, only that each page answers 200. Before the hub starts, times the same way what each
``hub pathway list`` of ``LISTS`` reads from the store (in this process), with how many milestones it lists.

    python bench/pathway_boards.py --open 100000 --rounds 10
    python bench/pathway_boards.py --store postgresql --open 100000 --rounds 10
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

PATHWAYS = """timezone = "Europe/London"

[[milestone]]
name = "assessment"
start = { type = "HousingRequest", on = "delivered" }
due = { after = "48h", from = "event" }
remind_before = "12h"
responsible = "delivered_to"
closed_by = [{ type = "Acknowledgement" }]
on_breach = { notify = [] }

[[milestone]]
name = "follow-up"
start = { type = "DischargeNotice", on = "received" }
due = { after = "7d", from = "event" }
responsible = "sender"
closed_by = [{ type = "FollowUp" }]
on_breach = { notify = [] }

[[milestone]]
name = "housing-offer"
start = { type = "HousingRequest", on = "delivered" }
due = { after = "28d", from = "event" }
responsible = "delivered_to"
closed_by = [{ type = "HousingStatus" }]
on_breach = { notify = [] }
"""
NAMES = ("assessment", "follow-up", "housing-offer")
PARTNERS = ("trust-a", "trust-b", "council-luton", "council-beds", "steps-luton", "ips-luton",
            *(f"provider-{n:02d}" for n in range(14)))  # fmt: skip
PAGES = (
    "/ui/pathway",
    "/ui/pathway?partner=council-luton",
    "/ui/pathway?milestone=assessment",
    "/ui/pathway?partner=council-luton&milestone=assessment",
    "/ui/pathway?partner=nobody-at-all",
    "/ui/assessments",
    "/ui/assessments?partner=council-luton",
    "/ui/pathway/c-7",
)
VIEWER = ("val", "val views the hub's boards")
MILESTONE_ROW = ("id", "name", "partner", "start_record", "correlation_id", "nhs_index", "state", "opened_at",
                 "due_at", "remind_at", "reminded_at", "breached_at", "closed_at", "closed_by",
                 "close_reason")  # fmt: skip
TIMER_ROW = ("id", "milestone_id", "action", "due_at", "state", "fired_at", "fired_by", "sync", "sync_attempts")


Row = tuple[Any, ...]


def rows(running: int, breached: int, closed: int, now: float) -> Iterator[tuple[Row, list[Row]]]:
    """Each milestone's row and its timers' rows: ``running`` due in the next 30 days (one in ten reminded),
    ``breached`` overdue by up to 10 days, ``closed`` met, late or cancelled over the last 60 days."""
    rng = random.Random(13)
    for n in range(running + breached + closed):
        name, partner = NAMES[n % len(NAMES)], PARTNERS[rng.randrange(len(PARTNERS))]
        span = {"assessment": 48 * 3600.0, "follow-up": 7 * 86400.0, "housing-offer": 28 * 86400.0}[name]
        mid = f"ms-{n}"
        reminded_at = breached_at = closed_at = closed_by = None
        if n < running:
            due = now + 60 + rng.random() * min(span, 30 * 86400.0)
            state = "reminded" if n % 10 == 0 else "open"
            remind, due_timer = ("fired" if state == "reminded" else "pending"), "pending"
            reminded_at = due - span / 4 if state == "reminded" else None
            remind_due = due - span / 4 if state == "reminded" else max(now + 30, due - span / 4)
        elif n < running + breached:
            due = now - 60 - rng.random() * 10 * 86400
            state, remind, due_timer = "breached", "fired", "fired"
            reminded_at, breached_at, remind_due = due - span / 4, due + 1, due - span / 4
        else:
            due = now - rng.random() * 60 * 86400
            state = ("met", "late", "cancelled")[n % 3]
            remind, due_timer = "cancelled", "fired" if state == "late" else "cancelled"
            closed_at = due - 3600 if state != "late" else due + 3600
            closed_by, remind_due = f"r-close-{n}", due - span / 4
            breached_at = due + 1 if state == "late" else None
        milestone = (mid, name, partner, f"r-{n}", f"c-{n // 3}", None, state, due - span, due, due - span / 4,
                     reminded_at, breached_at, closed_at, closed_by,
                     "cancelled" if state == "cancelled" else None)  # fmt: skip
        timers = [(f"{mid}.due", mid, "due", due, due_timer, due + 1 if due_timer == "fired" else None,
                   "bench" if due_timer == "fired" else None, None, 0),
                  (f"{mid}.remind", mid, "remind", remind_due, remind, remind_due + 1 if remind == "fired" else None,
                   "bench" if remind == "fired" else None, None, 0)]  # fmt: skip
        yield milestone, timers


def fill(url: str, running: int, breached: int, closed: int, now: float) -> None:
    """Write the milestones and timers of ``rows`` into the store at ``url`` (its migrations already applied)."""
    milestone_sql = (f"INSERT INTO pathway_milestones ({', '.join(MILESTONE_ROW)}) "
                     f"VALUES ({', '.join('?' for _ in MILESTONE_ROW)})")  # fmt: skip
    timer_sql = f"INSERT INTO pathway_timers ({', '.join(TIMER_ROW)}) VALUES ({', '.join('?' for _ in TIMER_ROW)})"
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        batch: list[tuple[Any, ...]] = []
        timers: list[tuple[Any, ...]] = []
        for milestone, its_timers in rows(running, breached, closed, now):
            batch.append(milestone)
            timers += its_timers
            if len(batch) == 10_000:
                conn.executemany(milestone_sql, batch)
                conn.executemany(timer_sql, timers)
                batch, timers = [], []
        conn.executemany(milestone_sql, batch)
        conn.executemany(timer_sql, timers)
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
        return
    import psycopg

    with psycopg.connect(url) as pg:
        cur = pg.cursor()
        all_timers: list[tuple[Any, ...]] = []
        with cur.copy(f"COPY pathway_milestones ({', '.join(MILESTONE_ROW)}) FROM STDIN") as copy:
            for milestone, its_timers in rows(running, breached, closed, now):
                copy.write_row(milestone)
                all_timers += its_timers
        with cur.copy(f"COPY pathway_timers ({', '.join(TIMER_ROW)}) FROM STDIN") as copy:
            for timer in all_timers:
                copy.write_row(timer)
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute("VACUUM ANALYZE pathway_milestones")
        pg.execute("VACUUM ANALYZE pathway_timers")


def signed_in(base: str, name: str, password: str) -> requests.Session:
    """A session signed in to the dashboard through its form."""
    session = requests.Session()
    form = session.get(f"{base}/ui/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, "no CSRF token on the sign-in form"
    done = session.post(f"{base}/ui/login", data={"name": name, "password": password, "csrf_token": token.group(1)},
                        timeout=30)  # fmt: skip
    assert done.ok and "/ui/login" not in done.url, (done.status_code, done.url)
    return session


def timed(session: requests.Session, url: str, rounds: int) -> tuple[float, float, int]:
    """Median and 95th percentile of GET ``url`` in ms (one warm-up first), and the page's size in bytes."""
    first = session.get(url, timeout=120)
    assert first.status_code == 200, (url, first.status_code, first.text[:300])
    took = []
    for _ in range(rounds):
        started = time.perf_counter()
        got = session.get(url, timeout=120)
        took.append((time.perf_counter() - started) * 1000)
        assert got.status_code == 200, (url, got.status_code)
    took.sort()
    return statistics.median(took), took[min(len(took) - 1, int(len(took) * 0.95))], len(first.content)


LISTS = (
    ("hub pathway list", {}),
    ("hub pathway list --partner council-luton", {"partner": "council-luton"}),
    ("hub pathway list --due-within 7d", {"within_seconds": 7 * 86400.0}),
    ("hub pathway list --breached", {"breached": True}),
)


def time_lists(store_url: str, rounds: int, only: str | None) -> None:
    """Median and 95th percentile in ms of what each ``hub pathway list`` of ``LISTS`` reads (``due_list`` on the
    store, in this process; one warm-up first), and how many milestones it lists."""
    from hub.services.pathway_views import due_list
    from hub.store import open_store

    store = open_store(store_url)
    try:
        print(f"{'list':58} {'median ms':>10} {'p95 ms':>10} {'rows':>6}")
        for command, options in LISTS:
            if only and only not in command:
                continue
            listed = len(due_list(store, **options))
            took = []
            for _ in range(rounds):
                started = time.perf_counter()
                due_list(store, **options)
                took.append((time.perf_counter() - started) * 1000)
            took.sort()
            p95 = took[min(len(took) - 1, int(len(took) * 0.95))]
            print(f"{command:58} {statistics.median(took):10.1f} {p95:10.1f} {listed:6}", flush=True)
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=100_000, help="running milestones (one in ten reminded)")
    parser.add_argument("--breached", type=int, default=5_000)
    parser.add_argument("--closed", type=int, default=200_000, help="met, late and cancelled milestones")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--only", help="time only the pages and lists whose paths or commands contain this")
    args = parser.parse_args()
    os.environ.setdefault("HUB_TEST_SCRYPT_N", "1024")  # the key ring's passphrase KDF: not what is measured
    from hub.config import load_settings
    from hub.store import open_store
    from hub.testing.world import build_world

    url = None
    with tempfile.TemporaryDirectory() as tmp:
        settings: dict[str, dict[str, Any]] = {}
        if args.store == "postgresql":
            from hub.testing.postgres import fresh_postgres_database

            url = fresh_postgres_database()
            settings = {"store": {"url": url}}
        world = build_world(Path(tmp) / "config", settings=settings, start=False)
        try:
            (world.config_dir / "pathways.toml").write_text(PATHWAYS)
            store_url = load_settings(world.config_dir).store_url
            open_store(store_url).close()  # its migrations make the tables
            now, started = time.time(), time.perf_counter()
            fill(store_url, args.open, args.breached, args.closed, now)
            total = args.open + args.breached + args.closed
            print(f"{args.store}: {total:,} milestones ({args.open:,} running, {args.breached:,} breached, "
                  f"{args.closed:,} closed) and {2 * total:,} timers written in {time.perf_counter() - started:.0f} s",
                  flush=True)  # fmt: skip
            time_lists(store_url, args.rounds, args.only)
            world.start(timeout=120)
            added = subprocess.run(
                [sys.executable, "-m", "hub", "users", "add", VIEWER[0], "--role", "viewer", "--password-stdin",
                 "--operator", "bench", "--config", str(world.config_dir)],
                input=f"{VIEWER[1]}\n", capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert added.returncode == 0, added.stderr
            session = signed_in(world.url, *VIEWER)
            print(f"{'page':58} {'median ms':>10} {'p95 ms':>10} {'KiB':>6}")
            for page in PAGES:
                if args.only and args.only not in page:
                    continue
                median, p95, size = timed(session, f"{world.url}{page}", args.rounds)
                print(f"{page:58} {median:10.1f} {p95:10.1f} {size / 1024:6.0f}", flush=True)
        finally:
            world.stop()
            if url is not None:
                from hub.testing.postgres import drop_postgres_database

                drop_postgres_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
