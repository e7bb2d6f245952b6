"""JWE (RFC 7516) with ``ECDH-ES+A256KW`` and ``A256GCM`` only, compact or general JSON.

Key management (RFC 7518 section 4.6): a fresh ephemeral key per recipient on the recipient's
curve (X25519 per RFC 8037, or P-256), the Concat KDF of NIST SP 800-56A with SHA-256 over
``AlgorithmID = "ECDH-ES+A256KW"``, ``PartyUInfo``/``PartyVInfo`` from ``apu``/``apv`` (empty
when absent) and ``keydatalen = 256``; the derived key wraps the content key with AES key wrap
(RFC 3394). Content: AES-256-GCM with a 96-bit IV and a 128-bit tag; the additional data is the
ASCII of the base64url protected header, followed by ``"." + aad`` when the JSON form has ``aad``.

Reading is split in two so that a caller can refuse an envelope on its protected header before
any public-key work: ``parse_jwe`` checks the structure and the header names, ``decrypt_jwe`` does
one ECDH for the recipient entry whose ``kid`` is one of the caller's keys.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from hub.envelope.encoding import b64url_decode, b64url_encode, json_bytes, parse_json_object
from hub.envelope.errors import EnvelopeError
from hub.envelope.keys import KEY_MANAGEMENT_ALG, Jwk, epk_members, load_epk, require_agreement_key

CONTENT_ALG = "A256GCM"
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_JSON_MEMBERS = frozenset(
    {"protected", "unprotected", "header", "encrypted_key", "recipients", "iv", "ciphertext", "tag", "aad"}
)
_RECIPIENT_MEMBERS = frozenset({"header", "encrypted_key"})

Rng = Callable[[int], bytes]


def concat_kdf(shared_secret: bytes, apu: bytes = b"", apv: bytes = b"") -> bytes:
    """The 256-bit key-encryption key for ECDH-ES+A256KW from the ECDH output ``shared_secret``."""
    alg_id = KEY_MANAGEMENT_ALG.encode("ascii")
    other_info = b"".join(len(part).to_bytes(4, "big") + part for part in (alg_id, apu, apv))
    # one round of SHA-256 gives exactly keydatalen = 256 bits
    return hashlib.sha256(b"\x00\x00\x00\x01" + shared_secret + other_info + (256).to_bytes(4, "big")).digest()


def _ephemeral(crv: str, rng: Rng) -> x25519.X25519PrivateKey | ec.EllipticCurvePrivateKey:
    if crv == "X25519":
        return x25519.X25519PrivateKey.from_private_bytes(rng(32))
    while True:  # rejection sampling: a scalar outside [1, n - 1] is drawn again (probability ~2**-32)
        scalar = int.from_bytes(rng(32), "big")
        if 0 < scalar < _P256_ORDER:
            return ec.derive_private_key(scalar, ec.SECP256R1())


def _agree(private: x25519.X25519PrivateKey | ec.EllipticCurvePrivateKey, public: Any) -> bytes:
    try:
        if isinstance(private, x25519.X25519PrivateKey):
            return private.exchange(public)
        return private.exchange(ec.ECDH(), public)
    except (ValueError, TypeError):
        raise EnvelopeError("key agreement failed") from None


def encrypt_jwe(
    plaintext: bytes,
    protected: dict[str, Any],
    recipient_keys: Sequence[Jwk],
    *,
    compact: bool,
    rng: Rng | None = None,
) -> str:
    """Encrypt to every key in ``recipient_keys``; ``protected`` must name ``alg`` and ``enc``.

    ``rng(n)`` supplies randomness (default ``os.urandom``), drawn in this order: the 32-byte
    content key, the 12-byte IV, then 32 bytes per recipient for its ephemeral private key (an
    X25519 scalar, or a P-256 scalar drawn again until it lies in ``[1, n - 1]``). Compact puts
    ``kid`` and ``epk`` in the protected header after the members of ``protected``; JSON puts them
    in each recipient's unprotected ``header``.
    """
    if protected.get("alg") != KEY_MANAGEMENT_ALG or protected.get("enc") != CONTENT_ALG:
        raise EnvelopeError("JWE alg or enc is not allowed")
    if compact and len(recipient_keys) != 1:
        raise EnvelopeError("compact serialisation has exactly one recipient")
    draw = rng or os.urandom
    cek, iv = draw(32), draw(12)
    if len(cek) != 32 or len(iv) != 12:
        raise EnvelopeError("rng returned the wrong number of bytes")
    recipients: list[dict[str, Any]] = []
    for key in recipient_keys:
        require_agreement_key(key, private=False)
        ephemeral = _ephemeral(key.crv, draw)
        kek = concat_kdf(_agree(ephemeral, key.public_key))
        header = {"kid": key.kid, "epk": epk_members(ephemeral.public_key())}
        recipients.append({"header": header, "encrypted_key": b64url_encode(aes_key_wrap(kek, cek))})
    if compact:
        protected = {**protected, **recipients[0]["header"]}
    protected_b64 = b64url_encode(json_bytes(protected))
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected_b64.encode("ascii"))
    ciphertext, tag = b64url_encode(sealed[:-16]), b64url_encode(sealed[-16:])
    if compact:
        return ".".join((protected_b64, recipients[0]["encrypted_key"], b64url_encode(iv), ciphertext, tag))
    document = {
        "protected": protected_b64,
        "recipients": recipients,
        "iv": b64url_encode(iv),
        "ciphertext": ciphertext,
        "tag": tag,
    }
    return json.dumps(document, separators=(",", ":"))


@dataclass(frozen=True)
class JweRecipient:
    """One recipient entry: its headers merged with the shared ones, and its wrapped key."""

    header: dict[str, Any]
    encrypted_key: bytes


@dataclass(frozen=True)
class ParsedJwe:
    """A JWE whose structure and header names have been checked, not yet decrypted."""

    protected: dict[str, Any]
    recipients: tuple[JweRecipient, ...]
    iv: bytes
    ciphertext: bytes
    tag: bytes
    aad: bytes
    compact: bool


def _header_member(obj: dict[str, Any], name: str, what: str) -> dict[str, Any]:
    value = obj.get(name, {})
    if not isinstance(value, dict):
        raise EnvelopeError(f"{what} is not a JSON object")
    return value


def _merged(*headers: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for header in headers:
        if not out.keys().isdisjoint(header):
            raise EnvelopeError("JWE header parameter appears in more than one header")
        out.update(header)
    return out


def _string(obj: dict[str, Any], name: str, what: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise EnvelopeError(f"JWE {what} is missing")
    return value


def parse_jwe(text: str | bytes, allowed_headers: Collection[str], max_recipients: int) -> ParsedJwe:
    """Check a compact or JSON JWE's structure, header names, ``alg``/``enc`` and recipient count.

    ``alg`` and ``enc`` must be in the integrity-protected header. The recipient count is checked
    as soon as the JSON is parsed, before any member is decoded.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise EnvelopeError("envelope is not ASCII") from None
    stripped = text.strip()
    if stripped.startswith("{"):
        obj = parse_json_object(stripped, "JWE JSON")
        if not _JSON_MEMBERS.issuperset(obj):
            raise EnvelopeError("JWE JSON has a member that is not allowed")
        if "recipients" in obj:
            entries = obj["recipients"]
            if "header" in obj or "encrypted_key" in obj or not isinstance(entries, list):
                raise EnvelopeError("JWE JSON mixes general and flattened forms")
        else:
            entries = [{name: obj[name] for name in ("header", "encrypted_key") if name in obj}]
        if not 0 < len(entries) <= max_recipients:
            raise EnvelopeError("JWE has too many or no recipients")
        protected_b64 = _string(obj, "protected", "protected header")
        shared = _header_member(obj, "unprotected", "JWE shared header")
        raw_recipients = []
        for entry in entries:
            if not isinstance(entry, dict) or not _RECIPIENT_MEMBERS.issuperset(entry):
                raise EnvelopeError("JWE recipient is not allowed")
            raw_recipients.append((_header_member(entry, "header", "JWE recipient header"), entry.get("encrypted_key")))
        iv_b64, ct_b64, tag_b64 = (_string(obj, name, name) for name in ("iv", "ciphertext", "tag"))
        aad_b64 = obj.get("aad")
        if aad_b64 is not None and not isinstance(aad_b64, str):
            raise EnvelopeError("JWE aad is not a string")
        compact = False
    else:
        parts = stripped.split(".")
        if len(parts) != 5:
            raise EnvelopeError("envelope is neither compact nor JSON JWE")
        protected_b64, encrypted_key_b64, iv_b64, ct_b64, tag_b64 = parts
        shared, raw_recipients, aad_b64, compact = {}, [({}, encrypted_key_b64)], None, True
    protected = parse_json_object(b64url_decode(protected_b64, "JWE protected header"), "JWE protected header")
    if protected.get("alg") != KEY_MANAGEMENT_ALG or protected.get("enc") != CONTENT_ALG:
        raise EnvelopeError("JWE alg or enc is not allowed")
    allowed = set(allowed_headers)
    recipients = []
    for header, encrypted_key in raw_recipients:
        merged = _merged(protected, shared, header)
        if not allowed.issuperset(merged):
            raise EnvelopeError("JWE header has a parameter that is not allowed")
        if not isinstance(encrypted_key, str):
            raise EnvelopeError("JWE encrypted key is missing")
        recipients.append(JweRecipient(merged, b64url_decode(encrypted_key, "JWE encrypted key")))
    aad = protected_b64.encode("ascii")
    if aad_b64 is not None:
        b64url_decode(aad_b64, "JWE aad")
        aad += b"." + aad_b64.encode("ascii")
    return ParsedJwe(
        protected=protected,
        recipients=tuple(recipients),
        iv=b64url_decode(iv_b64, "JWE iv"),
        ciphertext=b64url_decode(ct_b64, "JWE ciphertext"),
        tag=b64url_decode(tag_b64, "JWE tag"),
        aad=aad,
        compact=compact,
    )


