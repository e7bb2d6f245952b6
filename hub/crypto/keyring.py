"""The key ring: key-encryption keys (KEKs), the blind-index and fingerprint keys, kept encrypted in one file.

File layout (``keyring.json``, mode 0600, in ``[keys] dir``)::

    {"version": 1,
     "kdf": {"name": "scrypt", "salt": "...", "n": 131072, "r": 8, "p": 1},
     "keys": [{"id": "kek-...", "purpose": "kek", "status": "primary", "created_at": "...",
               "material": "<base64 of nonce || AES-256-GCM(passphrase key, key bytes, aad=id)>"},
              {"id": "idx-...", "purpose": "index", "status": "active", ...},
              {"id": "fpr-...", "purpose": "fingerprint", "status": "active", ...},
              {"id": "kek-...", "purpose": "kek", "status": "retired", "retired_at": "..."}]}

Exactly one KEK is ``primary`` (new data keys are wrapped with it); ``active``
KEKs are kept to read what they wrapped; a ``retired`` KEK has no material left
and anything still wrapped by it is refused cleanly.

The other keys rotate too (``hub.services.keys`` runs each rotation and puts it on the audit chain):

- index (blind index): the ``primary`` one indexes new messages; while the index is rebuilt
  under it, the one it replaces stays ``active`` so that searches look under both; the rebuild
  retires it. A ring made before index rotation has one index key, ``active``, used as primary.
- sig and enc (the hub's envelope keys, ``kid`` = RFC 7638 thumbprint, recorded in clear in the
  entry): ``next`` (made, published with ``hub keys export``, not yet signing; an ``enc`` key
  already opens), ``active`` (signs; partners seal to it), ``previous`` (replaced: a previous
  signing key stays published so partners still verify what it signed; a previous encryption
  key still opens what partners sealed to it), ``retired`` (material destroyed; the ``kid``
  stays so that an envelope sealed to it is refused with a clear reason). An entry records
  ``published_at`` (first exported) and ``activated_at``; a ``next`` key is made ``active`` only
  after it was published. The passphrase comes from
the environment variable named in ``[keys] passphrase_env`` and never touches
disk. A deployment with a KMS or HSM replaces this file with a key provider
plugin (``hub_register_key_providers``).

Cost: new rings derive the passphrase key with scrypt N = 2^17 (r = 8, p = 1).
A ring made at a lower N (before this floor existed) is refused at open with a
message saying to run ``hub keys rewrap``, which opens it with ``upgrade=True``:
the same keys are re-encrypted under a fresh salt at the current cost. The test
suite may lower both the cost and the floor with ``HUB_TEST_SCRYPT_N`` (a power
of two from 2^10 to 2^17); never set it in production.
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
from typing import Any, Literal, TypeVar, cast

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
    def locked(self: FileKeyRing, *args: Any, **kwargs: Any) -> Any:
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self.load()
            return method(self, *args, **kwargs)
        finally:
            os.close(fd)  # releases the lock

    return cast(_Method, locked)


class FileKeyRing:
    """The key ring file, opened with a passphrase. Keys live in memory only while the hub runs."""

    def __init__(self, directory: Path, passphrase: str) -> None:
        self.directory = Path(directory)
        self.path = self.directory / KEYRING_FILE
        self._passphrase = passphrase.encode("utf-8")
        self._doc: dict[str, Any] = {}
        self._keys: dict[str, bytes] = {}
        self._mtime = 0.0
        self._checked = 0.0
        self._derived: tuple[tuple[str, int, int, int], bytes] | None = None
        self._lock = threading.RLock()
        self.upgraded = False

    # -- creating and loading ----------------------------------------------------------------
    @classmethod
    def create(cls, directory: Path, passphrase: str) -> FileKeyRing:
        """Make a new ring with one primary KEK, an index key and a fingerprint key; refuse to overwrite a ring."""
        if len(passphrase) < 12:
            raise KeyRingError("the key ring passphrase must be at least 12 characters")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        ring = cls(directory, passphrase)
        if ring.path.exists():
            raise KeyRingError(f"{ring.path} already exists; use 'hub keys rotate' to add a key")
        ring._doc = {
            "version": 1,
            "kdf": _new_kdf(),
            "keys": [],
        }
        ring._add_key("kek", "primary")
        ring._add_key("index", "active")
        ring._add_key("fingerprint", "active")
        ring._add_envelope_keys()
        ring._save()
        return ring

    def _add_envelope_keys(self) -> None:
        from hub.envelope import dump_jwk, generate_key

        envelope_keys: tuple[tuple[Literal["sig", "enc"], str], ...] = (("sig", "EdDSA"), ("enc", "X25519"))
        for purpose, alg in envelope_keys:
            if not any(e["purpose"] == purpose for e in self._doc["keys"]):
                jwk = generate_key(purpose, alg)
                key_id = self._add_key(purpose, "active", dump_jwk(jwk, private=True).encode())
                self._entry(key_id)["kid"] = jwk.kid

    @classmethod
    def open(cls, directory: Path, passphrase: str, *, upgrade: bool = False) -> FileKeyRing:
        """Open an existing ring; raise ``KeyRingError`` if it is missing, the passphrase is wrong or its cost is low.

        With ``upgrade``, a ring whose scrypt N is below the floor is re-encrypted
        at the current cost instead (``upgraded`` is then true).
        """
        ring = cls(directory, passphrase)
        ring.load(upgrade=upgrade)
        return ring

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
        wrapping = self._wrapping_key(doc["kdf"])
        keys: dict[str, bytes] = {}
        for entry in doc["keys"]:
            if entry["status"] == "retired":
                continue
            blob = _unb64(entry["material"])
            try:
                keys[entry["id"]] = AESGCM(wrapping).decrypt(blob[:12], blob[12:], entry["id"].encode())
            except InvalidTag:
                raise KeyRingError(f"{self.path}: wrong passphrase (or the file was altered)") from None
        for entry in doc["keys"]:  # rings made before envelope key rotation did not record the kid
            if entry["purpose"] in ("sig", "enc") and not entry.get("kid") and entry["id"] in keys:
                from hub.envelope import load_jwk

                entry["kid"] = load_jwk(keys[entry["id"]]).kid
        with self._lock:  # readers in other threads see the old ring or the new, never half of each
            self._doc, self._keys = doc, keys
            self._mtime = stat.st_mtime
        if below_floor:
            self._reseal()

    def _reseal(self) -> None:
        """Re-encrypt every live key under a fresh salt at the current scrypt cost, and save."""
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
        if self._derived is None or self._derived[0] != params:
            scrypt = Scrypt(salt=_unb64(kdf["salt"]), length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"])
            self._derived = (params, scrypt.derive(self._passphrase))
        return self._derived[1]

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

    # -- what the hub uses -------------------------------------------------------------------
    def primary_kek_id(self) -> str:
        """The id of the KEK that wraps new data keys (a rotation by another process is seen within a second)."""
        self.refresh_if_changed()
        for entry in self._doc["keys"]:  # one read of _doc: the old ring or the new
            if entry["purpose"] == "kek" and entry["status"] == "primary":
                return str(entry["id"])
        raise KeyRingError(f"{self.path}: no primary key")

    def kek(self, key_id: str) -> bytes:
        """The KEK with this id; ``KeyRingError`` if it is retired or unknown."""
        key = self._keys.get(key_id)
        if key is not None:
            return key
        self.refresh_if_changed(min_interval=0)
        key = self._keys.get(key_id)
        if key is not None:
            return key
        entry = next((e for e in self._doc["keys"] if e["id"] == key_id), None)
        if entry is not None and entry["status"] == "retired":
            raise KeyRingError(f"key {key_id} was retired on {entry.get('retired_at')}; what it wrapped is unreadable")
        raise KeyRingError(f"key {key_id} is not in the key ring")

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

    def _index_entries(self) -> list[dict[str, Any]]:
        """Live index keys, the one that indexes new messages first (``primary``, or the lone ``active`` one)."""
        return self._live("index", "primary", "active")

    def index_key(self) -> bytes:
        """The key of the blind index (HMAC-SHA256) that new messages are indexed under.

        A rotation by another process (``hub keys rotate-index``) is seen within a second.
        """
        self.refresh_if_changed()
        with self._lock:
            entries = self._index_entries()
            if not entries:
                raise KeyRingError(f"{self.path}: no index key")
            return self._keys[entries[0]["id"]]

    def index_keys(self) -> list[bytes]:
        """Every live index key, the current one first: a search looks under each while the index is rebuilt."""
        self.refresh_if_changed()
        with self._lock:
            return [self._keys[e["id"]] for e in self._index_entries()]

    def index_key_ids(self) -> list[str]:
        """The ids of ``index_keys()``, in the same order."""
        self.refresh_if_changed(min_interval=0)
        return [str(e["id"]) for e in self._index_entries()]

    def key_material(self, key_id: str) -> bytes:
        """The material of a live symmetric key (an index key, for the rebuild); ``KeyRingError`` if retired."""
        self.refresh_if_changed(min_interval=0)
        entry = self._entry(key_id)
        if entry["status"] == "retired" or key_id not in self._keys:
            raise KeyRingError(f"key {key_id} was retired on {entry.get('retired_at')}")
        return self._keys[key_id]

    def fingerprint_key(self) -> bytes | None:
        """The key of message fingerprints (HMAC-SHA256); None for a ring made before it existed.

        ``hub.crypto.fingerprint.fingerprint_key`` then derives one from the index key.
        """
        for entry in self._doc["keys"]:
            if entry["purpose"] == "fingerprint" and entry["status"] != "retired":
                return self._keys[entry["id"]]
        return None

    def envelope_signing_key(self) -> Any:
        """The hub's private JWK that signs what it seals for partners (the ``active`` sig key).

        An activation by another process (``hub keys activate``) is seen within a second.
        """
        from hub.envelope import load_jwk

        self.refresh_if_changed()
        with self._lock:
            entries = self._live("sig", "active")
            if not entries:
                raise KeyRingError(f"{self.path}: no envelope signing key (run 'hub keys init' again on a new ring)")
            material = self._keys[entries[0]["id"]]
        return load_jwk(material)

    def envelope_decryption_keys(self) -> list[Any]:
        """The hub's private JWKs that open what partners seal for it: active, next, then previous (the overlap)."""
        from hub.envelope import load_jwk

        self.refresh_if_changed()
        with self._lock:
            materials = [self._keys[e["id"]] for e in self._live("enc", "active", "next", "previous")]
        keys = [load_jwk(material) for material in materials]
        if not keys:
            raise KeyRingError(f"{self.path}: no envelope encryption key")
        return keys

    def published_envelope_keys(self) -> list[tuple[str, Any]]:
        """(ring id, public JWK) of what partners must hold: every live signing key (active, next and
        previous, so that an envelope signed by any of them verifies) and the encryption keys partners
        may seal to (active, next). A previous encryption key still opens but is no longer offered."""
        from hub.envelope import load_jwk

        self.refresh_if_changed()
        with self._lock:
            entries = self._live("sig", "active", "next", "previous") + self._live("enc", "active", "next")
            materials = [(str(e["id"]), self._keys[e["id"]]) for e in entries]
        return [(key_id, load_jwk(material).public()) for key_id, material in materials]

    def retired_envelope_key(self, kid: str) -> str | None:
        """When the hub's envelope key with this ``kid`` was retired; None if no retired key has it."""
        for entry in self._doc["keys"]:
            if entry.get("kid") == kid and entry["status"] == "retired":
                return str(entry.get("retired_at"))
        return None

    @_changes_ring
    def mark_published(self, key_ids: list[str]) -> None:
        """Record that these envelope keys were exported for partners (the first time only)."""
        changed = False
        for key_id in key_ids:
            entry = self._entry(key_id)
            if not entry.get("published_at"):
                entry["published_at"] = _now()
                changed = True
        if changed:
            self._save()

    def infos(self) -> list[KeyInfo]:
        """Every key's id, purpose, status and dates."""
        return [
            KeyInfo(e["id"], e["purpose"], e["status"], e["created_at"], e.get("retired_at"), e.get("kid"),
                    e.get("published_at"), e.get("activated_at"))
            for e in self._doc["keys"]
        ]  # fmt: skip

    # -- operator actions --------------------------------------------------------------------
    @_changes_ring
    def rotate(self) -> str:
        """Add a new KEK and make it primary; the old primary stays active for reading. Return the new id."""
        for entry in self._doc["keys"]:
            if entry["purpose"] == "kek" and entry["status"] == "primary":
                entry["status"] = "active"
        key_id = self._add_key("kek", "primary")
        self._save()
        return key_id

    @_changes_ring
    def add_envelope_key(self, purpose: Literal["sig", "enc"], alg: str) -> str:
        """Add a ``next`` signing or encryption key (``EdDSA``/``ES256``, ``X25519``/``P-256``); return its id.

        Refused while another ``next`` key of that purpose waits to be activated.
        """
        from hub.envelope import EnvelopeError, dump_jwk, generate_key

        waiting = self._live(purpose, "next")
        if waiting:
            raise KeyRingError(
                f"{waiting[0]['id']} is already the next {purpose} key; activate or retire it before adding another"
            )
        try:
            jwk = generate_key(purpose, alg)
        except EnvelopeError:
            what = (
                "a signing (sig) key is EdDSA or ES256"
                if purpose == "sig"
                else "an encryption (enc) key is X25519 or P-256"
            )
            raise KeyRingError(f"{what}, not {alg!r}") from None
        key_id = self._add_key(purpose, "next", dump_jwk(jwk, private=True).encode())
        self._entry(key_id)["kid"] = jwk.kid
        self._save()
        return key_id

    @_changes_ring
    def activate(self, key_id: str) -> str | None:
        """Make a published ``next`` envelope key ``active``; the active one becomes ``previous``. Return its id.

        Refused unless the key was published (``hub keys export``): partners must hold a signing
        key before the hub signs with it.
        """
        entry = self._entry(key_id)
        if entry["purpose"] not in ("sig", "enc"):
            raise KeyRingError(f"{key_id} is the {entry['purpose']} key; only envelope keys are activated")
        if entry["status"] != "next":
            raise KeyRingError(f"{key_id} is {entry['status']}; only a next key is activated")
        if not entry.get("published_at"):
            raise KeyRingError(
                f"{key_id} was never published: run 'hub keys export' and give partners the key set "
                "(and wait the overlap they need) before activating it"
            )
        replaced = None
        for other in self._live(entry["purpose"], "active"):
            other["status"] = "previous"
            replaced = str(other["id"])
        entry["status"] = "active"
        entry["activated_at"] = _now()
        self._save()
        return replaced

    @_changes_ring
    def rotate_index(self) -> tuple[str, str]:
        """Add a new ``primary`` index key; the one it replaces stays live for searches. Return (old, new) ids.

        Refused while a replaced index key is still live (its rebuild unfinished). A ring without
        a fingerprint key first gets one holding the key it derived from the old index key, so that
        fingerprints (duplicate detection) do not change with the index key.
        """
        entries = self._index_entries()
        if not entries:
            raise KeyRingError(f"{self.path}: no index key")
        if len(entries) > 1:
            raise KeyRingError(
                f"the index is still being rebuilt under {entries[0]['id']} ({entries[1]['id']} is not retired); "
                "run 'hub keys rebuild-index' to finish it first"
            )
        old = entries[0]
        if not self._live("fingerprint"):
            from hub.crypto.fingerprint import derive_fingerprint_key

            self._add_key("fingerprint", "active", derive_fingerprint_key(self._keys[old["id"]]))
        old["status"] = "active"
        new_id = self._add_key("index", "primary")
        self._save()
        return str(old["id"]), new_id

    @_changes_ring
    def retire(self, key_id: str) -> None:
        """Destroy a key's material; what needs it becomes unreadable (a KEK) or unusable (an envelope key).

        Allowed for a non-primary KEK, a ``previous`` or never-activated ``next`` envelope key, and an
        index key that is no longer primary (once the index is rebuilt). Refused for the key in use,
        a fingerprint key and an unknown id. A retired envelope key keeps its ``kid``.
        """
        entry = next((e for e in self._doc["keys"] if e["id"] == key_id), None)
        if entry is None:
            raise KeyRingError(f"no key {key_id} in the ring ('hub keys list' shows them)")
        purpose, status = entry["purpose"], entry["status"]
        if status == "retired":
            raise KeyRingError(f"{key_id} is already retired")
        if purpose == "kek" and status == "primary":
            raise KeyRingError(f"{key_id} is the primary key; rotate first, then retire it")
        if purpose in ("sig", "enc") and status == "active":
            raise KeyRingError(f"{key_id} is the active {purpose} key; add and activate a new one first")
        if purpose == "index" and self._index_entries()[0]["id"] == key_id:
            raise KeyRingError(f"{key_id} is the index key in use; 'hub keys rotate-index' replaces it")
        if purpose == "fingerprint":
            raise KeyRingError(f"{key_id} is the fingerprint key, which is not retired")
        if purpose in ("sig", "enc") and not entry.get("kid"):
            from hub.envelope import load_jwk

            entry["kid"] = load_jwk(self._keys[key_id]).kid
        entry["status"] = "retired"
        entry["retired_at"] = _now()
        entry.pop("material", None)
        self._keys.pop(key_id, None)
        self._save()


def _new_kdf() -> dict[str, Any]:
    return {"name": "scrypt", "salt": _b64(secrets.token_bytes(16)), "n": scrypt_cost()[0], "r": 8, "p": 1}


def passphrase_from_env(variable: str) -> str:
    """The key ring passphrase from the environment; ``KeyRingError`` saying which variable if unset."""
    value = os.environ.get(variable)
    if not value:
        raise KeyRingError(f"set {variable} to the key ring's passphrase (it is never stored on disk)")
    return value


def open_file_key_ring(settings: Any) -> FileKeyRing:
    """The ``file`` key provider: open ``settings.keys_dir`` with the passphrase from the environment."""
    return FileKeyRing.open(settings.keys_dir, passphrase_from_env(settings.passphrase_env))
