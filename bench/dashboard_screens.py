"""How fast the dashboard's screens read a big store: each screen's service call, timed, on N messages.

Fills a fresh store (SQLite in a temporary directory by default, or ``--store postgresql``: a database of its own
on ``HUB_TEST_POSTGRES_URL``, dropped at the end) with ``--messages`` messages (default 1,000,000) from 4 senders
to 6 partners, spread over 30 days with ``--last-hour`` of them in the last hour, one delivery each, ``--people``
people. Every message goes through the store's own write path (``Store.accept_all``, batches of 1,000): its body
(about 600 bytes of JSON) encrypted by the hub's at-rest codec under a fresh key ring, its NHS number's keyed blind
index value in the index for its sender and its recipient, its ``received`` and ``delivered`` events (and, one
message in 500, a ``viewed`` by ``alice``) on the hash-chained audit log. Then one statement each settles the
deliveries as a running hub leaves them: delivered a second after their message, 1% dead, 1% retrying
(the only shortcut: the delivery worker's per-delivery transactions would take hours and leave the same rows).

Times, ``--rounds`` times each after one warm-up, what each screen asks of the store through the services the
screens call: the overview, the message search (first page; by partner; by type; by partner and type; one that
matches nothing; 20 pages deep by keyset; by state; by correlation; by NHS number through the blind index, audited),
one message's tree, the dead letters, the partners' health, the audit log (first page; by actor; by kind; by
message). Prints the median and the 95th percentile in milliseconds, and the fill rate. Asserts nothing about speed.

    python bench/dashboard_screens.py --messages 100000 --rounds 20
    python bench/dashboard_screens.py --store postgresql --messages 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from hub.bodies import CodecRegistry
from hub.crypto.at_rest import AesGcmCodec
from hub.crypto.blind_index import nhs_index, search_keys
from hub.crypto.keyring import FileKeyRing
from hub.plugin_api.events import HubEvent
from hub.services import console
from hub.store import Intake, NewDelivery, NewMessage, Store, open_store
from hub.store.ports_console import MessageFilter

SENDERS = ("trust-a", "trust-b", "trust-c", "trust-d")
PARTNERS = ("council-a", "council-b", "hostel-a", "hostel-b", "ips-a", "charity-a")
TYPES = ("DischargeNotice", "HousingRequest", "Referral")
BATCH = 1000
PASSPHRASE = "a passphrase for the bench"


def nhs_numbers(count: int) -> list[str]:
    """``count`` distinct valid NHS numbers (Modulus 11 check digit), of nobody, in a fixed order."""
    out: list[str] = []
    n = 400_000_000
    while len(out) < count:
        digits = f"{n:09d}"
        check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(digits)) % 11
        if check != 10:
            out.append(digits + str(0 if check == 11 else check))
        n += 7
    return out


def fill(store: Store, index_key: bytes, messages: int, last_hour: int, people: list[str],
         now: float) -> tuple[str, str]:  # fmt: skip
    """Store the messages; return a correlation id and an NHS number that exist (for the timed searches)."""
    rng = random.Random(7)
    values = [nhs_index(index_key, number) for number in people]
    old = messages - last_hour
    batch: list[Intake] = []
    correlation = number = ""
    for n in range(messages):
        at = now - 3600 + 3600 * (n - old) / max(1, last_hour) if n >= old else now - 30 * 86400 + n * (
            30 * 86400 - 3600) / max(1, old)  # fmt: skip
        record = str(uuid.uuid4())
        who = rng.randrange(len(people))
        correlation, number = f"c-{n // 3}", people[who]
        sender, partner, message_type = SENDERS[n % len(SENDERS)], PARTNERS[n % len(PARTNERS)], TYPES[n % len(TYPES)]
        body = orjson.dumps({"type": message_type, "message_id": f"m-{n}", "payload": {
            "person": {"nhs_number": number, "name": "A Person"}, "notes": "x" * 480}})  # fmt: skip
        message = NewMessage(record, f"m-{n}", sender, message_type, body, at, correlation_id=correlation,
                             nhs_index=values[who])  # fmt: skip
        delivery = NewDelivery(f"d-{record}", record, partner, "bench", "push")
        events = [HubEvent("received", record, at), HubEvent("delivered", record, at + 1, delivery.id, partner)]
        if n % 500 == 0:
            events.append(HubEvent("viewed", record, at + 2, actor="alice"))
        batch.append(Intake([message], [delivery], events,
                            index_entries=[(sender, values[who], record), (partner, values[who], record)]))  # fmt: skip
        if len(batch) == BATCH:
            asyncio.run(store.accept_all(batch))
            batch = []
    if batch:
        asyncio.run(store.accept_all(batch))
    return correlation, number


COPIES = [
    "INSERT INTO messages (id, message_id, sender, type, correlation_id, in_reply_to, parent_id, idempotency_key, "
    "fingerprint, received_at, body_codec, body, kek_id, data_key, nhs_index, status, status_at, answers_record) "
    "SELECT id || '~{k}', message_id || '~{k}', sender, type, correlation_id || '~{k}', in_reply_to, parent_id, "
    "idempotency_key, fingerprint, received_at - {k} * 0.001, body_codec, body, kek_id, data_key, nhs_index, status, "
    "status_at, answers_record FROM messages WHERE id NOT LIKE '%~%'",
    "INSERT INTO deliveries (id, record_id, partner, route, mode, state, attempts, due_at, created_at, type, "
    "received_at) SELECT id || '~{k}', record_id || '~{k}', partner, route, mode, state, attempts, due_at, "
    "created_at - {k} * 0.001, type, received_at - {k} * 0.001 FROM deliveries WHERE id NOT LIKE '%~%'",
    "INSERT INTO message_index (partner, nhs_index, record_id) "
    "SELECT partner, nhs_index, record_id || '~{k}' FROM message_index WHERE record_id NOT LIKE '%~%'",
    "INSERT INTO events (record_id, delivery_id, partner, at, kind, detail, actor, prev_hash, hash) "
    "SELECT record_id || '~{k}', delivery_id || '~{k}', partner, at - {k} * 0.001, kind, detail, actor, prev_hash, "
    "hash FROM events WHERE record_id NOT LIKE '%~%' ORDER BY seq",
]
"""``--copies``: copy ``{k}`` of every message the write path stored, with its deliveries, index entries and events:
the same rows (ciphertexts, blind index values, events) under ids suffixed ``~k``, a millisecond per copy earlier.
Their events keep their original's hashes: such a store's audit chain does not verify (no screen checks it)."""


COUNT_COPIES = (
    "INSERT INTO activity_minutes SELECT 'accepted', CAST(received_at / 60 AS INTEGER), sender, type, count(*) "
    "FROM messages WHERE id LIKE '%~{k}' GROUP BY 2, 3, 4 ON CONFLICT (kind, minute, partner, type) "
    "DO UPDATE SET count = activity_minutes.count + excluded.count"
)
"""SQLite: the copies' per-minute counts (its intake counts what it accepts; PostgreSQL's trigger counts any insert)."""


def copy(url: str, copies: int) -> None:
    """Make ``copies - 1`` copies of what is stored (``COPIES``), in one transaction each."""
    for k in range(1, copies):
        statements = [s.format(k=k) for s in COPIES]
        if url.startswith("sqlite"):
            import sqlite3

            conn = sqlite3.connect(url.removeprefix("sqlite:///"))
            for s in [*statements, COUNT_COPIES.format(k=k)]:
                conn.execute(s)
            conn.commit()
            conn.close()
        else:
            import psycopg

            with psycopg.connect(url) as pg:
                for s in statements:
                    pg.execute(s)


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
            conn.execute("VACUUM ANALYZE")


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


def screens(store: Store, keys: list[bytes], now: float, correlation: str, number: str) -> dict[str, Callable[[], Any]]:
    """What each screen asks, by name."""
    first = store.search_messages(MessageFilter(), 50)
    deep = first[-1]
    for _ in range(19):
        deep = store.search_messages(MessageFilter(), 50, (deep["received"], deep["id"]))[-1]
    record = first[0]["id"]
    dead = console.dead_deliveries(store, limit=1)[0]["message"]

    def search(where: MessageFilter, before: tuple[float, str] | None = None, nhs: str | None = None) -> Any:
        return console.search(store, where, nhs_number=nhs, index_keys=keys, actor="alice", limit=51, before=before)

    return {
        "overview": lambda: console.overview(store, now),
        "search, first page": lambda: search(MessageFilter()),
        "search by partner": lambda: search(MessageFilter(partner="council-a")),
        "search by type": lambda: search(MessageFilter(message_type="Referral")),
        "search by partner and type": lambda: search(MessageFilter(partner="council-a",
                                                                   message_type="DischargeNotice")),
        "search by partner and type: none": lambda: search(MessageFilter(partner="council-a",
                                                                         message_type="Referral")),
        "search by sender, last day": lambda: search(MessageFilter(partner="trust-b", received_from=now - 86400)),
        "search 20 pages deep": lambda: search(MessageFilter(), (deep["received"], deep["id"])),
        "search by state dead": lambda: search(MessageFilter(state="dead")),
        "search by correlation": lambda: search(MessageFilter(correlation_id=correlation)),
        "search by NHS number": lambda: search(MessageFilter(), nhs=number),
        "one message (tree)": lambda: store.message_view(dead),
        "newest message (tree)": lambda: store.message_view(record),
        "dead letters (1,000)": lambda: console.dead_deliveries(store, limit=1000),
        "partners": lambda: console.partner_health(store, PARTNERS),
        "audit log, first page": lambda: console.audit_entries(store, limit=51),
        "audit log by actor": lambda: console.audit_entries(store, actor="alice", limit=51),
        "audit log by actor: none": lambda: console.audit_entries(store, actor="mallory", limit=51),
        "audit log by kind": lambda: console.audit_entries(store, kind="viewed", limit=51),
        "audit log by message": lambda: console.audit_entries(store, record_id=dead, limit=51),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--last-hour", type=int, default=20_000)
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--only", help="time only the screens whose names contain this")
    parser.add_argument(
        "--copies",
        type=int,
        default=1,
        help="store messages/copies through the write path, then copy them in SQL (COPIES)",
    )
    parser.add_argument("--skip", help="time none of the screens whose names contain this")
    parser.add_argument(
        "--keep",
        help="a directory to keep the filled store in (a PostgreSQL one is not dropped), "
        "or to take it from when a run before kept one there: to time a change on the same store",
    )
    args = parser.parse_args()
    os.environ.setdefault("HUB_TEST_SCRYPT_N", "1024")  # the key ring's passphrase KDF: not what is measured
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(args.keep or tmp)
        saved = directory / "bench.json"
        if saved.exists():  # a store a run before filled and kept: opening it applies any newer migration
            kept = orjson.loads(saved.read_bytes())
            ring = FileKeyRing.open(directory / "keys", PASSPHRASE)
            url, now, correlation, number = kept["url"], kept["now"], kept["correlation"], kept["number"]
            store = open_store(url, CodecRegistry(AesGcmCodec(ring)))
            print(f"{args.store}: the store kept in {directory} ({kept['messages']:,} messages)", flush=True)
        else:
            directory.mkdir(parents=True, exist_ok=True)
            ring = FileKeyRing.create(directory / "keys", PASSPHRASE)
            if args.store == "sqlite":
                url = f"sqlite:///{directory / 'hub.db'}"
            else:
                from hub.testing import postgres

                url = postgres.fresh_postgres_database()
                if args.keep:  # the test kit drops what it made when this process ends: not this one
                    postgres._made.remove(url)
            now = time.time()
            store = open_store(url, CodecRegistry(AesGcmCodec(ring)))
            started = time.perf_counter()
            k = args.copies
            hour, people = min(args.last_hour, args.messages) // k, nhs_numbers(args.people // k)
            correlation, number = fill(store, ring.index_key(), args.messages // k, hour, people, now)
            filled = time.perf_counter() - started
            copy(url, k)
            settle(store, url)
            print(f"{args.store}: {args.messages // k:,} messages stored in {filled:.0f} s "
                  f"({args.messages // k / filled:,.0f}/s), copied {k} times and settled in "
                  f"{time.perf_counter() - started - filled:.0f} s",
                  flush=True)  # fmt: skip
            if args.keep:
                saved.write_bytes(orjson.dumps({"url": url, "now": now, "correlation": correlation, "number": number,
                                                "messages": args.messages}))  # fmt: skip
        try:
            print(f"{'screen':34} {'median ms':>10} {'p95 ms':>10} {'rows':>6}")
            for name, call in screens(store, search_keys(ring), now, correlation, number).items():
                if (args.only and args.only not in name) or (args.skip and args.skip in name):
                    continue
                median, p95 = timed(args.rounds, call)
                got = call()
                rows = len(got) if isinstance(got, list) else len(got.rows) if hasattr(got, "rows") else int(bool(got))
                print(f"{name:34} {median:10.1f} {p95:10.1f} {rows:6}", flush=True)
        finally:
            store.close()
            if not args.keep and url.startswith("postgresql"):
                from hub.testing.postgres import drop_postgres_database

                drop_postgres_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
