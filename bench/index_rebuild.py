"""How fast the blind index is rebuilt under a new key: messages re-indexed per second, SQLite and PostgreSQL.

The rebuild (``hub keys rotate-index`` / ``rebuild-index``, ``hub.services.key_rotation.rebuild_index``)
decrypts each stored body that has a blind-index value (unwrap its data key, AES-256-GCM), parses it,
computes HMAC-SHA256 of the NHS number under the new key and rewrites the value and the message's search
entries, in transactions of ``--batch-size`` messages. This stores ``--messages`` messages about a few
people (each with a search entry for its sender and one recipient, bodies encrypted with a fresh key ring),
rotates the index key and times the whole rebuild (settle time 0, so the last pass follows at once).

    python bench/index_rebuild.py --messages 5000 --batch-size 500 --rounds 3 --backends sqlite postgresql

PostgreSQL runs use a fresh database (``hub.testing.postgres``) on ``HUB_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), dropped afterwards. Medians of the rounds are printed.
Nothing is asserted about speed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

from hub.bodies import CodecRegistry
from hub.crypto.at_rest import AesGcmCodec
from hub.crypto.blind_index import index_of_message
from hub.crypto.keyring import FileKeyRing
from hub.plugin_api.events import HubEvent
from hub.services.key_rotation import rebuild_index, rotate_index_key
from hub.store import Intake, NewDelivery, NewMessage, open_store
from hub.store.url import sqlite_url
from hub.testing.postgres import drop_postgres_database, fresh_postgres_database

PEOPLE = ("9434765919", "9434765870", "4010232137")  # valid NHS numbers (Modulus 11), of nobody


def fill(store, ring: FileKeyRing, count: int) -> None:
    """``count`` messages, each indexed under the ring's index key for its sender and one recipient."""
    for n in range(count):
        record = str(uuid.uuid4())
        message = {"type": "HousingRequest", "message_id": f"m-{n}",
                   "payload": {"person": {"nhs_number": PEOPLE[n % len(PEOPLE)]}, "padding": "x" * 1500}}  # fmt: skip
        value = index_of_message(ring.index_key(), message)
        new = NewMessage(id=record, message_id=f"m-{n}", sender="trust-a", type="HousingRequest",
                         body=orjson.dumps(message), received_at=time.time() - 3600, nhs_index=value)  # fmt: skip
        delivery = NewDelivery(str(uuid.uuid4()), record, "council-luton", "to-council", "push")
        entries = [("trust-a", value, record), ("council-luton", value, record)] if value else []
        store.accept_now(Intake([new], [delivery], [HubEvent("received", record, time.time())], None, entries))


def one_round(backend: str, messages: int, batch_size: int, directory: Path) -> float:
    """Seconds to rebuild the index of ``messages`` messages on a fresh store of ``backend``."""
    os.environ.setdefault("HUB_TEST_SCRYPT_N", "1024")
    ring = FileKeyRing.create(directory / f"keys-{uuid.uuid4().hex[:8]}", "a passphrase for the bench")
    url = fresh_postgres_database() if backend == "postgresql" else sqlite_url(directory / f"{uuid.uuid4()}.db")
    store = open_store(url, CodecRegistry(AesGcmCodec(ring)))
    try:
        fill(store, ring, messages)
        rotate_index_key(store, ring, actor="bench")
        started = time.perf_counter()
        state = rebuild_index(store, ring, actor="bench", batch_size=batch_size, settle_seconds=0.0)
        elapsed = time.perf_counter() - started
        assert state is not None and state.finished and state.done == messages, state
        return elapsed
    finally:
        store.close()
        if backend == "postgresql":
            drop_postgres_database(url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    args = parser.parse_args(argv)
    print(f"index rebuild of {args.messages} messages (2 search entries each, 1.5 KiB bodies), "
          f"batches of {args.batch_size}, median of {args.rounds} rounds")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends:
            times = [one_round(backend, args.messages, args.batch_size, Path(tmp)) for _ in range(args.rounds)]
            median = statistics.median(times)
            print(f"  {backend:10}  {median:7.2f} s   {args.messages / median:8.0f} messages/s")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
