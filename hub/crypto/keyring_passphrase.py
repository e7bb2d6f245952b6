"""Changing the passphrase that protects the key ring file, while hubs opened with the old one keep running.

The passphrase never touches disk; every hub process is given it in its environment. A change therefore
has an overlap, in two steps:

1. ``begin_passphrase_change(new)`` (``hub keys passphrase --new-env VAR``, run with the current passphrase):
   every live key is sealed again under a key derived from the new passphrase (a fresh scrypt salt, at the
   current cost), and the sealing under the old passphrase is kept beside it (``previous_kdf`` in the file,
   ``previous_material`` in each entry). Both passphrases now open the ring: processes started with the old
   one keep working, and see every later status change (an activation, a retirement) as before; processes
   are restarted, one at a time, with the new one.
2. ``finish_passphrase_change()`` (``hub keys passphrase --finish``, run with the new passphrase): the old
   sealing is removed; the old passphrase opens nothing any more.

During the overlap no key is added (a KEK, index or envelope rotation; re-encryption at a higher scrypt
cost): the process adding one holds only one of the two passphrases, and cannot seal it under both.
The keys themselves never change, so nothing stored is touched.
"""

from __future__ import annotations

import secrets
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.crypto.keyring_base import KeyRingError, RingBase, _b64, _changes_ring, _new_kdf, _now, derive


class PassphraseChange(RingBase):
    """The passphrase-change part of ``FileKeyRing`` (see the module docstring)."""

    def passphrase_change_begun(self) -> str | None:
        """When the passphrase change under way began; None when none is."""
        if "previous_kdf" not in self._doc:
            return None
        return str(self._doc.get("passphrase_change_begun_at", ""))

    @_changes_ring
    def begin_passphrase_change(self, new_passphrase: str) -> None:
        """Seal every live key under ``new_passphrase`` too; the current passphrase keeps opening the ring.

        Refused when the new passphrase is shorter than 12 characters or is the current one, while a change
        is under way, or when this process holds the passphrase an earlier change replaced.
        """
        if len(new_passphrase) < 12:
            raise KeyRingError("the key ring passphrase must be at least 12 characters")
        if self.on_previous_passphrase or "previous_kdf" in self._doc:
            raise KeyRingError(
                f"a passphrase change began on {self._doc.get('passphrase_change_begun_at')}: finish it "
                "('hub keys passphrase --finish', with the new passphrase) before beginning another"
            )
        if new_passphrase.encode("utf-8") == self._passphrase:
            raise KeyRingError("the new passphrase is the current one")
        kdf = _new_kdf()
        wrapping = derive(new_passphrase.encode("utf-8"), kdf)
        for entry in self._doc["keys"]:
            if entry["status"] != "retired":
                nonce = secrets.token_bytes(12)
                sealed = AESGCM(wrapping).encrypt(nonce, self._keys[entry["id"]], entry["id"].encode())
                entry["previous_material"] = entry["material"]
                entry["material"] = _b64(nonce + sealed)
        self._doc["previous_kdf"] = self._doc["kdf"]
        self._doc["kdf"] = kdf
        self._doc["passphrase_change_begun_at"] = _now()
        self._save()
        self.on_previous_passphrase = True  # this process was opened with the passphrase being replaced

    @_changes_ring
    def finish_passphrase_change(self) -> str:
        """Remove the keys' sealing under the old passphrase, which then opens nothing; return when the change
        began. Refused when no change is under way, or when this process holds the old passphrase."""
        begun = self.passphrase_change_begun()
        if begun is None:
            raise KeyRingError("no passphrase change is under way ('hub keys passphrase --new-env VAR' begins one)")
        if self.on_previous_passphrase:
            raise KeyRingError(
                "this command was given the passphrase being replaced: run it with the new passphrase "
                "(and restart every hub process with it first)"
            )
        doc: dict[str, Any] = self._doc
        doc.pop("previous_kdf", None)
        doc.pop("passphrase_change_begun_at", None)
        for entry in doc["keys"]:
            entry.pop("previous_material", None)
        self._save()
        return begun
