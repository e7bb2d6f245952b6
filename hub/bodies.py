"""The one narrow place where message bodies are turned into what the store keeps.

Every stored body goes through a ``BodyCodec``: the store never writes a body
any other way. A codec returns a ``StoredBody``: the bytes to keep, and, for
encrypting codecs, the id of the key-encryption key and the wrapped data key,
which the store keeps in their own columns so that keys can be re-wrapped
(rotation) or destroyed (crypto-shredding) without touching the body. The
codec's name is stored beside each body, so bodies written by an older codec
stay readable after a newer one becomes the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class BodyUnreadable(Exception):
    """A stored body cannot be decoded: its key was retired or shredded, or it was tampered with."""


@dataclass(frozen=True)
class StoredBody:
    """What the store keeps for one body."""

    codec: str
    data: bytes | None
    kek_id: str | None = None
    wrapped_key: bytes | None = None


class BodyCodec(Protocol):
    """Turns a message body into a ``StoredBody`` and back, bound to its record.

    ``record_id``, ``message_type`` and ``sender`` identify the record the body
    belongs to; a codec that encrypts binds them (as associated data) so a body
    cannot be moved to another record. ``decode`` raises ``BodyUnreadable``.
    """

    name: str

    def encode(self, record_id: str, message_type: str, sender: str, body: bytes) -> StoredBody:
        """Return what to store for ``body``."""
        ...

    def decode(self, record_id: str, message_type: str, sender: str, stored: StoredBody) -> bytes:
        """Return the body; raise ``BodyUnreadable`` if it cannot be recovered."""
        ...


class PlainCodec:
    """Stores bodies as they are: only for tests of the store itself, never for personal data."""

    name = "plain"

    def encode(self, record_id: str, message_type: str, sender: str, body: bytes) -> StoredBody:
        """Return ``body`` unchanged."""
        return StoredBody(self.name, body)

    def decode(self, record_id: str, message_type: str, sender: str, stored: StoredBody) -> bytes:
        """Return the stored bytes unchanged."""
        if stored.data is None:
            raise BodyUnreadable(f"the body of {record_id} has been destroyed")
        return stored.data


class NoKeysCodec:
    """Refuses to write or read bodies: for stores opened without keys (maintenance commands)."""

    name = "no-keys"

    def encode(self, record_id: str, message_type: str, sender: str, body: bytes) -> StoredBody:
        """Refuse: a body is never stored without encryption."""
        raise BodyUnreadable("this store was opened without keys; bodies can be neither written nor read")

    def decode(self, record_id: str, message_type: str, sender: str, stored: StoredBody) -> bytes:
        """Refuse."""
        raise BodyUnreadable("this store was opened without keys; bodies can be neither written nor read")


class CodecRegistry:
    """The codec used for new bodies, and every codec that may have written old ones."""

    def __init__(self, current: BodyCodec, *older: BodyCodec) -> None:
        self.current = current
        self._by_name = {c.name: c for c in (current, *older)}

    def encode(self, record_id: str, message_type: str, sender: str, body: bytes) -> StoredBody:
        """Encode with the current codec."""
        return self.current.encode(record_id, message_type, sender, body)

    def decode(self, record_id: str, message_type: str, sender: str, stored: StoredBody) -> bytes:
        """Decode with the codec that wrote the body; raise ``BodyUnreadable`` when it cannot."""
        chosen = self._by_name.get(stored.codec)
        if chosen is None:
            raise BodyUnreadable(f"record {record_id} was stored with codec {stored.codec!r}, which is not configured")
        return chosen.decode(record_id, message_type, sender, stored)
