"""Sealed envelopes: the sender's JWS inside a JWE to each recipient, with the routing bound to both.

A sealed envelope is a JWE (``ECDH-ES+A256KW``, ``A256GCM``, ``cty: "JOSE"``) whose plaintext is a
compact JWS (``EdDSA`` or ``ES256``) whose payload is the message body. Both protected headers carry
the same routing metadata, so neither the body nor the signature can be moved to an envelope with
other routing, and a recipient can refuse an envelope on its routing before any public-key work:

============  =====================  ========================================================
header        ``EnvelopeMetadata``   value
============  =====================  ========================================================
``hub.mid``   ``message_id``         the message id (for the hub, a UUID)
``hub.typ``   ``message_type``       the message type, e.g. ``DischargeNotice``
``hub.snd``   ``sender``             the sending organisation's id in the partner directory
``hub.rcp``   ``recipient``          the receiving organisation's id, or a list of ids
``iat``       ``issued_at``          seconds since the Unix epoch when the envelope was sealed
============  =====================  ========================================================

Ids are 1 to 128 characters from ``A-Z a-z 0-9 . _ : -``, starting with a letter or digit: they
name organisations and messages, never people. ``kid`` in both layers is the RFC 7638 thumbprint
of the key used.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from hub.envelope.errors import EnvelopeError
from hub.envelope.jwe import CONTENT_ALG, decrypt_jwe, encrypt_jwe, parse_jwe
from hub.envelope.jws import sign_compact, signature_alg_for, verify_compact
from hub.envelope.keys import KEY_MANAGEMENT_ALG, Jwk, require_agreement_key

HEADER_MESSAGE_ID = "hub.mid"
HEADER_MESSAGE_TYPE = "hub.typ"
HEADER_SENDER = "hub.snd"
HEADER_RECIPIENT = "hub.rcp"
HEADER_ISSUED_AT = "iat"
BOUND_HEADERS = (HEADER_ISSUED_AT, HEADER_MESSAGE_ID, HEADER_MESSAGE_TYPE, HEADER_SENDER, HEADER_RECIPIENT)
"""Header parameters that must be present, and equal, in the JWS and the JWE protected headers."""

JWS_HEADERS = frozenset({"alg", "kid", "typ", "cty", *BOUND_HEADERS})
"""Every parameter a JWS header may use; anything else (``crit``, ``b64``, ``jwk``, ``x5u`` ...) is refused."""

JWE_HEADERS = frozenset({"alg", "enc", "kid", "epk", "apu", "apv", "typ", "cty", *BOUND_HEADERS})
"""Every parameter a JWE header may use; anything else (``zip``, ``crit``, ``jku`` ...) is refused."""

DEFAULT_MAX_RECIPIENTS = 8
CLOCK_SKEW_SECONDS = 300
MEDIA_TYPE_COMPACT = "application/jose"
MEDIA_TYPE_JSON = "application/jose+json"
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

Serialization = Literal["compact", "json"]


def _check_id(value: Any, what: str) -> None:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise EnvelopeError(f"{what} is not a valid id")


@dataclass(frozen=True)
class EnvelopeMetadata:
    """The routing of one envelope, bound into both protected headers.

    ``recipient`` is one organisation id, or a tuple (a list is converted) of distinct ids when one
    envelope is sealed for several organisations. ``issued_at`` is filled in by ``seal_envelope`` when ``None``.
    """

    message_id: str
    message_type: str
    sender: str
    recipient: str | tuple[str, ...]
    issued_at: int | None = None

    def __post_init__(self) -> None:
        _check_id(self.message_id, "message id")
        _check_id(self.message_type, "message type")
        _check_id(self.sender, "sender")
        if isinstance(self.recipient, list):
            object.__setattr__(self, "recipient", tuple(self.recipient))
        recipients = self.recipients
        for recipient in recipients:
            _check_id(recipient, "recipient")
        if not recipients or len(set(recipients)) != len(recipients):
            raise EnvelopeError("recipient list is empty or repeats an id")
        if self.issued_at is not None and (type(self.issued_at) is not int or self.issued_at < 0):
            raise EnvelopeError("issued_at is not a non-negative integer")

    @property
    def recipients(self) -> tuple[str, ...]:
        """The recipient organisation ids, always as a tuple."""
        return self.recipient if isinstance(self.recipient, tuple) else (self.recipient,)

    def to_header(self) -> dict[str, Any]:
        """The bound header parameters, in the order they are written."""
        if self.issued_at is None:
            raise EnvelopeError("issued_at is not set")
        recipient = list(self.recipient) if isinstance(self.recipient, tuple) else self.recipient
        return {
            HEADER_ISSUED_AT: self.issued_at,
            HEADER_MESSAGE_ID: self.message_id,
            HEADER_MESSAGE_TYPE: self.message_type,
            HEADER_SENDER: self.sender,
            HEADER_RECIPIENT: recipient,
        }

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> EnvelopeMetadata:
        """Read the bound parameters of a protected header; all must be present and well formed."""
        if not all(name in header for name in BOUND_HEADERS):
            raise EnvelopeError("protected header lacks the routing metadata")
        if type(header[HEADER_ISSUED_AT]) is not int:
            raise EnvelopeError("iat is not an integer")
        return cls(
            message_id=header[HEADER_MESSAGE_ID],
            message_type=header[HEADER_MESSAGE_TYPE],
            sender=header[HEADER_SENDER],
            recipient=header[HEADER_RECIPIENT],
            issued_at=header[HEADER_ISSUED_AT],
        )


@dataclass(frozen=True, repr=False)
class OpenedEnvelope:
    """What ``open_envelope`` returns once every check has passed."""

    payload: bytes
    metadata: EnvelopeMetadata
    signing_kid: str
    """The thumbprint of the sender's key that made the signature."""
    recipient_kid: str
    """The thumbprint of our key that the envelope was opened with."""

    def __repr__(self) -> str:  # never the payload
        return f"OpenedEnvelope({self.metadata!r}, {len(self.payload)} bytes)"


