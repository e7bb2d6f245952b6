"""CPU per intake of the SQLite store's write path, in one process: no HTTP, no validation, no delivery.

``--n`` intakes shaped like the end-to-end benchmark's (a 1.3 KB body encrypted at rest, one push delivery, a
search entry, two audit events) go through ``store.accept`` from ``--concurrency`` tasks on uvloop, as intake
hands them to the writer in a running hub. It prints the process's CPU time per intake (every thread: the event
loop and the store's writer) and intakes per second. CPU per intake is the steadier figure on a shared machine.
It asserts nothing.

    PYTHONPATH=. python bench/store_accept.py --n 10000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import uvloop

from hub.bodies import CodecRegistry
from hub.crypto.at_rest import AesGcmCodec
from hub.crypto.keyring import FileKeyRing
from hub.plugin_api.events import HubEvent
from hub.store import Store, open_store
from hub.store.records import Intake, NewDelivery, NewMessage

BODY = b'{"payload":"' + b"a" * 1300 + b'"}'


def intake(n: int) -> Intake:
    """An intake like the router plans for one message from a trust to one council."""
    record, now = str(uuid.uuid4()), time.time()
    message = NewMessage(id=record, message_id=f"m-{n}", sender="trust", type="HousingRequest", body=BODY,
                         received_at=now, fingerprint=f"fp-{n}", nhs_index=f"ix-{n}")  # fmt: skip
    delivery = NewDelivery(str(uuid.uuid4()), record, "council", "to-council", "push", None)
    events = [HubEvent("received", record, now, detail={"type": "HousingRequest", "sender": "trust"}),
              HubEvent("routed", record, now, delivery.id, "council", {"route": "to-council"})]  # fmt: skip
    return Intake([message], [delivery], events, None, [("trust", f"ix-{n}", record)])


async def accept_all(store: Store, n: int, concurrency: int) -> tuple[float, float]:
    """CPU seconds and wall seconds for ``n`` intakes from ``concurrency`` tasks."""
    pending = iter([intake(i) for i in range(n)])

    async def sender() -> None:
        for one in pending:
            await store.accept(one)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    """Run once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="intakes (default 10000)")
    parser.add_argument("--concurrency", type=int, default=64, help="intakes in flight (default 64)")
    args = parser.parse_args()
    os.environ.setdefault("HUB_TEST_SCRYPT_N", "1024")  # a throwaway ring: the key derivation cost is not measured
    with tempfile.TemporaryDirectory() as tmp:
        keys = FileKeyRing.create(Path(tmp) / "keys", "a throwaway passphrase")
        store = open_store(f"sqlite:///{tmp}/hub.db", CodecRegistry(AesGcmCodec(keys)))
        try:
            cpu, wall = uvloop.run(accept_all(store, args.n, args.concurrency))
        finally:
            store.close()
    print(f"{args.n} intakes, {args.concurrency} in flight: {1e6 * cpu / args.n:.0f} us of CPU each, "
          f"{args.n / wall:,.0f} intakes/s")  # fmt: skip


if __name__ == "__main__":
    main()
