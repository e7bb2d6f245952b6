"""Strict base64url and JSON for JOSE objects.

Decoding is canonical: padding, characters outside the base64url alphabet and encodings whose
unused trailing bits are not zero are refused, so that every accepted text decodes from exactly
one string. JSON objects are refused when they repeat a member name, use ``NaN``/``Infinity``,
are not objects, or are too deep or too large for Python's parser.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from hub.envelope.errors import EnvelopeError

_B64URL_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str | bytes, what: str = "value") -> bytes:
    """Decode canonical base64url without padding; raise ``EnvelopeError`` naming ``what`` otherwise."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    if len(raw) % 4 == 1 or not _B64URL_CHARS.issuperset(raw):
        raise EnvelopeError(f"{what} is not base64url")
    try:
        data = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        raise EnvelopeError(f"{what} is not base64url") from None
    if base64.urlsafe_b64encode(data).rstrip(b"=") != raw:
        raise EnvelopeError(f"{what} is not canonical base64url")
    return data


def json_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON, members in the order given (headers are signed as written, never re-serialised)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise EnvelopeError("JSON repeats a member name")
        out[name] = value
    return out


def _no_constants(name: str) -> Any:
    raise EnvelopeError("JSON uses NaN or Infinity")


def parse_json_object(data: str | bytes, what: str = "JSON") -> dict[str, Any]:
    """Parse UTF-8 JSON text that must be an object; raise ``EnvelopeError`` naming ``what`` otherwise."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        obj = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except EnvelopeError as exc:
        raise EnvelopeError(f"{what}: {exc.reason}") from None
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise EnvelopeError(f"{what} is not valid JSON") from None
    if not isinstance(obj, dict):
        raise EnvelopeError(f"{what} is not a JSON object")
    return obj
