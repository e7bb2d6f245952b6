"""Sealed envelopes between the hub and its partners: sign (JWS), then encrypt (JWE), in standard JOSE.

The whole public face is here; ``docs/envelopes.md`` explains it to a partner's developer::

    from hub.envelope import EnvelopeMetadata, load_jwk, open_envelope, seal_envelope

    sealed = seal_envelope(body, metadata=EnvelopeMetadata("m-1", "Referral", "trust-a", "council-luton"),
                           signing_key=our_signing_key, recipient_keys=their_encryption_key)
    opened = open_envelope(sealed, sender_keys=their_signing_keys, recipient_keys=our_encryption_keys,
                           expected_sender="trust-a", expected_recipient="council-luton")

Allowed, and nothing else: JWS ``EdDSA`` (Ed25519) or ``ES256`` (P-256); JWE ``ECDH-ES+A256KW`` to
X25519 or P-256 keys with ``A256GCM``; no ``zip``, no ``crit``. Every refusal is an ``EnvelopeError``.
"""

from __future__ import annotations

from hub.envelope.errors import EnvelopeError
from hub.envelope.keys import Jwk, dump_jwk, generate_key, jwk_from_key, load_jwk, load_jwk_set, thumbprint
from hub.envelope.sealing import (
    BOUND_HEADERS,
    DEFAULT_MAX_RECIPIENTS,
    HEADER_ISSUED_AT,
    HEADER_MESSAGE_ID,
    HEADER_MESSAGE_TYPE,
    HEADER_RECIPIENT,
    HEADER_SENDER,
    MEDIA_TYPE_COMPACT,
    MEDIA_TYPE_JSON,
    EnvelopeMetadata,
    OpenedEnvelope,
    open_envelope,
    recipient_kids,
    seal_envelope,
)

__all__ = [
    "BOUND_HEADERS",
    "DEFAULT_MAX_RECIPIENTS",
    "HEADER_ISSUED_AT",
    "HEADER_MESSAGE_ID",
    "HEADER_MESSAGE_TYPE",
    "HEADER_RECIPIENT",
    "HEADER_SENDER",
    "MEDIA_TYPE_COMPACT",
    "MEDIA_TYPE_JSON",
    "EnvelopeError",
    "EnvelopeMetadata",
    "Jwk",
    "OpenedEnvelope",
    "dump_jwk",
    "generate_key",
    "jwk_from_key",
    "load_jwk",
    "load_jwk_set",
    "open_envelope",
    "recipient_kids",
    "seal_envelope",
    "thumbprint",
]
