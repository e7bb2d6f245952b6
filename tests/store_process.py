"""One OS process of the many-process store tests (``tests/test_store_postgres.py``).

``python tests/store_process.py ACTION URL START_AT [N]``: wait until the wall clock reads
``START_AT`` (so that every process starts at once), then

- ``open``: open the store (applying its migrations) and print ``opened``;
- ``claim``: claim due deliveries in batches of 5 until none is left; print the ids as JSON;
- ``audit``: append ``N`` audit events, and ``N`` accepted messages, in small interleaved writes;
- ``ordered``: accept ``N`` messages whose deliveries share one order key, five at a time (so that
  the writer groups them), each named ``<pid>-<i>`` in the order submitted;
- ``deliver``: claim due deliveries in batches of 10, "send" each (an insert into the table
  ``arrivals`` the test made, in autocommit, in a shuffled order as concurrent sends would land)
  and record it delivered, until nothing is left to claim for a second.

Bodies are stored with ``PlainCodec``: these processes test the store, not encryption.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time

from hub.bodies import CodecRegistry, PlainCodec
from hub.plugin_api.events import HubEvent
from hub.store import DeliveryState, Intake, NewDelivery, NewMessage, Outcome, open_store


async def claim_all(store) -> list[str]:
    taken: list[str] = []
    while batch := await store.claim(5, time.time(), 300.0):
        taken += [job.delivery_id for job in batch]
    return taken


async def write(store, n: int) -> None:
    pid = os.getpid()
    for i in range(n):
        message = NewMessage(f"{pid}-{i}", f"m-{pid}-{i}", f"sender-{pid}", "HousingRequest", b"{}", time.time())
        await asyncio.gather(
            store.accept(Intake([message], [], [HubEvent("received", message.id, time.time())])),
            store.audit_async([HubEvent("body_read", message.id, time.time(), actor=f"process-{pid}")]),
        )


async def accept_ordered(store, n: int) -> None:
    pid = os.getpid()
    intakes = []
    for i in range(n):
        message = NewMessage(f"{pid}-{i}", f"m-{pid}-{i}", "trust-a", "HousingRequest", b"{}", time.time())
        delivery = NewDelivery(f"d-{pid}-{i}", message.id, "council-luton", "to-council", "push", "anne")
        intakes.append(Intake([message], [delivery], [HubEvent("received", message.id, time.time())]))
    for start in range(0, n, 5):
        await asyncio.gather(*(store.accept(intake) for intake in intakes[start : start + 5]))


async def deliver(store, url: str) -> None:
    import psycopg

    idle_since = time.monotonic()
    with psycopg.connect(url, autocommit=True) as partner:
        while time.monotonic() - idle_since < 1.0:
            jobs = await store.claim(10, time.time(), 300.0)
            if not jobs:
                await asyncio.sleep(0.01)
                continue
            idle_since = time.monotonic()
            random.shuffle(jobs)
            for job in jobs:
                partner.execute("INSERT INTO arrivals (message_id) VALUES (%s)", (job.message_id,))
            await store.record([Outcome(j.delivery_id, j.record_id, j.partner, DeliveryState.DELIVERED, j.attempts,
                                        time.time(), lease_id=j.lease_id) for j in jobs])  # fmt: skip


def main() -> None:
    action, url, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3])
    time.sleep(max(0.0, start_at - time.time()))
    store = open_store(url, CodecRegistry(PlainCodec()))
    try:
        if action == "open":
            print("opened")
        elif action == "claim":
            print(json.dumps(asyncio.run(claim_all(store))))
        elif action == "audit":
            asyncio.run(write(store, int(sys.argv[4])))
            print("written")
        elif action == "ordered":
            asyncio.run(accept_ordered(store, int(sys.argv[4])))
            print("accepted")
        elif action == "deliver":
            asyncio.run(deliver(store, url))
            print("delivered")
    finally:
        store.close()


if __name__ == "__main__":
    main()
