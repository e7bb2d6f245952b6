"""Keyed fingerprints of inbound messages: duplicate detection without a clear hash of the plaintext.

``messages.fingerprint`` lets the store tell a repeat of a message (same id or
Idempotency-Key, same content: answered as a duplicate) from a reuse of the id
for different content (refused with 409). An unkeyed hash of the message would
let anyone holding a copy of the database confirm a guess of its content, so the
value is HMAC-SHA256 under the fingerprint key, over the message serialised with
sorted keys (member order does not matter). Retention clears it with the body.

The fingerprint key is a key of its own: a key ring made by ``hub keys init``
holds one (purpose ``fingerprint``); a ring made before it existed, or a key
provider plugin without ``fingerprint_key()``, gets one derived from the
blind-index key with HKDF-SHA256 under a label of its own, so neither key's
values say anything about the other's.

The key rotates (``hub keys rotate-fingerprint``): new messages are fingerprinted
under the new key at once, the stored fingerprints are re-keyed in the background
(``hub.store.index_rebuild``, purpose ``fingerprint``), and meanwhile a message is
fingerprinted under every live key (``fingerprints``) so that a repeat is
recognised whichever key its first copy's fingerprint is under.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DERIVATION_LABEL = b"partner-hub message fingerprint key v1"


def derive_fingerprint_key(index_key: bytes) -> bytes:
    """The fingerprint key of a ring or provider that holds none: HKDF-SHA256 of the index key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=DERIVATION_LABEL).derive(index_key)


def fingerprint_key(keys: Any) -> bytes:
    """The provider's own fingerprint key if it has one, else the key derived from its index key."""
    own = getattr(keys, "fingerprint_key", None)
    key = own() if callable(own) else None
    return key if key is not None else derive_fingerprint_key(keys.index_key())


def fingerprint_keys(keys: Any) -> list[bytes]:
    """Every live fingerprint key of the provider, the current one first (read afresh: a rotation by another
    process is seen within a second); one key for a provider that has no rotation of its own."""
    own = getattr(keys, "fingerprint_keys", None)
    live = own() if callable(own) else []
    return list(live) if live else [fingerprint_key(keys)]


def fingerprints(keys: Any, message: Any) -> tuple[str, ...]:
    """The message's fingerprint under every live key of ``keys`` (a key provider), the current key's first."""
    return tuple(fingerprint(key, message) for key in fingerprint_keys(keys))


def fingerprint(key: bytes, message: Any) -> str:
    """HMAC-SHA256 (hex) of a canonical message serialised with sorted keys."""
    return hmac.new(key, orjson.dumps(message, option=orjson.OPT_SORT_KEYS), hashlib.sha256).hexdigest()
