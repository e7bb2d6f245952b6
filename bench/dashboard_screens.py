"""How fast the dashboard's screens read a big store: each screen's service call, timed, on N messages.

Fills a fresh store (SQLite in a temporary directory by default, or ``--store postgresql``: a database of its own
on ``HUB_TEST_POSTGRES_URL``, dropped at the end) with ``--messages`` messages (default 1,000,000) from 4 senders
to 6 partners, spread over 30 days with ``--last-hour`` of them in the last hour, one delivery each (1% dead, 1%
pending after a failure, the rest delivered), ``--people`` people in the blind index. Bodies are stored plain
(nothing here reads them). Then times, ``--rounds`` times each, what each screen asks of the store: the overview,
the search (first page; by partner and type; 20 pages deep by keyset; by state; by correlation; by NHS number's
index entry), one message's tree, the dead letters, the partners' health, the audit log (first page; by actor).
Prints the median and the 95th percentile in milliseconds, and the fill rate. Asserts nothing about speed.

    python bench/dashboard_screens.py --messages 100000 --rounds 20
    python bench/dashboard_screens.py --store postgresql --messages 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.bodies import CodecRegistry, PlainCodec
from hub.plugin_api.events import HubEvent
from hub.services import console
from hub.store import Intake, NewDelivery, NewMessage, Store, open_store
from hub.store.ports_console import MessageFilter

SENDERS = ("trust-a", "trust-b", "trust-c", "trust-d")
PARTNERS = ("council-a", "council-b", "hostel-a", "hostel-b", "ips-a", "charity-a")
TYPES = ("DischargeNotice", "HousingRequest", "Referral")
BATCH = 1000


def fill(store: Store, messages: int, last_hour: int, people: int, now: float) -> tuple[str, str]:
    """Store the messages; return a correlation id and an index value that exist (for the timed searches)."""
    rng = random.Random(7)
    old = messages - last_hour
    batch: list[Intake] = []
    correlation = index = ""
    for n in range(messages):
        at = now - 3600 + 3600 * (n - old) / max(1, last_hour) if n >= old else now - 30 * 86400 + n * (
            30 * 86400 - 3600) / max(1, old)  # fmt: skip
        record = str(uuid.uuid4())
        person = f"idx-{rng.randrange(people)}"
        correlation = f"c-{n // 3}"
        index = person
        partner = PARTNERS[n % len(PARTNERS)]
        message = NewMessage(record, f"m-{n}", SENDERS[n % len(SENDERS)], TYPES[n % len(TYPES)], b"{}", at,
                             correlation_id=correlation, nhs_index=person)  # fmt: skip
        delivery = NewDelivery(f"d-{record}", record, partner, "bench", "push")
        batch.append(Intake([message], [delivery], [HubEvent("received", record, at)],
                            index_entries=[(message.sender, person, record)]))  # fmt: skip
        if len(batch) == BATCH:
            asyncio.run(store.accept_all(batch))
            batch = []
    if batch:
        asyncio.run(store.accept_all(batch))
    return correlation, index


def settle(store: Store, url: str) -> None:
    """Deliveries delivered a second after their message, 1% dead and 1% retrying (one statement each)."""
    statements = [
        "UPDATE deliveries SET state = 'delivered', attempts = 1, delivered_at = created_at + 1",
        "UPDATE deliveries SET state = 'dead', attempts = 4, delivered_at = NULL, last_error = 'HTTP 503' "
        "WHERE id IN (SELECT id FROM deliveries ORDER BY id LIMIT (SELECT count(*) / 100 FROM deliveries))",
        "UPDATE deliveries SET state = 'pending', attempts = 2, delivered_at = NULL, due_at = created_at + 60 "
        "WHERE state = 'delivered' AND id IN (SELECT id FROM deliveries ORDER BY id DESC LIMIT "
        "(SELECT count(*) / 100 FROM deliveries))",
    ]
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        for s in statements:
            conn.execute(s)
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            for s in statements:
                conn.execute(s)
            conn.execute("ANALYZE")


def timed(rounds: int, call: Callable[[], Any]) -> tuple[float, float]:
    """Median and 95th percentile of ``call`` in milliseconds (one warm-up call first)."""
    call()
    took = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return statistics.median(took), took[min(len(took) - 1, int(len(took) * 0.95))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--last-hour", type=int, default=20_000)
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        if args.store == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'hub.db'}"
            drop: Callable[[], None] = lambda: None  # noqa: E731
        else:
            from hub.testing.postgres import drop_postgres_database, fresh_postgres_database

            url = fresh_postgres_database()
            drop = lambda: drop_postgres_database(url)  # noqa: E731
        try:
            store = open_store(url, CodecRegistry(PlainCodec()))
            started = time.perf_counter()
            correlation, index = fill(store, args.messages, min(args.last_hour, args.messages), args.people, now)
            filled = time.perf_counter() - started
            settle(store, url)
            print(f"{args.store}: {args.messages:,} messages stored in {filled:.0f} s "
                  f"({args.messages / filled:,.0f}/s)", flush=True)  # fmt: skip
            first = store.search_messages(MessageFilter(), 50)
            deep = first[-1]
            for _ in range(19):
                deep = store.search_messages(MessageFilter(), 50, (deep["received"], deep["id"]))[-1]
            record = first[0]["id"]
            screens: dict[str, Callable[[], Any]] = {
                "overview": lambda: console.overview(store, now),
                "search, first page": lambda: store.search_messages(MessageFilter(), 51),
                "search by partner and type": lambda: store.search_messages(
                    MessageFilter(partner="council-a", message_type="DischargeNotice"), 51),
                "search 20 pages deep": lambda: store.search_messages(MessageFilter(), 51,
                                                                      (deep["received"], deep["id"])),
                "search by state dead": lambda: store.search_messages(MessageFilter(state="dead"), 51),
                "search by partner, type: no match": lambda: store.search_messages(
                    MessageFilter(partner="council-a", message_type="Referral"), 51),
                "search by correlation": lambda: store.search_messages(MessageFilter(correlation_id=correlation), 51),
                "search by NHS number (index)": lambda: store.search_messages(MessageFilter(
                    record_ids=[r["id"] for r in store.find_by_index(index)]), 51),
                "one message (tree)": lambda: store.message_view(record),
                "dead letters (1,000)": lambda: console.dead_deliveries(store, limit=1000),
                "audit log, first page": lambda: store.audit_events(limit=51),
                "audit log by actor": lambda: store.audit_events(actor="alice", limit=51),
            }  # fmt: skip
            if args.messages <= 200_000:  # it reads every delivered message's reply times
                screens["partners"] = lambda: console.partner_health(store, PARTNERS)
            print(f"{'screen':34} {'median ms':>10} {'p95 ms':>10} {'rows':>6}")
            for name, call in screens.items():
                median, p95 = timed(args.rounds, call)
                got = call()
                rows = len(got) if isinstance(got, list) else len(got.rows) if hasattr(got, "rows") else int(bool(got))
                print(f"{name:34} {median:10.1f} {p95:10.1f} {rows:6}", flush=True)
            store.close()
        finally:
            drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
