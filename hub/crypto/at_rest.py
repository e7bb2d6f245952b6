"""Encryption of stored bodies: AES-256-GCM under a fresh data key per body, wrapped by a KEK.

For each body::

    data key  = 32 random bytes
    body      = nonce(12) || AES-256-GCM(data key, body, aad = "v1|record id|type|sender")
    wrapped   = nonce(12) || AES-256-GCM(KEK, data key, aad = "v1|record id|kek id")

The store keeps ``body``, ``wrapped`` and the KEK id in separate columns, so a
key rotation re-wraps 60-byte data keys and never touches bodies, and
crypto-shredding deletes the wrapped key. Binding the record id, type and sender
means neither a body nor a wrapped key can be moved to another record.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.bodies import BodyUnreadable, StoredBody
from hub.crypto.keyring import KeyRingError

CODEC_NAME = "aes256gcm-v1"


class KeyProvider(Protocol):
    """Supplies key-encryption keys and the blind-index key (the file key ring, or a KMS/HSM plugin)."""

    def primary_kek_id(self) -> str:
        """The KEK id new data keys are wrapped with."""
        ...

    def kek(self, key_id: str) -> bytes:
        """The 32-byte KEK with this id; raise ``KeyRingError`` if it is retired or unknown."""
        ...

    def index_key(self) -> bytes:
        """The 32-byte key of the blind index."""
        ...

    # optional: ``fingerprint_key() -> bytes | None``, the key of message fingerprints, and
    # ``fingerprint_keys() -> list[bytes]``, every live one, current first (while it is rotated)
    # (without it, one is derived from the index key: see hub.crypto.fingerprint)
    # optional: ``index_keys() -> list[bytes]``, every live index key, the current first (searches look
    # under each while the index is rebuilt; without it, only ``index_key()``)
    # optional: ``retired_envelope_key(kid) -> str | None``, when the hub's envelope key with this kid
    # was retired (an envelope sealed to it is then refused saying so)

    def envelope_signing_key(self) -> Any:
        """The hub's private JWK for signing sealed envelopes."""
        ...

    def envelope_decryption_keys(self) -> list[Any]:
        """The hub's private JWKs for opening envelopes sealed to it."""
        ...


def _body_aad(record_id: str, message_type: str, sender: str) -> bytes:
    return f"v1|{record_id}|{message_type}|{sender}".encode()


def _key_aad(record_id: str, kek_id: str) -> bytes:
    return f"v1|{record_id}|{kek_id}".encode()


def wrap_data_key(keys: KeyProvider, record_id: str, data_key: bytes, kek_id: str | None = None) -> tuple[str, bytes]:
    """Wrap ``data_key`` for ``record_id`` under ``kek_id`` (default: the primary); return (kek id, wrapped)."""
    kek_id = kek_id or keys.primary_kek_id()
    nonce = os.urandom(12)
    return kek_id, nonce + AESGCM(keys.kek(kek_id)).encrypt(nonce, data_key, _key_aad(record_id, kek_id))


def unwrap_data_key(keys: KeyProvider, record_id: str, kek_id: str, wrapped: bytes) -> bytes:
    """Recover a data key; ``BodyUnreadable`` if its KEK is gone or the wrapped key was altered or moved."""
    try:
        kek = keys.kek(kek_id)
    except KeyRingError as exc:
        raise BodyUnreadable(str(exc)) from None
    try:
        return AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], _key_aad(record_id, kek_id))
    except InvalidTag:
        raise BodyUnreadable(
            f"the data key of {record_id} does not open: altered, or moved from another record"
        ) from None


class AesGcmCodec:
    """The ``BodyCodec`` that encrypts (see the module docstring)."""

    name = CODEC_NAME

    def __init__(self, keys: KeyProvider) -> None:
        self.keys = keys

    def encode(self, record_id: str, message_type: str, sender: str, body: bytes) -> StoredBody:
        """Encrypt ``body`` under a new data key and wrap that key with the primary KEK."""
        data_key = AESGCM.generate_key(256)
        nonce = os.urandom(12)
        data = nonce + AESGCM(data_key).encrypt(nonce, body, _body_aad(record_id, message_type, sender))
        kek_id, wrapped = wrap_data_key(self.keys, record_id, data_key)
        return StoredBody(self.name, data, kek_id, wrapped)

    def decode(self, record_id: str, message_type: str, sender: str, stored: StoredBody) -> bytes:
        """Unwrap the data key and decrypt; ``BodyUnreadable`` when shredded, retired or tampered with."""
        if stored.wrapped_key is None or stored.kek_id is None or stored.data is None:
            raise BodyUnreadable(f"the body of {record_id} was destroyed (retention)")
        data_key = unwrap_data_key(self.keys, record_id, stored.kek_id, stored.wrapped_key)
        try:
            return AESGCM(data_key).decrypt(
                stored.data[:12], stored.data[12:], _body_aad(record_id, message_type, sender)
            )
        except InvalidTag:
            raise BodyUnreadable(
                f"the body of {record_id} does not open: altered, or moved from another record"
            ) from None
