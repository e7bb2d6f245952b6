"""The one narrow place where message bodies are turned into what the store keeps.

Every stored body goes through a ``BodyCodec``: the store never writes a body
any other way, so protecting bodies at rest means adding a codec here. The
codec's name is stored beside each body, so bodies written by an older codec
stay readable after a newer one becomes the default.
"""

from __future__ import annotations

from typing import Protocol


class BodyCodec(Protocol):
    """Turns a message body into stored bytes and back, bound to its record.

    ``record_id``, ``message_type`` and ``sender`` identify the record the body
    belongs to; a codec that encrypts must bind them (as associated data) so a
    body cannot be moved to another record.
    """

    name: str

    def encode(self, record_id: str, message_type: str, sender: str, body: bytes) -> bytes:
        """Return the bytes to store for ``body``."""
        ...

    def decode(self, record_id: str, message_type: str, sender: str, stored: bytes) -> bytes:
        """Return the body from stored bytes; raise if they do not belong to this record."""
        ...


class PlainCodec:
    """Stores bodies as they are. The default until encryption at rest is configured."""

    name = "plain"

    def encode(self, record_id: str, message_type: str, sender: str, body: bytes) -> bytes:
        """Return ``body`` unchanged."""
        return body

    def decode(self, record_id: str, message_type: str, sender: str, stored: bytes) -> bytes:
        """Return ``stored`` unchanged."""
        return stored


class CodecRegistry:
    """The codec used for new bodies, and every codec that may have written old ones."""

    def __init__(self, current: BodyCodec, *older: BodyCodec) -> None:
        self.current = current
        self._by_name = {c.name: c for c in (current, *older)}

    def encode(self, record_id: str, message_type: str, sender: str, body: bytes) -> tuple[str, bytes]:
        """Encode with the current codec; return ``(codec name, stored bytes)``."""
        return self.current.name, self.current.encode(record_id, message_type, sender, body)

    def decode(self, codec: str, record_id: str, message_type: str, sender: str, stored: bytes) -> bytes:
        """Decode with the codec that wrote the body."""
        try:
            chosen = self._by_name[codec]
        except KeyError:
            raise ValueError(f"record {record_id} was stored with codec {codec!r}, which is not configured") from None
        return chosen.decode(record_id, message_type, sender, stored)
