"""What the envelope tests share: the algorithms, a synthetic message's metadata and body, and sealing helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from jwcrypto import jwk as jc_jwk
from jwcrypto import jws as jc_jws

from hub.envelope import (
    EnvelopeMetadata,
    Jwk,
    generate_key,
    open_envelope,
    seal_envelope,
)
from hub.envelope.encoding import b64url_encode, json_bytes
from hub.envelope.jwe import encrypt_jwe

VECTORS = Path(__file__).resolve().parent / "vectors" / "envelope"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SIGNING = ("EdDSA", "ES256")
RECEIVING = ("X25519", "P-256")
COMBINATIONS = [(sig, enc) for sig in SIGNING for enc in RECEIVING]
SENDER, RECIPIENT = "trust-a", "council-luton"
META = EnvelopeMetadata("6f1c2b9e-1d7a-4c3e-9a51-0b8f2f6c1e11", "DischargeNotice", SENDER, RECIPIENT, 1_767_225_600)
BODY = b'{"resourceType":"Bundle","note":"synthetic test body, no real person"}'


def bound_header(meta: EnvelopeMetadata = META) -> dict[str, Any]:
    return meta.to_header()


def open_as_recipient(sealed: str, sender: Jwk, recipient: Jwk, **kwargs: Any) -> Any:
    options: dict[str, Any] = {"expected_sender": SENDER, "expected_recipient": RECIPIENT} | kwargs
    return open_envelope(sealed, sender_keys=sender.public(), recipient_keys=recipient, **options)


def seal(sender: Jwk, recipients: Jwk | list[Jwk], meta: EnvelopeMetadata = META, body: bytes = BODY, **kw: Any) -> str:
    keys = [key.public() for key in recipients] if isinstance(recipients, list) else recipients.public()
    return seal_envelope(body, metadata=meta, signing_key=sender, recipient_keys=keys, **kw)


def fresh_keys() -> dict[str, Jwk]:
    """One fresh key of every signing and receiving algorithm."""
    return {alg: generate_key("sig" if alg in SIGNING else "enc", alg) for alg in (*SIGNING, *RECEIVING)}


def forged_jws(
    named: Jwk, *, header: dict[str, Any] | None = None, sign_with: Jwk | None = None, meta: EnvelopeMetadata = META
) -> str:
    """A JWS naming ``named`` by kid, signed (by jwcrypto, so with the header as given) with ``sign_with``."""
    signer = sign_with or named
    full = {"alg": "EdDSA" if signer.crv == "Ed25519" else "ES256", "kid": named.kid, **bound_header(meta)}
    full.update(header or {})
    head = b64url_encode(json_bytes(full)) + "." + b64url_encode(BODY)
    private = signer.private_key
    if isinstance(private, ed25519.Ed25519PrivateKey):
        signature = private.sign(head.encode())
    else:
        token = jc_jws.JWS(BODY)
        token.add_signature(jc_jwk.JWK(**signer.to_dict(private=True)), "ES256", json.dumps(full))
        signed: str = token.serialize(compact=True)  # jwcrypto has no types
        return signed
    return head + "." + b64url_encode(signature)


def wrap_jws(token: str, recipient: Jwk, **extra: Any) -> str:
    header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "cty": "JOSE", **bound_header(), **extra}
    return encrypt_jwe(token.encode("ascii"), header, [recipient.public()], compact=True)
