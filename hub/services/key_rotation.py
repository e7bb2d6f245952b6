"""Rotating the hub's envelope keys and its blind-index key without stopping it, each step on the audit chain.

Envelope keys (``sig`` signs what the hub seals; ``enc`` opens what partners seal to the hub)::

    add_envelope_key      -> a ``next`` key (an ``enc`` one already opens envelopes sealed to it)
    hub keys export       -> partners get the key set holding it (``published_at`` recorded)
    activate_envelope_key -> it is ``active`` (signs / is offered to partners); the old one is ``previous``
                             (a previous signing key stays in the key set; a previous encryption key still opens)
    retire_key            -> after the overlap partners need, the previous key's material is destroyed; an
                             envelope sealed to it is refused saying so

Running hubs see each step within a second (the key ring is re-read when its file changes).

The blind-index key: ``rotate_index_key`` adds a new primary index key (new messages are indexed under it at
once) and begins the rebuild; ``rebuild_index`` re-indexes the stored messages batch by batch (resumable: it
continues from its cursor after a crash), while searches look under both keys; when it has finished it retires
the old key. Progress is ``IndexRebuild.progress()`` (``hub keys list`` shows it).

The fingerprint key (duplicate detection at intake) rotates the same way, through the same runner and lock
machinery with ``purpose="fingerprint"``: ``rotate_fingerprint_key`` adds a new primary fingerprint key (new
messages are fingerprinted under it; a repeat is recognised under either key meanwhile), ``rebuild_index(...,
purpose="fingerprint")`` re-keys the stored fingerprints and then retires the old key.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import Literal

from hub.crypto.blind_index import index_of_message
from hub.crypto.fingerprint import fingerprint
from hub.crypto.keyring import FileKeyRing, KeyRingError
from hub.services.errors import OperationRefused
from hub.services.keys import audit_key_event
from hub.store.index_rebuild import IndexRebuild
from hub.store.ports import Store

DEFAULT_SETTLE_SECONDS = 10.0
"""How long after an index rotation the rebuild waits before its last pass (running hubs switch within ~1 s)."""


def _refused(exc: KeyRingError) -> OperationRefused:
    return OperationRefused(str(exc))


def add_envelope_key(
    store: Store, ring: FileKeyRing, purpose: Literal["sig", "enc"], alg: str, actor: str = "operator"
) -> str:
    """Add a ``next`` envelope key of ``purpose`` (``alg``: EdDSA/ES256 to sign, X25519/P-256 to receive)."""
    try:
        key_id = ring.add_envelope_key(purpose, alg)
    except KeyRingError as exc:
        raise _refused(exc) from None
    info = next(i for i in ring.infos() if i.id == key_id)
    audit_key_event(store, "key_rotated", actor, purpose=purpose, to=key_id, kid=info.kid, status="next")
    return key_id


def activate_envelope_key(
    store: Store, ring: FileKeyRing, key_id: str, actor: str = "operator", min_published_seconds: float = 0.0
) -> str | None:
    """Make a published ``next`` envelope key active; return the id of the key it replaces (now ``previous``).

    Refused when it was never published (``hub keys export``) or published less than
    ``min_published_seconds`` ago: partners must hold a signing key before the hub signs with it.
    """
    info = next((i for i in ring.infos() if i.id == key_id), None)
    if info is not None and info.published_at and min_published_seconds > 0:
        from datetime import datetime

        age = time.time() - datetime.fromisoformat(info.published_at.replace("Z", "+00:00")).timestamp()
        if age < min_published_seconds:
            raise OperationRefused(
                f"{key_id} was published {age / 3600:.1f} h ago, less than the {min_published_seconds / 3600:.1f} h "
                "partners are given to load it; activate it later"
            )
    try:
        replaced = ring.activate(key_id)
    except KeyRingError as exc:
        raise _refused(exc) from None
    audit_key_event(store, "key_activated", actor, purpose=info.purpose if info else "", key=key_id,
                    kid=info.kid if info else None, replaced=replaced)  # fmt: skip
    return replaced


def rotate_index_key(store: Store, ring: FileKeyRing, actor: str = "operator") -> IndexRebuild:
    """Add a new primary index key and begin the rebuild under it (on the audit chain); return its state.

    Refused while an earlier rebuild is unfinished. Run ``rebuild_index`` next (``hub keys rotate-index``
    does, unless told not to); until it finishes, searches look under both keys.
    """
    state = store.index_rebuild()
    if state is not None and not state.finished:
        raise OperationRefused(f"the index is still being rebuilt ({state.progress()}); "
                               "run 'hub keys rebuild-index' to finish it first")  # fmt: skip
    try:
        old, new = ring.rotate_index()
    except KeyRingError as exc:
        raise _refused(exc) from None
    return store.begin_index_rebuild(old, new, time.time(), actor)


def rotate_fingerprint_key(store: Store, ring: FileKeyRing, actor: str = "operator") -> IndexRebuild:
    """Add a new primary fingerprint key and begin re-keying the stored fingerprints under it (on the audit
    chain); return its state. Refused while an earlier one is unfinished. Run ``rebuild_index(...,
    purpose="fingerprint")`` next (``hub keys rotate-fingerprint`` does, unless told not to)."""
    state = store.index_rebuild("fingerprint")
    if state is not None and not state.finished:
        raise OperationRefused(f"the fingerprints are still being re-keyed ({state.progress()}); "
                               "run 'hub keys rebuild-fingerprints' to finish it first")  # fmt: skip
    try:
        old, new = ring.rotate_fingerprint()
    except KeyRingError as exc:
        raise _refused(exc) from None
    return store.begin_index_rebuild(old, new, time.time(), actor, "fingerprint")


def live_key_ids(ring: FileKeyRing, purpose: str) -> list[str]:
    """The ring's live keys of ``purpose`` (``index`` or ``fingerprint``), the one in use first."""
    return ring.fingerprint_key_ids() if purpose == "fingerprint" else ring.index_key_ids()


