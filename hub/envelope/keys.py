"""JSON Web Keys for envelopes: Ed25519 and P-256 to sign, X25519 and P-256 to receive.

Only these are accepted (RFC 7517, RFC 8037, RFC 7518 section 6.2):

=========  =========  ================================  =======================
``kty``    ``crv``    used for                          ``alg`` (when present)
=========  =========  ================================  =======================
``OKP``    Ed25519    signing (``use: sig``)            ``EdDSA``
``EC``     P-256      signing (``use: sig``)            ``ES256``
``OKP``    X25519     receiving (``use: enc``)          ``ECDH-ES+A256KW``
``EC``     P-256      receiving (``use: enc``)          ``ECDH-ES+A256KW``
=========  =========  ================================  =======================

Every key's ``kid`` is its RFC 7638 thumbprint (SHA-256, base64url), computed here; a JWK that
carries any other ``kid`` is refused, so a ``kid`` never carries a name, an email or any other
personal data. A private JWK's ``d`` must match its public members.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.envelope.encoding import b64url_decode, b64url_encode, parse_json_object
from hub.envelope.errors import EnvelopeError

SIGNATURE_ALGS: dict[str, tuple[str, str]] = {"EdDSA": ("OKP", "Ed25519"), "ES256": ("EC", "P-256")}
"""JWS ``alg`` -> the (``kty``, ``crv``) a key must have to make or check that signature."""

KEY_AGREEMENT_CURVES: dict[str, str] = {"X25519": "OKP", "P-256": "EC"}
"""Curves a recipient key may use for ECDH-ES+A256KW, and their ``kty``."""

KEY_MANAGEMENT_ALG = "ECDH-ES+A256KW"

_CURVE_KTY = {"Ed25519": "OKP", "X25519": "OKP", "P-256": "EC"}
_JWK_MEMBERS = frozenset({"kty", "crv", "x", "y", "d", "use", "alg", "kid"})
_EPK_MEMBERS = frozenset({"kty", "crv", "x", "y"})
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

PublicKey = ed25519.Ed25519PublicKey | x25519.X25519PublicKey | ec.EllipticCurvePublicKey
PrivateKey = ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True, eq=False, repr=False)
class Jwk:
    """A checked public or private key with its thumbprint ``kid``.

    Build one with ``load_jwk``, ``generate_key`` or ``jwk_from_key``; never by hand. The
    ``repr`` shows only the type, curve and ``kid``.
    """

    kty: str
    crv: str
    kid: str
    public_key: PublicKey
    private_key: PrivateKey | None
    use: str | None
    alg: str | None
    public_members: tuple[tuple[str, str], ...]

    @property
    def is_private(self) -> bool:
        """True when this key can sign or decrypt."""
        return self.private_key is not None

    def public(self) -> Jwk:
        """The same key without its private part."""
        if self.private_key is None:
            return self
        return Jwk(self.kty, self.crv, self.kid, self.public_key, None, self.use, self.alg, self.public_members)

    def to_dict(self, *, private: bool = False) -> dict[str, str]:
        """The JWK as a dict; the private ``d`` only when ``private`` is true (and the key has one)."""
        out = {"kty": self.kty, "crv": self.crv, **dict(self.public_members)}
        if private:
            if self.private_key is None:
                raise EnvelopeError("key has no private part")
            out["d"] = b64url_encode(_private_bytes(self.private_key))
        if self.use:
            out["use"] = self.use
        if self.alg:
            out["alg"] = self.alg
        out["kid"] = self.kid
        return out

    def __repr__(self) -> str:
        kind = "private" if self.is_private else "public"
        return f"Jwk({self.kty} {self.crv} {kind} kid={self.kid})"


def thumbprint(kty: str, crv: str, members: Mapping[str, str]) -> str:
    """RFC 7638 SHA-256 thumbprint of an OKP or EC public key, base64url."""
    required: dict[str, str] = {"crv": crv, "kty": kty, "x": members["x"]}
    if kty == "EC":
        required["y"] = members["y"]
    text = json.dumps(required, separators=(",", ":"), sort_keys=True).encode("ascii")
    return b64url_encode(hashlib.sha256(text).digest())


def _private_bytes(key: PrivateKey) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.private_numbers().private_value.to_bytes(32, "big")
    return key.private_bytes_raw()


def _public_members(key: PublicKey) -> tuple[tuple[str, str], ...]:
    if isinstance(key, ec.EllipticCurvePublicKey):
        point = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return (("x", b64url_encode(point[1:33])), ("y", b64url_encode(point[33:65])))
    return (("x", b64url_encode(key.public_bytes_raw())),)


def _curve_of(key: PublicKey | PrivateKey) -> str:
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "Ed25519"
    if isinstance(key, x25519.X25519PublicKey | x25519.X25519PrivateKey):
        return "X25519"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "P-256"
    raise EnvelopeError("key type is not allowed")


def _check_use_and_alg(crv: str, use: str | None, alg: str | None) -> None:
    if use is not None and use not in ("sig", "enc"):
        raise EnvelopeError("key use is not allowed")
    signing = crv == "Ed25519" or use == "sig"
    agreeing = crv == "X25519" or use == "enc"
    if (crv == "Ed25519" and use == "enc") or (crv == "X25519" and use == "sig"):
        raise EnvelopeError("key use does not match its curve")
    if alg is None:
        return
    if alg == KEY_MANAGEMENT_ALG:
        if signing or crv not in KEY_AGREEMENT_CURVES:
            raise EnvelopeError("key alg does not match its curve or use")
    elif alg in SIGNATURE_ALGS:
        if agreeing or SIGNATURE_ALGS[alg][1] != crv:
            raise EnvelopeError("key alg does not match its curve or use")
    else:
        raise EnvelopeError("key alg is not allowed")


def jwk_from_key(key: PublicKey | PrivateKey, *, use: str | None = None, alg: str | None = None) -> Jwk:
    """Wrap a ``cryptography`` key object (Ed25519, X25519 or P-256, public or private)."""
    crv = _curve_of(key)
    _check_use_and_alg(crv, use, alg)
    private: PrivateKey | None = None
    if isinstance(key, ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey | ec.EllipticCurvePrivateKey):
        private, public = key, key.public_key()
    else:
        public = key
    members = _public_members(public)
    kty = _CURVE_KTY[crv]
    return Jwk(kty, crv, thumbprint(kty, crv, dict(members)), public, private, use, alg, members)


def _coordinate(jwk: Mapping[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise EnvelopeError(f"JWK member {name} is missing")
    data = b64url_decode(value, f"JWK member {name}")
    if len(data) != 32:
        raise EnvelopeError(f"JWK member {name} has the wrong length")
    return data


def _public_from_members(jwk: Mapping[str, Any]) -> tuple[str, str, PublicKey]:
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty not in ("OKP", "EC"):
        raise EnvelopeError("JWK kty is not allowed")
    if not isinstance(crv, str) or _CURVE_KTY.get(crv) != kty:
        raise EnvelopeError("JWK curve is not allowed for its kty")
    if kty == "OKP" and "y" in jwk:
        raise EnvelopeError("OKP JWK has a y member")
    x = _coordinate(jwk, "x")
    try:
        if crv == "Ed25519":
            return kty, crv, ed25519.Ed25519PublicKey.from_public_bytes(x)
        if crv == "X25519":
            return kty, crv, x25519.X25519PublicKey.from_public_bytes(x)
        point = b"\x04" + x + _coordinate(jwk, "y")
        return kty, crv, ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise EnvelopeError("JWK public key is not a valid point") from None


def load_jwk(source: str | bytes | Mapping[str, Any]) -> Jwk:
    """Load a public or private JWK (JSON text or a dict) after checking everything listed above.

    JSON text is loaded once: the same text again gives the same (immutable) ``Jwk`` from a small cache, since
    checking a private key's ``d`` against its public members costs a scalar multiplication (about 90 us), and
    the hub loads its own envelope keys from the key ring's text for every envelope it seals or opens.
    """
    if isinstance(source, str | bytes):
        return _load_jwk_text(source)
    return _load_jwk(source)


@functools.lru_cache(maxsize=64)
def _load_jwk_text(source: str | bytes) -> Jwk:
    """``load_jwk`` of JSON text, cached by the text (a refusal raises, and is not cached)."""
    return _load_jwk(parse_json_object(source, "JWK"))


def _load_jwk(jwk: Any) -> Jwk:
    """``load_jwk`` of a parsed JWK."""
    if not isinstance(jwk, Mapping):
        raise EnvelopeError("JWK is not a JSON object")
    if not _JWK_MEMBERS.issuperset(jwk):
        raise EnvelopeError("JWK has a member that is not allowed")
    use, alg = jwk.get("use"), jwk.get("alg")
    if not (use is None or isinstance(use, str)) or not (alg is None or isinstance(alg, str)):
        raise EnvelopeError("JWK use or alg is not a string")
    kty, crv, public = _public_from_members(jwk)
    _check_use_and_alg(crv, use, alg)
    members = _public_members(public)
    kid = thumbprint(kty, crv, dict(members))
    if "kid" in jwk and jwk["kid"] != kid:
        raise EnvelopeError("JWK kid is not its RFC 7638 thumbprint")
    private: PrivateKey | None = None
    if "d" in jwk:
        d = _coordinate(jwk, "d")
        try:
            if crv == "Ed25519":
                private = ed25519.Ed25519PrivateKey.from_private_bytes(d)
            elif crv == "X25519":
                private = x25519.X25519PrivateKey.from_private_bytes(d)
            else:
                scalar = int.from_bytes(d, "big")
                if not 0 < scalar < _P256_ORDER:
                    raise EnvelopeError("JWK private key is out of range")
                private = ec.derive_private_key(scalar, ec.SECP256R1())
        except ValueError:
            raise EnvelopeError("JWK private key is not valid") from None
        if _public_members(private.public_key()) != members:
            raise EnvelopeError("JWK private key does not match its public key")
    return Jwk(kty, crv, kid, public, private, use, alg, members)


def load_jwk_set(source: str | bytes | Mapping[str, Any]) -> list[Jwk]:
    """Load ``{"keys": [...]}`` (RFC 7517 section 5); every key must pass ``load_jwk``."""
    jwks = parse_json_object(source, "JWK set") if isinstance(source, str | bytes) else source
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise EnvelopeError("JWK set has no keys list")
    return [load_jwk(item) for item in keys]


def dump_jwk(key: Jwk, *, private: bool = False) -> str:
    """The key as JWK JSON text (public unless ``private``), one member per line."""
    return json.dumps(key.to_dict(private=private), indent=2) + "\n"


def generate_key(kind: Literal["sig", "enc"], alg: str) -> Jwk:
    """A fresh private key: ``sig`` with ``EdDSA`` or ``ES256``; ``enc`` with ``X25519`` or ``P-256``."""
    if kind == "sig" and alg == "EdDSA":
        return jwk_from_key(ed25519.Ed25519PrivateKey.generate(), use="sig", alg="EdDSA")
    if kind == "sig" and alg == "ES256":
        return jwk_from_key(ec.generate_private_key(ec.SECP256R1()), use="sig", alg="ES256")
    if kind == "enc" and alg == "X25519":
        return jwk_from_key(x25519.X25519PrivateKey.generate(), use="enc", alg=KEY_MANAGEMENT_ALG)
    if kind == "enc" and alg == "P-256":
        return jwk_from_key(ec.generate_private_key(ec.SECP256R1()), use="enc", alg=KEY_MANAGEMENT_ALG)
    raise EnvelopeError("key kind and alg do not go together")


def require_signature_key(key: Jwk, alg: str, *, private: bool) -> None:
    """Refuse ``key`` for making (``private``) or checking a JWS with ``alg``."""
    if alg not in SIGNATURE_ALGS:
        raise EnvelopeError("signature alg is not allowed")
    if (key.kty, key.crv) != SIGNATURE_ALGS[alg] or key.use == "enc" or key.alg not in (None, alg):
        raise EnvelopeError("signing key does not match the signature alg")
    if private and key.private_key is None:
        raise EnvelopeError("signing key has no private part")


def require_agreement_key(key: Jwk, *, private: bool) -> None:
    """Refuse ``key`` as a recipient key for ECDH-ES+A256KW (``private`` when opening)."""
    if key.crv not in KEY_AGREEMENT_CURVES or key.use == "sig" or key.alg not in (None, KEY_MANAGEMENT_ALG):
        raise EnvelopeError("recipient key is not an X25519 or P-256 encryption key")
    if private and key.private_key is None:
        raise EnvelopeError("recipient key has no private part")


def epk_members(key: x25519.X25519PublicKey | ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The ``epk`` header value for an ephemeral public key."""
    crv = _curve_of(key)
    return {"kty": _CURVE_KTY[crv], "crv": crv, **dict(_public_members(key))}


def load_epk(value: Any, crv: str) -> x25519.X25519PublicKey | ec.EllipticCurvePublicKey:
    """Read an ``epk`` header, which must be a public key on ``crv`` (the recipient key's curve)."""
    if not isinstance(value, dict) or not _EPK_MEMBERS.issuperset(value):
        raise EnvelopeError("epk is not an allowed public JWK")
    _, epk_crv, public = _public_from_members(value)
    if epk_crv != crv:
        raise EnvelopeError("epk curve does not match the recipient key")
    if not isinstance(public, x25519.X25519PublicKey | ec.EllipticCurvePublicKey):
        raise EnvelopeError("epk is not a key agreement key")
    return public
