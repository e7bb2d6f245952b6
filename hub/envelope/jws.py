"""JWS compact serialisation (RFC 7515) with ``EdDSA`` (RFC 8037) or ``ES256`` (RFC 7518 section 3.4).

ES256 signatures are the raw 64 bytes ``r || s``, never DER, and are made deterministically
(RFC 6979) so that golden vectors are reproducible. The header is signed exactly as serialised
here; a verifier reads the signed bytes and never re-serialises.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from hub.envelope.encoding import b64url_decode, b64url_encode, json_bytes, parse_json_object
from hub.envelope.errors import EnvelopeError
from hub.envelope.keys import SIGNATURE_ALGS, Jwk, require_signature_key

_ES256 = ec.ECDSA(hashes.SHA256())
_ES256_DETERMINISTIC = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)


def signature_alg_for(key: Jwk) -> str:
    """The JWS ``alg`` that ``key`` signs with: ``EdDSA`` for Ed25519, ``ES256`` for P-256."""
    for alg, (kty, crv) in SIGNATURE_ALGS.items():
        if (key.kty, key.crv) == (kty, crv) and key.use != "enc" and key.alg in (None, alg):
            return alg
    raise EnvelopeError("signing key is not an Ed25519 or P-256 signing key")


def sign_compact(payload: bytes, header: dict[str, Any], key: Jwk) -> str:
    """Sign ``payload`` under ``header`` (which names ``alg``) with the private ``key``."""
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise EnvelopeError("JWS header has no alg")
    require_signature_key(key, alg, private=True)
    signing_input = b64url_encode(json_bytes(header)) + "." + b64url_encode(payload)
    data = signing_input.encode("ascii")
    private = key.private_key
    if isinstance(private, ed25519.Ed25519PrivateKey):
        signature = private.sign(data)
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private.sign(data, _ES256_DETERMINISTIC))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:  # pragma: no cover - require_signature_key has already refused anything else
        raise EnvelopeError("signing key is not allowed")
    return signing_input + "." + b64url_encode(signature)


def _verify(key: Jwk, signature: bytes, data: bytes) -> None:
    public = key.public_key
    try:
        if isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(signature, data)
            return
        if isinstance(public, ec.EllipticCurvePublicKey) and len(signature) == 64:
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            public.verify(encode_dss_signature(r, s), data, _ES256)
            return
    except InvalidSignature:
        pass
    raise EnvelopeError("signature does not verify")


def verify_compact(
    token: str, keys: Sequence[Jwk], allowed_headers: Collection[str]
) -> tuple[dict[str, Any], bytes, Jwk]:
    """Check a compact JWS against ``keys`` (chosen by ``kid``); return its header, payload and key.

    The header may use only ``allowed_headers``; ``alg`` must be allowed and match the key's type.
    Nothing in the header is trusted by the caller until this returns.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise EnvelopeError("signed body is not a compact JWS")
    header_b64, payload_b64, signature_b64 = parts
    header = parse_json_object(b64url_decode(header_b64, "JWS header"), "JWS header")
    if not set(allowed_headers).issuperset(header):
        raise EnvelopeError("JWS header has a parameter that is not allowed")
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str) or alg not in SIGNATURE_ALGS:
        raise EnvelopeError("JWS alg is not allowed")
    if not isinstance(kid, str):
        raise EnvelopeError("JWS header has no kid")
    key = next((candidate for candidate in keys if candidate.kid == kid), None)
    if key is None:
        raise EnvelopeError("JWS is not signed by a key of the expected sender")
    require_signature_key(key, alg, private=False)
    payload = b64url_decode(payload_b64, "JWS payload")
    signature = b64url_decode(signature_b64, "JWS signature")
    _verify(key, signature, (header_b64 + "." + payload_b64).encode("ascii"))
    return header, payload, key