def _value_under(purpose: str, key: bytes) -> Callable[[dict[str, object]], str | None]:
    """What a rebuild of ``purpose`` writes for a message under ``key``."""
    if purpose == "fingerprint":
        return lambda message: fingerprint(key, message)
    return lambda message: index_of_message(key, message)


def this_process(role: str) -> str:
    """How a rebuild names the process running it: ``ROLE on HOST (pid N)``."""
    return f"{role} on {socket.gethostname()} (pid {os.getpid()})"


def rebuild_index(
    store: Store,
    ring: FileKeyRing,
    *,
    actor: str = "operator",
    batch_size: int = 500,
    settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    progress: Callable[[IndexRebuild], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    runner: str | None = None,
    follow: bool = True,
    should_stop: Callable[[], bool] = lambda: False,
    purpose: str = "index",
) -> IndexRebuild | None:
    """Re-index every stored message under the primary index key, then retire the key it replaced; with
    ``purpose="fingerprint"``, re-key the stored fingerprints under the primary fingerprint key instead.

    ``store`` must be opened with the ring's codecs (bodies are decrypted to read the NHS number).
    Resumes an unfinished rebuild from its cursor; begins the rebuild when the ring was rotated but
    the store never heard of it (a crash between the two). Returns the finished state, or None when
    the index key never rotated. ``progress`` is called after every batch. Safe beside running hubs.

    One process at a time runs it, holding the store's rebuild lock (``Store.lock_index_rebuild``,
    recorded as ``runner``, by default this process). While another holds it, ``follow`` waits and
    reports its progress, taking over if that process dies, until the rebuild is finished and the old
    key retired; without ``follow`` it returns None at once. ``should_stop`` is asked between batches:
    when true, the lock is given up and the unfinished state returned (another process may resume it).
    """
    if batch_size < 1:
        raise OperationRefused(f"the batch size must be at least 1, not {batch_size}")
    ids = live_key_ids(ring, purpose)
    state = store.index_rebuild(purpose)
    if len(ids) > 1 and (state is None or state.new_key_id != ids[0]):
        state = store.begin_index_rebuild(ids[1], ids[0], time.time(), actor, purpose)
    if state is None:
        return None
    command = "rebuild-index" if purpose == "index" else "rebuild-fingerprints"
    runner = runner or this_process(f"hub keys {command} ({actor})")
    while (held := store.lock_index_rebuild(state.new_key_id, runner, purpose)) is None:
        if not follow or should_stop():
            return None
        state = store.index_rebuild(purpose) or state  # another process runs it: follow it
        if progress is not None:
            progress(state)
        if state.finished and state.old_key_id not in live_key_ids(ring, purpose):
            return state
        sleep(0.5)
    try:
        return _run_rebuild(store, ring, store.index_rebuild(purpose) or state, actor, batch_size, settle_seconds,
                            progress, sleep, should_stop)  # fmt: skip
    finally:
        held.release()


def _run_rebuild(
    store: Store, ring: FileKeyRing, state: IndexRebuild, actor: str, batch_size: int, settle_seconds: float,
    progress: Callable[[IndexRebuild], None] | None, sleep: Callable[[float], None], should_stop: Callable[[], bool],
) -> IndexRebuild:  # fmt: skip
    """The rebuild's batches and the old key's retirement, by the process holding the rebuild lock."""
    if not state.finished:
        try:
            new_key = ring.key_material(state.new_key_id)
        except KeyRingError as exc:
            raise _refused(exc) from None

        reindex = _value_under(state.purpose, new_key)
        while not state.finished:
            if should_stop():
                return state
            state, seen = store.rebuild_index_batch(state.new_key_id, reindex, batch_size, time.time(),
                                                    settle_seconds)  # fmt: skip
            if progress is not None:
                progress(state)
            if not state.finished and seen < batch_size:
                sleep(min(0.5, max(0.05, settle_seconds / 10)))  # waiting for running hubs to switch keys
    if state.old_key_id in live_key_ids(ring, state.purpose):  # finished: nothing needs the old key any more
        try:
            ring.retire(state.old_key_id)
        except KeyRingError as exc:
            raise _refused(exc) from None
        audit_key_event(store, "key_retired", actor, purpose=state.purpose, key=state.old_key_id)
    return state


def index_rebuild_left_behind(store: Store, ring: FileKeyRing, purpose: str = "index") -> IndexRebuild | None:
    """A rebuild that a process began running and did not finish (or finished without retiring the old key):
    what running hubs resume. None when there is none, or when no process ever ran it (``hub keys rotate-index
    --no-rebuild`` leaves it for an operator). Reads only. ``purpose``: ``index`` or ``fingerprint``."""
    state = store.index_rebuild(purpose)
    if state is None or state.runner is None:
        return None
    if state.finished and state.old_key_id not in live_key_ids(ring, purpose):
        return None
    return state
