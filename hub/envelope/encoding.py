"""Strict base64url and JSON for JOSE objects.

Decoding is canonical: padding, characters outside the base64url alphabet and encodings whose
unused trailing bits are not zero are refused, so that every accepted text decodes from exactly
one string. JSON is read by ``hub.strict_json`` (no repeated member names, no ``NaN``/``Infinity``,
UTF-8 only, bounded depth) and must be an object.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from hub.envelope.errors import EnvelopeError
from hub.plugin_api.problems import UnparseableInput
from hub.strict_json import parse_json_strict

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_SPARE_BITS = {0: 0, 1: None, 2: 0b1111, 3: 0b11}  # by length modulo 4: low bits of the last character


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str | bytes, what: str = "value") -> bytes:
    """Decode canonical base64url without padding; raise ``EnvelopeError`` naming ``what`` otherwise.

    Refused: characters outside the base64url alphabet (including ``+``, ``/`` and ``=``), a length
    that no encoding has, and a last character whose spare low bits are not zero.
    """
    raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    spare_bits = _SPARE_BITS[len(raw) % 4]
    if spare_bits is None or b"+" in raw or b"/" in raw or b"=" in raw:
        raise EnvelopeError(f"{what} is not base64url")
    try:
        data = binascii.a2b_base64(raw.translate(_TO_STANDARD) + b"=" * (-len(raw) % 4), strict_mode=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError(f"{what} is not base64url") from None
    if spare_bits and _ALPHABET.index(raw[-1]) & spare_bits:
        raise EnvelopeError(f"{what} is not canonical base64url")
    return data


def json_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON, members in the order given (headers are signed as written, never re-serialised)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def parse_json_object(data: str | bytes, what: str = "JSON") -> dict[str, Any]:
    """Parse UTF-8 JSON text that must be an object; raise ``EnvelopeError`` naming ``what`` otherwise.

    The text is read by the hub's one strict reader (``hub.strict_json``), the same that reads
    every JSON message body.
    """
    try:
        obj = parse_json_strict(data)
    except UnparseableInput as exc:
        why = exc.problems[0].message if exc.problems else "is not JSON the hub accepts"
        raise EnvelopeError(f"{what}: {why}") from None
    if not isinstance(obj, dict):
        raise EnvelopeError(f"{what} is not a JSON object")
    return obj
