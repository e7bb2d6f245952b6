"""The key ring file's machinery: its format, encryption under the passphrase, loading and saving.

``hub.crypto.keyring`` describes the file and the keys in it (``FileKeyRing``); this module holds what
every part of the ring shares: reading and decrypting the file (``RingBase.load``), sealing a new key
under the passphrase key (``_add_key``), writing it atomically (``_save``), and changing it one process
at a time (``_changes_ring``). The passphrase key is derived with scrypt (``scrypt_cost``).
"""

from __future__ import annotations

import base64
import fcntl
import functools
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

KEYRING_FILE = "keyring.json"
SCRYPT_N = 2**17
SCRYPT_N_FLOOR = 2**17
TEST_COST_ENV = "HUB_TEST_SCRYPT_N"


class KeyRingError(Exception):
    """A key problem a person must act on (wrong passphrase, missing ring, retired key)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


def scrypt_cost() -> tuple[int, int]:
    """The scrypt N for new rings and the lowest N a ring may have: ``(SCRYPT_N, SCRYPT_N_FLOOR)``.

    ``HUB_TEST_SCRYPT_N`` (tests only) replaces both with its value, so that
    test rings are cheap and the floor is still enforced against them.
    """
    value = os.environ.get(TEST_COST_ENV)
    if not value:
        return SCRYPT_N, SCRYPT_N_FLOOR
    n = int(value) if value.isdigit() else 0
    if not 2**10 <= n <= SCRYPT_N or n & (n - 1):
        raise KeyRingError(f"{TEST_COST_ENV} must be a power of two from 1024 to {SCRYPT_N} (it is for tests only)")
    return n, n


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class KeyInfo:
    """What ``hub keys list`` shows of one key: never its material."""

    id: str
    purpose: str
    status: str
    created_at: str
    retired_at: str | None = None
    kid: str | None = None
    """An envelope key's RFC 7638 thumbprint (public); None for symmetric keys."""
    published_at: str | None = None
    """When an envelope key was first written by ``hub keys export``."""
    activated_at: str | None = None


LOCK_FILE = "keyring.lock"

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _changes_ring(method: _Method) -> _Method:
    """Run a method that changes the ring on the ring as it is on disk now, one process at a time.

    Takes an exclusive lock (``keyring.lock`` beside the ring) and re-reads the file first, so that
    a command that has held the ring open for a long time (a rebuild of the blind index) never
    writes back a stale copy over another command's change.
    """

    @functools.wraps(method)
    def locked(self: RingBase, *args: Any, **kwargs: Any) -> Any:
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self.load()
            return method(self, *args, **kwargs)
        finally:
            os.close(fd)  # releases the lock

    return cast(_Method, locked)


