"""The file key ring: create, list, rotate, re-wrap data keys, retire, and export the public envelope keys.

Every function works on the ring named by ``hub.toml``'s ``[keys]`` table and
refuses (``OperationRefused``) when another provider manages the keys. Stored
bodies are never touched: re-wrapping changes only the wrapped data keys.

Every rotation is on the audit chain (``key_rotated``, ``key_activated``,
``key_published``, ``key_retired``, ``index_rebuilt``; ``rewrapped`` per batch),
with key ids and purposes only, never material. The rotations of the hub's
envelope keys and of the blind-index key are in ``hub.services.key_rotation``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.config import Settings
from hub.crypto.keyring import FileKeyRing, KeyInfo, KeyRingError, passphrase_from_env
from hub.services.errors import OperationRefused
from hub.store.ports import Store


def _file_provider(settings: Settings) -> None:
    if settings.key_provider != "file":
        raise OperationRefused(f"keys are managed by the {settings.key_provider!r} provider, not by this command")


def create_key_ring(settings: Settings) -> FileKeyRing:
    """Create the ring (one primary KEK, one index key, envelope keys) under the passphrase in the environment."""
    try:
        return FileKeyRing.create(settings.keys_dir, passphrase_from_env(settings.passphrase_env))
    except KeyRingError as exc:
        raise OperationRefused(str(exc)) from None


def open_key_ring(settings: Settings, *, upgrade: bool = False) -> FileKeyRing:
    """Open the ring with the passphrase in the environment.

    With ``upgrade``, a ring encrypted below the scrypt cost floor is re-encrypted at
    the current cost first (its keys unchanged; ``ring.upgraded`` says it happened).
    """
    _file_provider(settings)
    try:
        return FileKeyRing.open(settings.keys_dir, passphrase_from_env(settings.passphrase_env), upgrade=upgrade)
    except KeyRingError as exc:
        raise OperationRefused(str(exc)) from None


@dataclass(frozen=True)
class KeyUse:
    """One key of the ring and, for a KEK, how many stored data keys it wraps."""

    info: KeyInfo
    data_keys: int


def list_keys(ring: FileKeyRing, store: Store) -> list[KeyUse]:
    """Every key of the ring in ring order, with the stored data keys each wraps. Reads only."""
    usage = store.key_usage()
    return [KeyUse(info, usage.get(info.id, 0)) for info in ring.infos()]


def rotate_key(ring: FileKeyRing, store: Store | None = None, actor: str = "operator") -> str:
    """Add a new primary KEK and return its id; older KEKs stay readable (running hubs pick it up within a second).

    With ``store``, the rotation is put on its audit chain.
    """
    before = ring.primary_kek_id()
    key_id = ring.rotate()
    if store is not None:
        audit_key_event(store, "key_rotated", actor, purpose="kek", **{"from": before, "to": key_id})
    return key_id


def audit_key_event(store: Store, kind: str, actor: str, **detail: object) -> None:
    """Put one key operation on the audit chain (ids and purposes only)."""
    import time

    from hub.plugin_api.events import HubEvent

    store.audit([HubEvent(kind, "", time.time(), detail=dict(detail), actor=actor)])


def keys_to_rewrap(store: Store, ring: FileKeyRing) -> int:
    """How many stored data keys are wrapped under a KEK other than the primary."""
    return sum(n for key_id, n in store.key_usage().items() if key_id != ring.primary_kek_id())


def rewrap(
    store: Store, ring: FileKeyRing, batch_size: int = 500, progress: Callable[[int], None] | None = None
) -> int:
    """Re-wrap every data key under an older KEK with the primary, batch by batch; return how many.

    ``progress(n)`` is called after each committed batch of ``n``. Safe beside a
    running hub. Refused when a data key cannot be unwrapped (its KEK retired or
    missing): the batches already done stay done.
    """
    from hub.bodies import BodyUnreadable

    total = 0
    while True:
        try:
            done = store.rewrap(ring, batch_size)
        except BodyUnreadable as exc:
            raise OperationRefused(f"cannot re-wrap: {exc}") from None
        if not done:
            return total
        total += done
        if progress is not None:
            progress(done)


REKEYED = {
    "index": ("searches: the index is being rebuilt", "rebuild-index"),
    "fingerprint": ("intake's repeat checks: the fingerprints are being re-keyed", "rebuild-fingerprints"),
}
"""Keys whose stored values are re-keyed in the background: what still needs the old key meanwhile, and the
command that finishes the work (and retires the key itself)."""


def retire_key(store: Store, ring: FileKeyRing, key_id: str, *, force: bool = False, actor: str = "operator") -> None:
    """Destroy an old key's material, on the audit chain.

    A KEK: refused while stored data keys still need it (unless ``force``: they become
    unreadable). An envelope key: only a ``previous`` one (after the overlap partners need)
    or a ``next`` one never activated. An index or fingerprint key: only once the rebuild
    (re-keying) under its successor has finished (``hub keys rebuild-index`` and ``hub keys
    rebuild-fingerprints`` retire it themselves). Refused for the key in use and an unknown id.
    """
    info = next((i for i in ring.infos() if i.id == key_id), None)
    if info is not None and info.purpose == "kek":
        in_use = store.key_usage().get(key_id, 0)
        if in_use and not force:
            raise OperationRefused(
                f"{key_id} still wraps {in_use} data keys; run 'hub keys rewrap' first "
                "(or --force to make them unreadable)"
            )
    if info is not None and info.purpose in REKEYED and info.status != "retired":
        state = store.index_rebuild(info.purpose)
        if state is not None and state.old_key_id == key_id and not state.finished and not force:
            needed_by, command = REKEYED[info.purpose]
            raise OperationRefused(
                f"{key_id} is still needed by {needed_by} ({state.progress()}); "
                f"'hub keys {command}' finishes it and retires the key"
            )
    try:
        ring.retire(key_id)
    except KeyRingError as exc:
        raise OperationRefused(str(exc)) from None
    detail: dict[str, object] = {"purpose": info.purpose if info else "", "key": key_id}
    if info is not None and info.kid:
        detail["kid"] = info.kid
    if force:
        detail["forced"] = True
    audit_key_event(store, "key_retired", actor, **detail)


JWKS_FILE = "hub.jwks.json"


def export_public_keys(ring: FileKeyRing, out: Path, store: Store | None = None,
                       actor: str = "operator") -> tuple[Path, Path, Path]:  # fmt: skip
    """Write the hub's PUBLIC envelope keys in ``out``; return the paths (signing, encryption, key set).

    ``hub.sig.pub.jwk`` is the active signing key, ``hub.enc.pub.jwk`` the active encryption key
    (what a partner seals to), and ``hub.jwks.json`` the key set a partner should load: every
    signing key whose envelopes may still arrive (active, next, previous) and every encryption key
    the partner may seal to (active, next). Each ``kid`` is the key's RFC 7638 thumbprint. The
    keys written are recorded as published (a ``next`` key is activated only after that), and,
    with ``store``, the export is put on its audit chain. The private parts never leave the ring.
    """
    import json

    from hub.envelope import dump_jwk

    published = ring.published_envelope_keys()
    out.mkdir(parents=True, exist_ok=True)
    sig, enc, jwks = out / "hub.sig.pub.jwk", out / "hub.enc.pub.jwk", out / JWKS_FILE
    sig.write_text(dump_jwk(ring.envelope_signing_key().public()) + "\n")
    enc.write_text(dump_jwk(ring.envelope_decryption_keys()[0].public()) + "\n")
    jwks.write_text(json.dumps({"keys": [key.to_dict() for _, key in published]}, indent=2) + "\n")
    ring.mark_published([key_id for key_id, _ in published])
    if store is not None:
        audit_key_event(store, "key_published", actor, keys=[key_id for key_id, _ in published],
                        kids=[key.kid for _, key in published])  # fmt: skip
    return sig, enc, jwks


def begin_passphrase_change(ring: FileKeyRing, store: Store, new_passphrase_env: str, actor: str = "operator") -> None:
    """Seal the ring under the passphrase in ``new_passphrase_env`` as well; the current one still opens it
    (``hub.crypto.keyring_passphrase``). On the audit chain as ``key_rotated`` (purpose ``passphrase``)."""
    try:
        ring.begin_passphrase_change(passphrase_from_env(new_passphrase_env))
    except KeyRingError as exc:
        raise OperationRefused(str(exc)) from None
    audit_key_event(store, "key_rotated", actor, purpose="passphrase", step="begun", scrypt_n=ring.kdf_cost())


def finish_passphrase_change(ring: FileKeyRing, store: Store, actor: str = "operator") -> str:
    """End the passphrase change: the old passphrase opens nothing any more. Return when the change began.
    On the audit chain as ``key_retired`` (purpose ``passphrase``)."""
    try:
        begun = ring.finish_passphrase_change()
    except KeyRingError as exc:
        raise OperationRefused(str(exc)) from None
    audit_key_event(store, "key_retired", actor, purpose="passphrase", begun=begun)
    return begun