def _key_list(keys: Jwk | Sequence[Jwk], what: str) -> list[Jwk]:
    out = [keys] if isinstance(keys, Jwk) else list(keys)
    if not out or not all(isinstance(key, Jwk) for key in out):
        raise EnvelopeError(f"{what} must be one or more Jwk")
    return out


def seal_envelope(
    payload: bytes,
    *,
    metadata: EnvelopeMetadata,
    signing_key: Jwk,
    recipient_keys: Jwk | Sequence[Jwk],
    serialization: Serialization = "compact",
    rng: Callable[[int], bytes] | None = None,
    max_recipients: int = DEFAULT_MAX_RECIPIENTS,
) -> str:
    """Sign ``payload`` with ``signing_key``, then encrypt it to every key in ``recipient_keys``.

    Returns the compact JWE (one recipient key; media type ``application/jose``) or the general
    JSON serialisation (one or more; ``application/jose+json``) as text. The signature ``alg`` is
    ``EdDSA`` for an Ed25519 key and ``ES256`` for a P-256 key. ``metadata.issued_at`` defaults to
    now. ``rng(n)`` returns ``n`` random bytes (default ``os.urandom``); tests pass a fixed stream
    to make golden vectors (see ``hub.envelope.jwe.encrypt_jwe`` for the order of draws).

    Work: one signature and one ephemeral ECDH per recipient key.
    """
    if serialization not in ("compact", "json"):
        raise EnvelopeError("serialization must be compact or json")
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise EnvelopeError("payload must be bytes")
    keys = _key_list(recipient_keys, "recipient_keys")
    if len(keys) > max_recipients or len(metadata.recipients) > max_recipients:
        raise EnvelopeError("too many recipients")
    if serialization == "compact" and len(keys) != 1:
        raise EnvelopeError("compact serialisation has exactly one recipient key; use json")
    if len({key.kid for key in keys}) != len(keys):
        raise EnvelopeError("a recipient key is given twice")
    for key in keys:
        require_agreement_key(key, private=False)
    if metadata.issued_at is None:
        metadata = replace(metadata, issued_at=int(time.time()))
    bound = metadata.to_header()
    jws = sign_compact(
        bytes(payload), {"alg": signature_alg_for(signing_key), "kid": signing_key.kid, **bound}, signing_key
    )
    protected = {"alg": KEY_MANAGEMENT_ALG, "enc": CONTENT_ALG, "cty": "JOSE", **bound}
    return encrypt_jwe(jws.encode("ascii"), protected, keys, compact=serialization == "compact", rng=rng)