class RingBase:
    """The key ring file, opened with a passphrase. Keys live in memory only while the hub runs."""

    def __init__(self, directory: Path, passphrase: str) -> None:
        self.directory = Path(directory)
        self.path = self.directory / KEYRING_FILE
        self._passphrase = passphrase.encode("utf-8")
        self._doc: dict[str, Any] = {}
        self._keys: dict[str, bytes] = {}
        self._mtime = 0.0
        self._checked = 0.0
        self._derived: dict[tuple[str, int, int, int], bytes] = {}
        self._lock = threading.RLock()
        self.upgraded = False
        self.on_previous_passphrase = False
        """True when this process's passphrase is the one a passphrase change replaces (``keyring_passphrase``)."""

    def load(self, *, upgrade: bool = False) -> None:
        """(Re)read the file and decrypt every live key; a ring below the cost floor is refused unless ``upgrade``."""
        try:
            stat = self.path.stat()
            doc = json.loads(self.path.read_text())
        except FileNotFoundError:
            raise KeyRingError(f"{self.path}: no key ring (run 'hub keys init')") from None
        except json.JSONDecodeError as exc:
            raise KeyRingError(f"{self.path}: not a key ring file ({exc.msg})") from None
        if stat.st_mode & 0o077:
            raise KeyRingError(f"{self.path}: readable by others (mode {stat.st_mode & 0o777:o}); chmod 600 it")
        new_n, floor = scrypt_cost()
        kdf = doc.get("kdf") if isinstance(doc, dict) else None
        if not isinstance(kdf, dict) or kdf.get("name") != "scrypt" or not isinstance(kdf.get("n"), int):
            raise KeyRingError(f"{self.path}: not a key ring file (no scrypt parameters)")
        below_floor = kdf["n"] < floor
        if below_floor and not upgrade:
            raise KeyRingError(
                f"{self.path}: the ring's passphrase key is derived with scrypt N={kdf['n']}, below the N={floor} "
                f"this hub requires; run 'hub keys rewrap' once to re-encrypt the ring at N={new_n} "
                "(the keys in it stay the same)"
            )
        try:
            keys, previous = self._decrypt_all(doc, "kdf", "material"), False
        except InvalidTag:  # during a passphrase change, the passphrase it replaces still opens the ring
            if not isinstance(doc.get("previous_kdf"), dict):
                raise KeyRingError(f"{self.path}: wrong passphrase (or the file was altered)") from None
            try:
                keys, previous = self._decrypt_all(doc, "previous_kdf", "previous_material"), True
            except InvalidTag:
                raise KeyRingError(f"{self.path}: wrong passphrase (or the file was altered)") from None
            below_floor = False  # re-encrypting is for a process holding the new passphrase
        for entry in doc["keys"]:  # rings made before envelope key rotation did not record the kid
            if entry["purpose"] in ("sig", "enc") and not entry.get("kid") and entry["id"] in keys:
                from hub.envelope import load_jwk

                entry["kid"] = load_jwk(keys[entry["id"]]).kid
        with self._lock:  # readers in other threads see the old ring or the new, never half of each
            self._doc, self._keys = doc, keys
            self._mtime = stat.st_mtime
            self.on_previous_passphrase = previous
        if below_floor:
            self._reseal()

    def _decrypt_all(self, doc: dict[str, Any], kdf_field: str, material_field: str) -> dict[str, bytes]:
        """Every live key of ``doc``, opened with this passphrase under ``doc[kdf_field]``; ``InvalidTag`` if not."""
        wrapping = self._wrapping_key(doc[kdf_field])
        keys: dict[str, bytes] = {}
        for entry in doc["keys"]:
            if entry["status"] != "retired":
                blob = _unb64(entry[material_field])
                keys[entry["id"]] = AESGCM(wrapping).decrypt(blob[:12], blob[12:], entry["id"].encode())
        return keys

    def _no_passphrase_change(self, what: str) -> None:
        """Refuse ``what`` (which seals key material) while the ring's passphrase is being changed."""
        if "previous_kdf" in self._doc:
            raise KeyRingError(
                f"the key ring's passphrase is being changed: {what} waits until 'hub keys passphrase --finish' "
                "(every hub process must run with the new passphrase first)"
            )

    def _reseal(self) -> None:
        """Re-encrypt every live key under a fresh salt at the current scrypt cost, and save."""
        self._no_passphrase_change("re-encrypting the ring at the current scrypt cost")
        self._doc["kdf"] = _new_kdf()
        wrapping = self._wrapping_key()
        for entry in self._doc["keys"]:
            if entry["status"] != "retired":
                nonce = secrets.token_bytes(12)
                sealed = AESGCM(wrapping).encrypt(nonce, self._keys[entry["id"]], entry["id"].encode())
                entry["material"] = _b64(nonce + sealed)
        self._save()
        self.upgraded = True

    def _wrapping_key(self, kdf: dict[str, Any] | None = None) -> bytes:
        """The key derived from the passphrase, derived once per set of scrypt parameters (it is slow on purpose)."""
        kdf = kdf if kdf is not None else self._doc["kdf"]
        params = (kdf["salt"], kdf["n"], kdf["r"], kdf["p"])
        if params not in self._derived:
            if len(self._derived) > 1:  # two at most: the ring's, and the one a passphrase change replaces
                self._derived.pop(next(iter(self._derived)))
            self._derived[params] = derive(self._passphrase, kdf)
        return self._derived[params]

    def refresh_if_changed(self, min_interval: float = 1.0) -> bool:
        """Re-read the file if another process (``hub keys rotate``) changed it; at most once per interval."""
        now = time.monotonic()
        if now - self._checked < min_interval:
            return False
        self._checked = now
        try:
            changed = self.path.stat().st_mtime != self._mtime
        except FileNotFoundError:
            return False
        if changed:
            self.load()
        return changed

    def _add_key(self, purpose: str, status: str, material: bytes | None = None) -> str:
        self._no_passphrase_change(f"adding a {purpose} key")
        prefix = {"kek": "kek", "index": "idx", "fingerprint": "fpr", "sig": "sig", "enc": "enc"}[purpose]
        key_id = f"{prefix}-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"
        material = material if material is not None else secrets.token_bytes(32)
        nonce = secrets.token_bytes(12)
        sealed = nonce + AESGCM(self._wrapping_key()).encrypt(nonce, material, key_id.encode())
        self._doc["keys"].append(
            {"id": key_id, "purpose": purpose, "status": status, "created_at": _now(), "material": _b64(sealed)}
        )
        self._keys[key_id] = material
        return key_id

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(self._doc, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._mtime = self.path.stat().st_mtime

    def kdf_cost(self) -> int:
        """The scrypt N the ring's passphrase key is derived with."""
        return int(self._doc["kdf"]["n"])

    def _entry(self, key_id: str) -> dict[str, Any]:
        entry: dict[str, Any] | None = next((e for e in self._doc["keys"] if e["id"] == key_id), None)
        if entry is None:
            raise KeyRingError(f"no key {key_id} in the ring ('hub keys list' shows them)")
        return entry

    def _live(self, purpose: str, *statuses: str) -> list[dict[str, Any]]:
        """Entries of ``purpose`` not retired (in ``statuses``, in that order, when given)."""
        entries = [e for e in self._doc["keys"] if e["purpose"] == purpose and e["status"] != "retired"]
        if statuses:
            entries = [e for status in statuses for e in entries if e["status"] == status]
        return entries

    def infos(self) -> list[KeyInfo]:
        """Every key's id, purpose, status and dates."""
        return [
            KeyInfo(e["id"], e["purpose"], e["status"], e["created_at"], e.get("retired_at"), e.get("kid"),
                    e.get("published_at"), e.get("activated_at"))
            for e in self._doc["keys"]
        ]  # fmt: skip


def derive(passphrase: bytes, kdf: dict[str, Any]) -> bytes:
    """The 32-byte key scrypt derives from ``passphrase`` with the parameters ``kdf`` (slow on purpose)."""
    return Scrypt(salt=_unb64(kdf["salt"]), length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(passphrase)


def _new_kdf() -> dict[str, Any]:
    return {"name": "scrypt", "salt": _b64(secrets.token_bytes(16)), "n": scrypt_cost()[0], "r": 8, "p": 1}