def _party_info(header: dict[str, Any], name: str) -> bytes:
    value = header.get(name, "")
    if not isinstance(value, str):
        raise EnvelopeError(f"JWE {name} is not a string")
    return b64url_decode(value, f"JWE {name}")


def decrypt_jwe(jwe: ParsedJwe, private_keys: Sequence[Jwk]) -> tuple[bytes, Jwk]:
    """Decrypt with the first of ``private_keys`` whose ``kid`` names a recipient; return plaintext and key.

    Exactly one ECDH is done. A recipient entry without a ``kid`` is never tried.
    """
    chosen: tuple[JweRecipient, Jwk] | None = None
    for key in private_keys:
        entry = next((entry for entry in jwe.recipients if entry.header.get("kid") == key.kid), None)
        if entry is not None:
            chosen = (entry, key)
            break
    if chosen is None:
        raise EnvelopeError("envelope is not addressed to any of our keys")
    entry, key = chosen
    require_agreement_key(key, private=True)
    if len(jwe.iv) != 12 or len(jwe.tag) != 16 or len(entry.encrypted_key) != 40:
        raise EnvelopeError("JWE iv, tag or encrypted key has the wrong length")
    apu, apv = _party_info(entry.header, "apu"), _party_info(entry.header, "apv")
    epk = load_epk(entry.header.get("epk"), key.crv)
    private = key.private_key  # an agreement key's private part (checked above), which is X25519 or P-256
    if not isinstance(private, x25519.X25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise EnvelopeError("recipient key has no X25519 or P-256 private part")
    kek = concat_kdf(_agree(private, epk), apu, apv)
    try:
        cek = aes_key_unwrap(kek, entry.encrypted_key)
        return AESGCM(cek).decrypt(jwe.iv, jwe.ciphertext + jwe.tag, jwe.aad), key
    except (InvalidUnwrap, InvalidTag, ValueError):
        raise EnvelopeError("envelope does not decrypt") from None