def open_envelope(
    envelope: str | bytes,
    *,
    sender_keys: Jwk | Sequence[Jwk],
    recipient_keys: Jwk | Sequence[Jwk],
    expected_sender: str | None,
    expected_recipient: str | None,
    max_recipients: int = DEFAULT_MAX_RECIPIENTS,
    max_age: float | None = None,
    now: float | None = None,
) -> OpenedEnvelope:
    """Open a compact or JSON envelope; return the payload only if every check passes.

    ``sender_keys`` are the public signing keys registered for the partner the caller has
    authenticated as the sender, ``recipient_keys`` our private encryption keys (the one whose
    ``kid`` a recipient entry names is used). In order, before any public-key work: the structure,
    the allow-listed algorithms and header names, at most ``max_recipients`` recipients, the JWE's
    routing metadata naming ``expected_sender`` and including ``expected_recipient`` (``None``
    skips that check: do so only when the keys already pin the party), and ``iat`` no older than
    ``max_age`` seconds nor more than five minutes ahead of ``now`` (when ``max_age`` is given).
    Then one ECDH and decryption, the signature with a key from ``sender_keys``, and finally the
    JWS header's routing metadata, which must equal the JWE's exactly.

    Any failure raises ``EnvelopeError`` with a short reason; nothing else is raised.
    """
    senders = _key_list(sender_keys, "sender_keys")
    ours = _key_list(recipient_keys, "recipient_keys")
    jwe = parse_jwe(envelope, JWE_HEADERS, max_recipients)
    routing = EnvelopeMetadata.from_header(jwe.protected)
    if len(routing.recipients) > max_recipients:
        raise EnvelopeError("too many recipients")
    if expected_sender is not None and routing.sender != expected_sender:
        raise EnvelopeError("envelope is not from the expected sender")
    if expected_recipient is not None and expected_recipient not in routing.recipients:
        raise EnvelopeError("envelope is not addressed to the expected recipient")
    if max_age is not None:
        current, issued = time.time() if now is None else now, routing.issued_at or 0
        if issued > current + CLOCK_SKEW_SECONDS or current - issued > max_age:
            raise EnvelopeError("envelope is too old or dated in the future")
    plaintext, our_key = decrypt_jwe(jwe, ours)
    try:
        token = plaintext.decode("ascii")
    except UnicodeDecodeError:
        raise EnvelopeError("signed body is not a compact JWS") from None
    jws_header, payload, signer = verify_compact(token, senders, JWS_HEADERS)
    if EnvelopeMetadata.from_header(jws_header) != routing or any(
        jws_header[name] != jwe.protected[name] for name in BOUND_HEADERS
    ):
        raise EnvelopeError("signed routing metadata does not match the envelope")
    return OpenedEnvelope(payload, routing, signer.kid, our_key.kid)


def recipient_kids(envelope: str | bytes, max_recipients: int = DEFAULT_MAX_RECIPIENTS) -> list[str]:
    """The ``kid`` of every recipient entry of an envelope (the keys it was sealed to), without decrypting.

    For explaining a refusal only (``kid`` values are thumbprints, never personal data): nothing in
    an envelope is trusted until ``open_envelope`` returns. ``EnvelopeError`` if it is not a JWE.
    """
    jwe = parse_jwe(envelope, JWE_HEADERS, max_recipients)
    return [kid for entry in jwe.recipients if isinstance(kid := entry.header.get("kid"), str)]
