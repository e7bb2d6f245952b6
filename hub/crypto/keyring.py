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
- fingerprint (duplicate detection at intake): the same states as the index key; while the stored
  fingerprints are re-keyed under the new ``primary`` one, a repeat is recognised under either.
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

import os
from pathlib import Path
from typing import Any

from hub.crypto.keyring_base import (
    KEYRING_FILE,
    LOCK_FILE,
    SCRYPT_N,
    SCRYPT_N_FLOOR,
    TEST_COST_ENV,
    KeyInfo,
    KeyRingError,
    _changes_ring,
    _new_kdf,
    _now,
    scrypt_cost,
)
from hub.crypto.keyring_envelope import EnvelopeKeys
from hub.crypto.keyring_passphrase import PassphraseChange

__all__ = ["KEYRING_FILE", "LOCK_FILE", "SCRYPT_N", "SCRYPT_N_FLOOR", "TEST_COST_ENV", "FileKeyRing", "KeyInfo",
           "KeyRingError", "open_file_key_ring", "passphrase_from_env", "scrypt_cost"]  # fmt: skip


class FileKeyRing(EnvelopeKeys, PassphraseChange):
    """The key ring file, opened with a passphrase. Keys live in memory only while the hub runs."""

    # -- creating and opening ----------------------------------------------------------------
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

    @classmethod
    def open(cls, directory: Path, passphrase: str, *, upgrade: bool = False) -> FileKeyRing:
        """Open an existing ring; raise ``KeyRingError`` if it is missing, the passphrase is wrong or its cost is low.

        With ``upgrade``, a ring whose scrypt N is below the floor is re-encrypted
        at the current cost instead (``upgraded`` is then true).
        """
        ring = cls(directory, passphrase)
        ring.load(upgrade=upgrade)
        return ring

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

    def _fingerprint_entries(self) -> list[dict[str, Any]]:
        """Live fingerprint keys, the one that fingerprints new messages first (``primary``, or the lone
        ``active`` one of a ring never rotated)."""
        return self._live("fingerprint", "primary", "active")

    def fingerprint_key(self) -> bytes | None:
        """The key new messages are fingerprinted under (HMAC-SHA256); None for a ring made before it existed.

        ``hub.crypto.fingerprint.fingerprint_key`` then derives one from the index key.
        """
        keys = self.fingerprint_keys()
        return keys[0] if keys else None

    def fingerprint_keys(self) -> list[bytes]:
        """Every live fingerprint key, the current one first: while stored fingerprints are re-keyed
        (``hub keys rotate-fingerprint``), a repeat is recognised under either. A rotation by another
        process is seen within a second. Empty for a ring made before fingerprint keys existed."""
        self.refresh_if_changed()
        with self._lock:
            return [self._keys[e["id"]] for e in self._fingerprint_entries()]

    def fingerprint_key_ids(self) -> list[str]:
        """The ids of ``fingerprint_keys()``, in the same order."""
        self.refresh_if_changed(min_interval=0)
        return [str(e["id"]) for e in self._fingerprint_entries()]

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
    def rotate_fingerprint(self) -> tuple[str, str]:
        """Add a new ``primary`` fingerprint key; the one it replaces stays live, so that a repeat of a message
        stored under it is still recognised, until the stored fingerprints are re-keyed. Return (old, new) ids.

        Refused while a replaced fingerprint key is still live (its rebuild unfinished). A ring without a
        fingerprint key first gets one holding the key derived from its index key (what it used until now).
        """
        entries = self._fingerprint_entries()
        if len(entries) > 1:
            raise KeyRingError(
                f"the fingerprints are still being re-keyed under {entries[0]['id']} ({entries[1]['id']} is not "
                "retired); run 'hub keys rebuild-fingerprints' to finish it first"
            )
        if not entries:
            from hub.crypto.fingerprint import derive_fingerprint_key

            index = self._index_entries()
            if not index:
                raise KeyRingError(f"{self.path}: no index key to derive the fingerprint key in use from")
            self._add_key("fingerprint", "active", derive_fingerprint_key(self._keys[index[0]["id"]]))
            entries = self._fingerprint_entries()
        old = entries[0]
        old["status"] = "active"
        new_id = self._add_key("fingerprint", "primary")
        self._save()
        return str(old["id"]), new_id

    @_changes_ring
    def retire(self, key_id: str) -> None:
        """Destroy a key's material; what needs it becomes unreadable (a KEK) or unusable (an envelope key).

        Allowed for a non-primary KEK, a ``previous`` or never-activated ``next`` envelope key, and an
        index or fingerprint key that is no longer primary (once the stored values are rebuilt under the
        new one). Refused for the key in use and an unknown id. A retired envelope key keeps its ``kid``.
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
        if purpose == "fingerprint" and self._fingerprint_entries()[0]["id"] == key_id:
            raise KeyRingError(f"{key_id} is the fingerprint key in use; 'hub keys rotate-fingerprint' replaces it")
        if purpose in ("sig", "enc") and not entry.get("kid"):
            from hub.envelope import load_jwk

            entry["kid"] = load_jwk(self._keys[key_id]).kid
        entry["status"] = "retired"
        entry["retired_at"] = _now()
        entry.pop("material", None)
        entry.pop("previous_material", None)
        self._keys.pop(key_id, None)
        self._save()


def passphrase_from_env(variable: str) -> str:
    """The key ring passphrase from the environment; ``KeyRingError`` saying which variable if unset."""
    value = os.environ.get(variable)
    if not value:
        raise KeyRingError(f"set {variable} to the key ring's passphrase (it is never stored on disk)")
    return value


def open_file_key_ring(settings: Any) -> FileKeyRing:
    """The ``file`` key provider: open ``settings.keys_dir`` with the passphrase from the environment."""
    return FileKeyRing.open(settings.keys_dir, passphrase_from_env(settings.passphrase_env))
