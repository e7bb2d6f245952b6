"""One OS process of the many-process store tests (``tests/test_store_postgres.py``).

``python tests/store_process.py ACTION URL START_AT [N]``: wait until the wall clock reads
``START_AT`` (so that every process starts at once), then

- ``open``: open the store (applying its migrations) and print ``opened``;
- ``claim``: claim due deliveries in batches of 5 until none is left; print the ids as JSON;
- ``audit``: append ``N`` audit events, and ``N`` accepted messages, in small interleaved writes.

Bodies are stored with ``PlainCodec``: these processes test the store, not encryption.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from hub.bodies import CodecRegistry, PlainCodec
from hub.plugin_api.events import HubEvent
from hub.store import Intake, NewMessage, open_store


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
    finally:
        store.close()


if __name__ == "__main__":
    main()
