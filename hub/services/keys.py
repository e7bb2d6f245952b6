"""The file key ring: create, list, rotate, re-wrap data keys, retire, and export the public envelope keys.

Every function works on the ring named by ``hub.toml``'s ``[keys]`` table and
refuses (``OperationRefused``) when another provider manages the keys. Stored
bodies are never touched: re-wrapping changes only the wrapped data keys.
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


def rotate_key(ring: FileKeyRing) -> str:
    """Add a new primary KEK and return its id; older KEKs stay readable (running hubs pick it up within a second)."""
    return ring.rotate()


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


def retire_key(store: Store, ring: FileKeyRing, key_id: str, *, force: bool = False) -> None:
    """Destroy an old KEK's material.

    Refused while stored data keys still need it (unless ``force``: they become
    unreadable), and for the primary, a non-KEK or an unknown id.
    """
    in_use = store.key_usage().get(key_id, 0)
    if in_use and not force:
        raise OperationRefused(
            f"{key_id} still wraps {in_use} data keys; run 'hub keys rewrap' first (or --force to make them unreadable)"
        )
    try:
        ring.retire(key_id)
    except KeyRingError as exc:
        raise OperationRefused(str(exc)) from None


def export_public_keys(ring: FileKeyRing, out: Path) -> tuple[Path, Path]:
    """Write the hub's PUBLIC envelope keys (signing, encryption) as JWK files in ``out``; return their paths.

    Partners that seal need them; the private parts never leave the ring.
    """
    from hub.envelope import dump_jwk

    out.mkdir(parents=True, exist_ok=True)
    sig, enc = out / "hub.sig.pub.jwk", out / "hub.enc.pub.jwk"
    sig.write_text(dump_jwk(ring.envelope_signing_key().public()) + "\n")
    enc.write_text(dump_jwk(ring.envelope_decryption_keys()[0].public()) + "\n")
    return sig, enc
