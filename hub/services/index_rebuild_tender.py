"""Running hubs finish a rebuild of the blind index that the process running it left unfinished.

Every process that runs delivery (``hub serve`` without ``--no-worker``, and ``hub worker``) looks every
``CHECK_SECONDS``, and once at start, for a rebuild some process began running (``hub keys rebuild-index``,
``hub keys rotate-index``, or another hub) and did not finish: it died (``kill -9``, a crash, a reboot) or
was stopped. Such a rebuild is resumed from its recorded cursor by exactly one process at a time: the one
that takes the store's rebuild lock (``hub.store.rebuild_lock``, freed at once when its holder dies); the
others find it held and look again later. The old index key is retired only once the rebuild has finished.

A rotation made with ``hub keys rotate-index --no-rebuild`` is not started here: it waits for an
operator's ``hub keys rebuild-index`` (a quiet hour), after which it is looked after like any other.
A key provider other than the file key ring has no index rotation, and nothing is done.

The re-keying of the stored fingerprints under a new fingerprint key (``hub keys rotate-fingerprint``) is
looked after the same way, in the same loop, under a lock of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from hub.crypto.keyring import FileKeyRing
from hub.services.errors import OperationRefused
from hub.services.key_rotation import DEFAULT_SETTLE_SECONDS, index_rebuild_left_behind, rebuild_index, this_process
from hub.store.ports import Store

log = logging.getLogger("hub.keys")

CHECK_SECONDS = 5.0
"""How often a running hub looks for a rebuild left unfinished."""


_NAMES = {"index": "blind index rebuild", "fingerprint": "fingerprint re-keying"}


def resume_left_behind(store: Store, ring: FileKeyRing, runner: str, stop: asyncio.Event,
                       settle_seconds: float = DEFAULT_SETTLE_SECONDS, purpose: str = "index") -> bool:  # fmt: skip
    """Resume a rebuild of ``purpose``'s keys left unfinished, if there is one and no other process runs it; True
    if this one ran it (to its end, or until ``stop``). ``settle_seconds``: ``[keys] index_settle_seconds``.
    Blocking: run it in a thread."""
    state = index_rebuild_left_behind(store, ring, purpose)
    if state is None:
        return False
    name = _NAMES[purpose]
    try:
        done = rebuild_index(store, ring, actor="hub", runner=runner, follow=False, should_stop=stop.is_set,
                             settle_seconds=settle_seconds, purpose=purpose)  # fmt: skip
    except OperationRefused as exc:  # the new key is gone from the ring (restored from a backup): say so, retry
        log.error("the %s to %s cannot go on: %s", name, state.new_key_id, exc)
        return False
    if done is None:
        return False  # another process holds it
    if done.finished:  # a warning: an operator should know that a rebuild was left behind, and by whom
        log.warning("%s resumed here and %s; %s retired (it was left unfinished by %s)",
                    name, done.progress(), done.old_key_id, state.runner)  # fmt: skip
    else:
        log.warning("%s left at %s (stopping); another process resumes it", name, done.progress())
    return True


async def tend_index_rebuild(
    store: Store,
    keys: Any,
    stop: asyncio.Event,
    *,
    settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    role: str = "hub",
    check_seconds: float = CHECK_SECONDS,
) -> None:
    """Until ``stop``: resume any rebuild left unfinished (see the module docstring), every ``check_seconds``."""
    if not isinstance(keys, FileKeyRing):
        return
    runner = this_process(role)
    while not stop.is_set():
        try:
            for purpose in _NAMES:
                await asyncio.to_thread(resume_left_behind, store, keys, runner, stop, settle_seconds, purpose)
        except Exception:  # the store unreachable for a moment: look again later
            log.exception("could not look after the blind index rebuild; trying again in %.0f s", check_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=check_seconds)
