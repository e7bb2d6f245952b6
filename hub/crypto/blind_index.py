"""A keyed blind index of NHS numbers: find one person's messages without decrypting the store.

The index value is HMAC-SHA256(index key, normalised NHS number), hex. Without
the index key (kept in the key ring, apart from the KEKs) the column reveals
nothing: NHS numbers are too few to hide behind a plain hash, but not behind a
keyed one.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from hub.identifiers import normalise_nhs_number


def nhs_index(index_key: bytes, nhs_number: str) -> str:
    """The blind-index value of an NHS number (spaces and hyphens ignored)."""
    return hmac.new(index_key, normalise_nhs_number(nhs_number).encode("ascii"), hashlib.sha256).hexdigest()


def index_of_message(index_key: bytes, message: dict[str, Any]) -> str | None:
    """The blind-index value for the person a canonical message is about, or None."""
    payload = message.get("payload")
    person = payload.get("person") if isinstance(payload, dict) else None
    number = person.get("nhs_number") if isinstance(person, dict) else None
    return nhs_index(index_key, number) if isinstance(number, str) else None


def search_keys(keys: Any) -> list[bytes]:
    """The index keys a search looks under: every live one while the index is rebuilt (``index_keys()``),
    else the one ``index_key()`` (a key provider without ``index_keys``)."""
    many = getattr(keys, "index_keys", None)
    return list(many()) if many is not None else [keys.index_key()]
