"""Sealed envelopes: round trips, golden vectors, two independent JOSE libraries, and every refusal.

Golden vectors live in ``tests/vectors/envelope``. They are made by ``write_vectors()`` below from
fixed keys and fixed randomness; regenerate them deliberately (and review the diff) with
``python tests/test_envelope.py --write-vectors``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import stat
import sys
import uuid
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwe as rfc_jwe
from joserfc import jws as rfc_jws
from joserfc.jwk import JWKRegistry, Key
from joserfc.registry import HeaderParameter
from jwcrypto import jwe as jc_jwe
from jwcrypto import jwk as jc_jwk
from jwcrypto import jws as jc_jws

from hub.envelope import (
    EnvelopeError,
    EnvelopeMetadata,
    Jwk,
    dump_jwk,
    generate_key,
    jwk_from_key,
    load_jwk,
    load_jwk_set,
    open_envelope,
    seal_envelope,
    thumbprint,
)
from hub.envelope.cli import envelope as envelope_cli
from hub.envelope.encoding import b64url_decode, b64url_encode, json_bytes
from hub.envelope.jwe import concat_kdf, encrypt_jwe

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


@pytest.fixture(scope="module")
def keys() -> dict[str, Jwk]:
    return {alg: generate_key("sig" if alg in SIGNING else "enc", alg) for alg in (*SIGNING, *RECEIVING)}


# -- round trips ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("sig", "enc"), COMBINATIONS)
def test_compact_round_trip(keys: dict[str, Jwk], sig: str, enc: str) -> None:
    sealed = seal(keys[sig], keys[enc])
    assert sealed.count(".") == 4
    opened = open_as_recipient(sealed, keys[sig], keys[enc])
    assert opened.payload == BODY
    assert opened.metadata == META
    assert (opened.signing_kid, opened.recipient_kid) == (keys[sig].kid, keys[enc].kid)
    assert "synthetic" not in repr(opened)


@pytest.mark.parametrize("sig", SIGNING)
def test_json_round_trip_with_three_recipients_each_of_whom_can_open_it(sig: str) -> None:
    sender = generate_key("sig", sig)
    recipients = [generate_key("enc", "X25519"), generate_key("enc", "P-256"), generate_key("enc", "X25519")]
    meta = replace(META, recipient=("council-luton", "steps-luton", "ips-luton"))
    sealed = seal(sender, recipients, meta, serialization="json")
    document = json.loads(sealed)
    assert [entry["header"]["kid"] for entry in document["recipients"]] == [key.kid for key in recipients]
    for org, key in zip(meta.recipients, recipients, strict=True):
        opened = open_envelope(
            sealed, sender_keys=sender.public(), recipient_keys=key, expected_sender=SENDER, expected_recipient=org
        )
        assert opened.payload == BODY and opened.metadata == meta and opened.recipient_kid == key.kid


def test_empty_and_binary_payloads_round_trip(keys: dict[str, Jwk]) -> None:
    for body in (b"", bytes(range(256)) * 9):
        assert (
            open_as_recipient(seal(keys["EdDSA"], keys["X25519"], body=body), keys["EdDSA"], keys["X25519"]).payload
            == body
        )


def test_issued_at_defaults_to_now_and_max_age_is_enforced(keys: dict[str, Jwk]) -> None:
    sealed = seal(keys["EdDSA"], keys["X25519"], replace(META, issued_at=None))
    opened = open_as_recipient(sealed, keys["EdDSA"], keys["X25519"], max_age=60)
    assert opened.metadata.issued_at is not None
    issued = opened.metadata.issued_at
    with pytest.raises(EnvelopeError, match="too old"):
        open_as_recipient(sealed, keys["EdDSA"], keys["X25519"], max_age=60, now=issued + 61)
    with pytest.raises(EnvelopeError, match="future"):
        open_as_recipient(sealed, keys["EdDSA"], keys["X25519"], max_age=60, now=issued - 301)


def test_a_recipient_with_several_keys_uses_the_one_named_by_kid(keys: dict[str, Jwk]) -> None:
    sealed = seal(keys["ES256"], keys["P-256"])
    spare = generate_key("enc", "X25519")
    opened = open_envelope(
        sealed,
        sender_keys=[generate_key("sig", "EdDSA").public(), keys["ES256"].public()],
        recipient_keys=[spare, keys["P-256"]],
        expected_sender=SENDER,
        expected_recipient=RECIPIENT,
    )
    assert opened.recipient_kid == keys["P-256"].kid


# -- keys -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "alg"), [("sig", "EdDSA"), ("sig", "ES256"), ("enc", "X25519"), ("enc", "P-256")])
def test_jwks_round_trip_and_kid_is_the_rfc7638_thumbprint(kind: str, alg: str) -> None:
    key = generate_key(kind, alg)  # type: ignore[arg-type]
    private, public = json.loads(dump_jwk(key, private=True)), json.loads(dump_jwk(key))
    assert "d" in private and "d" not in public
    assert load_jwk(private).to_dict(private=True) == private
    assert load_jwk(public).to_dict() == public
    assert not load_jwk(public).is_private
    # RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace
    required = {name: public[name] for name in sorted(("crv", "kty", "x", "y")) if name in public}
    digest = hashlib.sha256(json.dumps(required, separators=(",", ":")).encode()).digest()
    assert key.kid == b64url_encode(digest) == public["kid"]
    assert key.kid == jc_jwk.JWK(**public).thumbprint()
    assert key.kid == JWKRegistry.import_key(public).thumbprint()
    assert private["d"] not in repr(key)


def test_thumbprint_matches_rfc8037_appendix_a3() -> None:
    # RFC 8037 appendix A.3: the thumbprint of the Ed25519 example key
    assert (
        thumbprint("OKP", "Ed25519", {"x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})
        == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    )


def test_rfc8037_example_keys_load() -> None:
    # RFC 8037 appendix A.1 (Ed25519) and A.6 (X25519, the recipient's key from RFC 7748)
    ed = load_jwk(
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        }
    )
    assert ed.is_private
    assert load_jwk({"kty": "OKP", "crv": "X25519", "x": "3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"}).crv == "X25519"


def test_concat_kdf_matches_rfc7518_appendix_c() -> None:
    # RFC 7518 appendix C uses ECDH-ES with A128GCM; recompute that derivation with the same construction
    z = bytes.fromhex("9e56d91d817135d372834283bf84269cfb316ea3da806a48f6daa7798cfe90c4")  # Z from appendix C
    other = b"".join(len(p).to_bytes(4, "big") + p for p in (b"A128GCM", b"Alice", b"Bob")) + (128).to_bytes(4, "big")
    assert b64url_encode(hashlib.sha256(b"\0\0\0\1" + z + other).digest()[:16]) == "VqqN6vgjbSBcIijNcacQGg"
    # and ours, for ECDH-ES+A256KW, is the same construction with AlgorithmID "ECDH-ES+A256KW" and 256 bits
    ours = b"".join(len(p).to_bytes(4, "big") + p for p in (b"ECDH-ES+A256KW", b"Alice", b"Bob"))
    expected = hashlib.sha256(b"\0\0\0\1" + z + ours + (256).to_bytes(4, "big")).digest()
    assert concat_kdf(z, b"Alice", b"Bob") == expected


def test_jwk_set_loads_every_key() -> None:
    a, b = generate_key("sig", "EdDSA"), generate_key("sig", "ES256")
    loaded = load_jwk_set({"keys": [a.to_dict(), b.to_dict()]})
    assert [key.kid for key in loaded] == [a.kid, b.kid]


def _public(key: Jwk) -> dict[str, str]:
    return key.public().to_dict()


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda k: k | {"crv": "P-256"}, "curve"),  # OKP claiming a NIST curve
        (lambda k: k | {"kty": "EC"}, "curve"),  # EC kty with an OKP curve
        (lambda k: k | {"crv": "X448"}, "curve"),
        (lambda k: k | {"crv": "Ed448"}, "curve"),
        (lambda k: k | {"kty": "RSA"}, "kty"),
        (lambda k: k | {"kty": "oct", "k": "AAAA"}, "not allowed"),
        (lambda k: k | {"kid": "alice@example.org"}, "thumbprint"),
        (lambda k: k | {"alg": "ES256"}, "alg"),
        (lambda k: k | {"alg": "RS256"}, "alg"),
        (lambda k: k | {"use": "enc"}, "use"),
        (lambda k: k | {"x": k["x"][:-2]}, "x"),
        (lambda k: k | {"x": k["x"] + "=="}, "x"),
        (lambda k: k | {"x5c": ["MIIB"]}, "not allowed"),
        (lambda k: k | {"y": k["x"]}, "y member"),
        (lambda k: {"kty": "OKP", "crv": "Ed25519"}, "x"),
    ],
)
def test_bad_jwks_are_refused(mutate: Callable[[dict[str, str]], dict[str, str]], reason: str) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        load_jwk(mutate(_public(generate_key("sig", "EdDSA"))))


def test_ec_jwk_with_a_point_off_the_curve_or_the_wrong_curve_is_refused() -> None:
    public = _public(generate_key("enc", "P-256"))
    with pytest.raises(EnvelopeError, match="point"):
        load_jwk(public | {"y": b64url_encode(bytes(31) + b"\x01")})
    with pytest.raises(EnvelopeError, match="curve"):
        load_jwk(public | {"crv": "P-384"})
    with pytest.raises(EnvelopeError, match="curve"):
        load_jwk(public | {"crv": "secp256k1"})


def test_private_jwk_whose_d_does_not_match_x_is_refused() -> None:
    a, b = generate_key("enc", "X25519"), generate_key("enc", "X25519")
    with pytest.raises(EnvelopeError, match="does not match"):
        load_jwk(a.to_dict() | {"d": b.to_dict(private=True)["d"], "kid": a.kid})
    p = generate_key("sig", "ES256")
    with pytest.raises(EnvelopeError, match="range"):
        load_jwk(p.to_dict() | {"d": b64url_encode(P256_ORDER.to_bytes(32, "big"))})


def test_keys_of_the_wrong_type_for_the_alg_are_refused(keys: dict[str, Jwk]) -> None:
    with pytest.raises(EnvelopeError):
        seal(keys["X25519"], keys["X25519"])  # an X25519 key cannot sign
    with pytest.raises(EnvelopeError):
        seal(keys["EdDSA"], keys["EdDSA"])  # an Ed25519 key cannot receive
    with pytest.raises(EnvelopeError):
        seal(keys["P-256"], keys["X25519"])  # a P-256 key marked use=enc cannot sign
    with pytest.raises(EnvelopeError):
        seal(keys["EdDSA"], keys["ES256"])  # a P-256 key marked use=sig cannot receive
    with pytest.raises(EnvelopeError, match="private"):
        seal(keys["EdDSA"].public(), keys["X25519"])


def test_an_es256_header_over_an_ed25519_sender_key_is_refused(keys: dict[str, Jwk]) -> None:
    # the JWS says ES256 but names (by kid) the sender's Ed25519 key
    token = forged_jws(keys["EdDSA"], header={"alg": "ES256"}, sign_with=keys["ES256"])
    with pytest.raises(EnvelopeError, match="signing key does not match"):
        open_as_recipient(wrap_jws(token, keys["X25519"]), keys["EdDSA"], keys["X25519"])


def test_epk_on_another_curve_than_the_recipient_key_is_refused(keys: dict[str, Jwk]) -> None:
    sealed = seal(keys["EdDSA"], keys["X25519"])
    header = json.loads(b64url_decode(sealed.split(".")[0]))
    header["epk"] = {"kty": "EC", "crv": "P-256", **dict(keys["P-256"].public_members)}
    forged = b64url_encode(json_bytes(header)) + sealed[sealed.index(".") :]
    with pytest.raises(EnvelopeError, match="curve"):
        open_as_recipient(forged, keys["EdDSA"], keys["X25519"])


def test_metadata_must_be_ids_not_free_text() -> None:
    for bad in ("", "Jane Smith", "a" * 129, "-leading", "line\nbreak", "caf\u00e9"):
        with pytest.raises(EnvelopeError):
            replace(META, sender=bad)
    with pytest.raises(EnvelopeError):
        replace(META, recipient=("a", "a"))
    with pytest.raises(EnvelopeError):
        replace(META, issued_at=True)  # a bool is an int to Python and to mypy, but not a time


# -- golden vectors ---------------------------------------------------------------------------------
def _seeded(label: str) -> bytes:
    return hashlib.sha256(b"hub envelope test vectors: " + label.encode()).digest()


def fixed_key(kind: str, alg: str, label: str) -> Jwk:
    """A deterministic test key (never use these anywhere else: their private parts are published)."""
    seed = _seeded(label)
    if alg == "EdDSA":
        return jwk_from_key(ed25519.Ed25519PrivateKey.from_private_bytes(seed), use="sig", alg="EdDSA")
    if alg == "X25519":
        return jwk_from_key(x25519.X25519PrivateKey.from_private_bytes(seed), use="enc", alg="ECDH-ES+A256KW")
    private = ec.derive_private_key(int.from_bytes(seed, "big") % (P256_ORDER - 1) + 1, ec.SECP256R1())
    return jwk_from_key(private, use=kind, alg="ES256" if kind == "sig" else "ECDH-ES+A256KW")


class FixedRandom:
    """An ``rng`` that hands out a fixed byte string in order and records how much was used."""

    def __init__(self, data: bytes) -> None:
        self.data, self.used = data, 0

    def __call__(self, n: int) -> bytes:
        out = self.data[self.used : self.used + n]
        if len(out) != n:
            raise AssertionError("vector randomness exhausted")
        self.used += n
        return out


VECTOR_CASES = [
    # name, signature alg, recipient key curves, serialisation, recipient organisations
    ("eddsa-x25519-compact", "EdDSA", ["X25519"], "compact", "council-luton"),
    ("es256-p256-compact", "ES256", ["P-256"], "compact", "council-luton"),
    ("eddsa-p256-compact", "EdDSA", ["P-256"], "compact", "council-luton"),
    ("es256-x25519-compact", "ES256", ["X25519"], "compact", "council-luton"),
    (
        "eddsa-three-recipients-json",
        "EdDSA",
        ["X25519", "P-256", "X25519"],
        "json",
        "council-luton steps-luton ips-luton",
    ),
]


def make_vector(name: str, sig: str, curves: list[str], serialization: str, orgs: str) -> dict[str, Any]:
    """Build one golden vector from fixed keys and fixed randomness (deterministic end to end)."""
    signer = fixed_key("sig", sig, f"{name} sender")
    recipients = [fixed_key("enc", curve, f"{name} recipient {i}") for i, curve in enumerate(curves)]
    rcp = orgs.split()
    meta = EnvelopeMetadata(
        message_id=str(uuid.UUID(bytes=_seeded(name + " id")[:16], version=4)),
        message_type="Referral",
        sender="trust-a",
        recipient=rcp[0] if len(rcp) == 1 else tuple(rcp),
        issued_at=1_767_225_600,
    )
    payload = b'{"referral":"synthetic vector body","case":"' + name.encode() + b'"}'
    rng = FixedRandom(hashlib.shake_256(_seeded(name + " randomness")).digest(44 + 32 * len(curves)))
    sealed = seal_envelope(
        payload,
        metadata=meta,
        signing_key=signer,
        recipient_keys=[key.public() for key in recipients],
        serialization=serialization,  # type: ignore[arg-type]
        rng=rng,
    )
    return {
        "description": f"{sig} signature, ECDH-ES+A256KW to {', '.join(curves)}, A256GCM, {serialization}",
        "signing_key": signer.to_dict(private=True),
        "recipient_keys": [key.to_dict(private=True) for key in recipients],
        "metadata": meta.to_header(),
        "payload_b64u": b64url_encode(payload),
        "serialization": serialization,
        "randomness_hex": rng.data[: rng.used].hex(),
        "randomness_order": "CEK (32), IV (12), then per recipient 32 bytes of ephemeral private key",
        "envelope": sealed,
    }


def write_vectors(directory: Path = VECTORS) -> None:
    """Regenerate every golden vector file. Run deliberately; the diff is a wire-format change."""
    directory.mkdir(parents=True, exist_ok=True)
    for case in VECTOR_CASES:
        vector = make_vector(*case)
        (directory / f"{case[0]}.json").write_text(json.dumps(vector, indent=2) + "\n", encoding="utf-8")


@pytest.mark.parametrize("case", VECTOR_CASES, ids=[case[0] for case in VECTOR_CASES])
def test_golden_vector_is_reproduced_byte_for_byte_and_opens(case: tuple[Any, ...]) -> None:
    stored = json.loads((VECTORS / f"{case[0]}.json").read_text(encoding="utf-8"))
    signer = load_jwk(stored["signing_key"])
    recipients = [load_jwk(key) for key in stored["recipient_keys"]]
    meta = EnvelopeMetadata.from_header(stored["metadata"])
    payload = b64url_decode(stored["payload_b64u"])
    rng = FixedRandom(bytes.fromhex(stored["randomness_hex"]))
    resealed = seal_envelope(
        payload,
        metadata=meta,
        signing_key=signer,
        recipient_keys=[key.public() for key in recipients],
        serialization=stored["serialization"],
        rng=rng,
    )
    assert resealed == stored["envelope"]
    assert rng.used == len(rng.data)
    assert make_vector(*case) == stored  # the generator itself is still deterministic
    for org, key in zip(meta.recipients, recipients, strict=True):
        opened = open_envelope(
            stored["envelope"],
            sender_keys=signer.public(),
            recipient_keys=key,
            expected_sender="trust-a",
            expected_recipient=org,
        )
        assert opened.payload == payload and opened.metadata == meta


# -- interoperability with jwcrypto and joserfc ----------------------------------------------------
RFC_HEADERS = {name: HeaderParameter("hub routing", "str") for name in ("hub.mid", "hub.typ", "hub.snd", "hub.rcp")}
RFC_HEADERS["iat"] = HeaderParameter("issued at", "int")
RFC_JWE = rfc_jwe.JWERegistry(
    header_registry=RFC_HEADERS, algorithms=["ECDH-ES+A256KW", "A256GCM"], verify_all_recipients=False
)


def rfc_jws_registry(alg: str) -> rfc_jws.JWSRegistry:
    return rfc_jws.JWSRegistry(header_registry=RFC_HEADERS, algorithms=[alg])


def three_recipients(enc: str) -> list[Jwk]:
    other = "P-256" if enc == "X25519" else "X25519"
    return [generate_key("enc", other), generate_key("enc", enc), generate_key("enc", other)]


@pytest.mark.parametrize("serialization", ["compact", "json"])
@pytest.mark.parametrize(("sig", "enc"), COMBINATIONS)
def test_jwcrypto_opens_what_we_seal(sig: str, enc: str, serialization: str) -> None:
    sender = generate_key("sig", sig)
    recipients = [generate_key("enc", enc)] if serialization == "compact" else three_recipients(enc)
    sealed = seal(sender, recipients, serialization=serialization)
    mine = recipients[0] if serialization == "compact" else recipients[1]
    outer = jc_jwe.JWE()
    outer.deserialize(sealed, key=jc_jwk.JWK(**mine.to_dict(private=True)))
    inner = jc_jws.JWS()
    inner.deserialize(outer.payload.decode("ascii"))
    inner.verify(jc_jwk.JWK(**sender.to_dict()), alg=sig)
    assert inner.payload == BODY
    headers = outer.jose_header if isinstance(outer.jose_header, list) else [outer.jose_header]
    for header in headers:  # jwcrypto gives one merged header per recipient for the JSON form
        assert header["hub.snd"] == inner.jose_header["hub.snd"] == SENDER
        assert header["alg"] == "ECDH-ES+A256KW" and header["enc"] == "A256GCM"


@pytest.mark.parametrize("serialization", ["compact", "json"])
@pytest.mark.parametrize(("sig", "enc"), COMBINATIONS)
def test_joserfc_opens_what_we_seal(sig: str, enc: str, serialization: str) -> None:
    sender = generate_key("sig", sig)
    recipients = [generate_key("enc", enc)] if serialization == "compact" else three_recipients(enc)
    sealed = seal(sender, recipients, serialization=serialization)
    mine = recipients[0] if serialization == "compact" else recipients[1]
    private = rfc_key(mine, private=True)
    outer: rfc_jwe.CompactEncryption | rfc_jwe.GeneralJSONEncryption | rfc_jwe.FlattenedJSONEncryption
    if serialization == "compact":
        outer = rfc_jwe.decrypt_compact(sealed, private, registry=RFC_JWE)
    else:
        # joserfc 1.8 tries every recipient entry with the one key it is given, and an X25519 key
        # meeting a P-256 entry raises KeyError; so, as docs/envelopes.md advises, keep only our entry.
        document = json.loads(sealed)
        document["recipients"] = [entry for entry in document["recipients"] if entry["header"]["kid"] == mine.kid]
        outer = rfc_jwe.decrypt_json(document, private, registry=RFC_JWE)
    assert outer.plaintext is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc flags "EdDSA" as superseded by "Ed25519" (RFC 9864)
        inner = rfc_jws.deserialize_compact(outer.plaintext, rfc_key(sender), registry=rfc_jws_registry(sig))
    assert inner.payload == BODY
    assert inner.protected["hub.rcp"] == RECIPIENT


def rfc_key(key: Jwk, private: bool = False) -> Key:
    """``key`` imported into joserfc (which types a JWK's members as ``str | list[str]``; ours are all ``str``)."""
    members: dict[str, str | list[str]] = dict(key.to_dict(private=private))
    return JWKRegistry.import_key(members)


def jwcrypto_seal(sender: Jwk, recipients: list[Jwk], compact: bool, meta: EnvelopeMetadata = META) -> str:
    signer = jc_jwk.JWK(**sender.to_dict(private=True))
    alg = "EdDSA" if sender.crv == "Ed25519" else "ES256"
    token = jc_jws.JWS(BODY)
    token.add_signature(signer, None, json.dumps({"alg": alg, "kid": sender.kid, **bound_header(meta)}))
    protected = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "cty": "JOSE", **bound_header(meta)}
    if compact:
        protected["kid"] = recipients[0].kid
    outer = jc_jwe.JWE(token.serialize(compact=True).encode("ascii"), protected=json.dumps(protected))
    for key in recipients:
        header = None if compact else json.dumps({"kid": key.kid})
        outer.add_recipient(jc_jwk.JWK(**key.to_dict()), header=header)
    sealed: str = outer.serialize(compact=compact)  # jwcrypto has no types
    return sealed


def joserfc_seal(sender: Jwk, recipients: list[Jwk], compact: bool) -> str:
    alg = "EdDSA" if sender.crv == "Ed25519" else "ES256"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        token = rfc_jws.serialize_compact(
            {"alg": alg, "kid": sender.kid, **bound_header()},
            BODY,
            rfc_key(sender, private=True),
            registry=rfc_jws_registry(alg),
        )
    protected = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "cty": "JOSE", **bound_header()}
    if compact:
        public = rfc_key(recipients[0])
        return rfc_jwe.encrypt_compact(protected | {"kid": recipients[0].kid}, token, public, registry=RFC_JWE)
    document = rfc_jwe.GeneralJSONEncryption(protected, token.encode("ascii"))
    for key in recipients:
        document.add_recipient({"kid": key.kid}, rfc_key(key))
    return json.dumps(rfc_jwe.encrypt_json(document, None, registry=RFC_JWE))


@pytest.mark.parametrize("library", ["jwcrypto", "joserfc"])
@pytest.mark.parametrize("serialization", ["compact", "json"])
@pytest.mark.parametrize(("sig", "enc"), COMBINATIONS)
def test_we_open_what_other_libraries_seal(library: str, sig: str, enc: str, serialization: str) -> None:
    sender = generate_key("sig", sig)
    recipients = [generate_key("enc", enc)] if serialization == "compact" else three_recipients(enc)
    maker = jwcrypto_seal if library == "jwcrypto" else joserfc_seal
    sealed = maker(sender, recipients, serialization == "compact")
    for key in recipients:
        opened = open_as_recipient(sealed, sender, key)
        assert opened.payload == BODY and opened.metadata == META


def test_a_foreign_envelope_with_mismatched_layers_is_refused() -> None:
    sender, recipient = generate_key("sig", "EdDSA"), generate_key("enc", "X25519")
    inner_meta = replace(META, recipient="council-beds")
    token = jc_jws.JWS(BODY)
    token.add_signature(
        jc_jwk.JWK(**sender.to_dict(private=True)),
        None,
        json.dumps({"alg": "EdDSA", "kid": sender.kid} | bound_header(inner_meta)),
    )
    sealed = wrap_jws(token.serialize(compact=True), recipient)
    with pytest.raises(EnvelopeError, match="signed routing metadata"):
        open_as_recipient(sealed, sender, recipient)


# -- tampering --------------------------------------------------------------------------------------
def test_every_single_character_change_of_a_compact_envelope_is_refused(keys: dict[str, Jwk]) -> None:
    sealed = seal(keys["EdDSA"], keys["X25519"], body=b"short body")
    assert 600 < len(sealed) < 1200
    for position, char in enumerate(sealed):
        replacements = {B64_ALPHABET[(B64_ALPHABET.index(char) + 1) % 64] if char in B64_ALPHABET else "A"}
        replacements.add(chr(ord(char) ^ 0x01))
        replacements.add(chr(ord(char) ^ 0x20))
        for replacement in replacements - {char}:
            tampered = sealed[:position] + replacement + sealed[position + 1 :]
            with pytest.raises(EnvelopeError):
                open_as_recipient(tampered, keys["EdDSA"], keys["X25519"])
    for cut in (sealed[:-1], sealed[1:], sealed + "A", sealed + ".", sealed.replace(".", "..", 1)):
        with pytest.raises(EnvelopeError):
            open_as_recipient(cut, keys["EdDSA"], keys["X25519"])


def test_every_single_byte_change_of_an_es256_p256_envelope_is_refused(keys: dict[str, Jwk]) -> None:
    sealed = seal(keys["ES256"], keys["P-256"], body=b"x")
    for position, char in enumerate(sealed):
        tampered = sealed[:position] + chr(ord(char) ^ 0x02) + sealed[position + 1 :]
        with pytest.raises(EnvelopeError):
            open_as_recipient(tampered, keys["ES256"], keys["P-256"])


@pytest.mark.parametrize("parts", [(2,), (3,), (4,), (2, 3), (3, 4), (2, 3, 4), (1, 2, 3, 4)])
def test_moving_the_body_of_one_envelope_into_another_is_refused(keys: dict[str, Jwk], parts: tuple[int, ...]) -> None:
    # same sender, same recipient keys; only the routing differs; parts: 1 key, 2 iv, 3 ciphertext, 4 tag
    one = seal(keys["EdDSA"], keys["X25519"]).split(".")
    other = seal(keys["EdDSA"], keys["X25519"], replace(META, message_id="other-message")).split(".")
    spliced = [other[i] if i in parts else one[i] for i in range(5)]
    with pytest.raises(EnvelopeError):
        open_as_recipient(".".join(spliced), keys["EdDSA"], keys["X25519"])


def reencrypt_with_header(sealed: str, recipient: Jwk, **changes: Any) -> str:
    """What a party holding the content key could do: take the signed inner JWS, re-encrypt it with other routing."""
    header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "cty": "JOSE", **bound_header(), **changes}
    return encrypt_jwe(_inner_token(sealed, recipient).encode("ascii"), header, [recipient.public()], compact=True)


def _inner_token(sealed: str, recipient: Jwk) -> str:
    outer = jc_jwe.JWE()
    outer.deserialize(sealed, key=jc_jwk.JWK(**recipient.to_dict(private=True)))
    token: str = outer.payload.decode("ascii")  # jwcrypto has no types
    return token


@pytest.mark.parametrize(
    "changes",
    [
        {"hub.snd": "trust-b"},
        {"hub.rcp": "council-beds"},
        {"hub.rcp": ["council-luton", "council-beds"]},
        {"hub.mid": "another-message"},
        {"hub.typ": "Referral"},
        {"iat": META.issued_at + 1},  # type: ignore[operator]
    ],
)
def test_changing_routing_in_the_outer_header_is_refused(keys: dict[str, Jwk], changes: dict[str, Any]) -> None:
    sealed = seal(keys["EdDSA"], keys["X25519"])
    forged = reencrypt_with_header(sealed, keys["X25519"], **changes)
    with pytest.raises(EnvelopeError, match="signed routing metadata does not match"):
        open_envelope(
            forged,
            sender_keys=keys["EdDSA"].public(),
            recipient_keys=keys["X25519"],
            expected_sender=None,
            expected_recipient=None,
        )


def test_changing_routing_without_the_content_key_breaks_the_tag(keys: dict[str, Jwk]) -> None:
    sealed = seal(keys["EdDSA"], keys["X25519"])
    header = json.loads(b64url_decode(sealed.split(".")[0]))
    for name, value in (("hub.snd", "trust-b"), ("hub.rcp", "council-beds")):
        forged = b64url_encode(json_bytes(header | {name: value})) + sealed[sealed.index(".") :]
        with pytest.raises(EnvelopeError, match="does not decrypt"):
            open_envelope(
                forged,
                sender_keys=keys["EdDSA"].public(),
                recipient_keys=keys["X25519"],
                expected_sender=None,
                expected_recipient=None,
            )


def test_sender_and_recipient_are_checked_against_the_caller(keys: dict[str, Jwk]) -> None:
    sealed = seal(keys["EdDSA"], keys["X25519"])
    with pytest.raises(EnvelopeError, match="expected sender"):
        open_as_recipient(sealed, keys["EdDSA"], keys["X25519"], expected_sender="trust-b")
    with pytest.raises(EnvelopeError, match="expected recipient"):
        open_as_recipient(sealed, keys["EdDSA"], keys["X25519"], expected_recipient="council-beds")


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


def test_another_partner_re_signing_is_refused(keys: dict[str, Jwk]) -> None:
    mallory = generate_key("sig", "EdDSA")
    # signed by another partner, naming its own key
    with pytest.raises(EnvelopeError, match="expected sender"):
        open_as_recipient(wrap_jws(forged_jws(mallory), keys["X25519"]), keys["EdDSA"], keys["X25519"])
    # signed by another partner, but naming the real sender's key by kid
    with pytest.raises(EnvelopeError, match="signature does not verify"):
        open_as_recipient(
            wrap_jws(forged_jws(keys["EdDSA"], sign_with=mallory), keys["X25519"]), keys["EdDSA"], keys["X25519"]
        )
    # a whole envelope sealed by the other partner, claiming the real sender's routing
    with pytest.raises(EnvelopeError, match="expected sender"):
        open_as_recipient(seal(mallory, keys["X25519"]), keys["EdDSA"], keys["X25519"])
    # control: the genuine sender's JWS, wrapped the same way, opens
    assert open_as_recipient(wrap_jws(forged_jws(keys["EdDSA"]), keys["X25519"]), keys["EdDSA"], keys["X25519"])


def test_wrong_recipient_key_is_refused(keys: dict[str, Jwk]) -> None:
    sealed = seal(keys["EdDSA"], keys["X25519"])
    with pytest.raises(EnvelopeError, match="not addressed to any of our keys"):
        open_as_recipient(sealed, keys["EdDSA"], generate_key("enc", "X25519"))
    # a key with the right kid cannot exist without the private key; a right kid with a swapped epk fails
    header = json.loads(b64url_decode(sealed.split(".")[0]))
    header["epk"] = {"kty": "OKP", "crv": "X25519", "x": dict(generate_key("enc", "X25519").public_members)["x"]}
    forged = b64url_encode(json_bytes(header)) + sealed[sealed.index(".") :]
    with pytest.raises(EnvelopeError, match="does not decrypt"):
        open_as_recipient(forged, keys["EdDSA"], keys["X25519"])


@pytest.mark.parametrize(
    "changes",
    [
        {"alg": "none"},
        {"alg": "RSA1_5"},
        {"alg": "RSA-OAEP"},
        {"alg": "dir"},
        {"alg": "A128KW"},
        {"alg": "A256KW"},
        {"alg": "HS256"},
        {"alg": "ECDH-ES"},
        {"alg": "ECDH-ES+A128KW"},
        {"enc": "A128GCM"},
        {"enc": "A128CBC-HS256"},
        {"enc": "none"},
        {"zip": "DEF"},
        {"crit": ["exp"], "exp": 1},
        {"crit": ["hub.mid"]},
        {"jku": "https://attacker.example/jwks"},
        {"jwk": {"kty": "OKP", "crv": "X25519", "x": "AAAA"}},
        {"x5u": "https://attacker.example/cert"},
        {"b64": False},
    ],
)
def test_outer_header_downgrades_and_unknown_parameters_are_refused(
    keys: dict[str, Jwk], changes: dict[str, Any]
) -> None:
    # properly encrypted (the tag is valid), so what refuses it is the allow-list, not the tag
    header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "cty": "JOSE", **bound_header()} | changes
    token = forged_jws(keys["EdDSA"])
    if header["alg"] == "ECDH-ES+A256KW" and header["enc"] == "A256GCM":
        forged = encrypt_jwe(token.encode(), header, [keys["X25519"].public()], compact=True)
    else:  # encrypt properly, then relabel the header (what an attacker on the wire can do)
        good = encrypt_jwe(
            token.encode(),
            {**header, "alg": "ECDH-ES+A256KW", "enc": "A256GCM"},
            [keys["X25519"].public()],
            compact=True,
        )
        relabelled = json.loads(b64url_decode(good.split(".")[0])) | changes
        forged = b64url_encode(json_bytes(relabelled)) + good[good.index(".") :]
    with pytest.raises(EnvelopeError, match="not allowed"):
        open_as_recipient(forged, keys["EdDSA"], keys["X25519"])


def test_relabelled_dir_envelope_with_an_empty_key_is_refused(keys: dict[str, Jwk]) -> None:
    sealed = seal(keys["EdDSA"], keys["X25519"]).split(".")
    header = json.loads(b64url_decode(sealed[0])) | {"alg": "dir"}
    del header["epk"]
    forged = ".".join([b64url_encode(json_bytes(header)), "", *sealed[2:]])
    with pytest.raises(EnvelopeError, match="not allowed"):
        open_as_recipient(forged, keys["EdDSA"], keys["X25519"])


def _unsigned(header: dict[str, Any]) -> str:
    return b64url_encode(json_bytes(header)) + "." + b64url_encode(BODY) + "."


def _hs256(header: dict[str, Any], secret: bytes) -> str:
    head = b64url_encode(json_bytes(header)) + "." + b64url_encode(BODY)
    return head + "." + b64url_encode(hmac.new(secret, head.encode(), hashlib.sha256).digest())


@pytest.mark.parametrize(
    "make",
    [
        lambda k: _unsigned({"alg": "none", "kid": k.kid, **bound_header()}),
        lambda k: _unsigned({"alg": "EdDSA", "kid": k.kid, **bound_header()}),
        # the classic confusion: HMAC keyed with the sender's public key bytes
        lambda k: _hs256({"alg": "HS256", "kid": k.kid, **bound_header()}, k.public_key.public_bytes_raw()),
        lambda k: forged_jws(k, header={"crit": ["exp"], "exp": 1}),
        lambda k: forged_jws(k, header={"b64": False, "crit": ["b64"]}),
        lambda k: forged_jws(k, header={"zip": "DEF"}),
        lambda k: forged_jws(k, header={"jwk": k.to_dict()}),
        lambda k: forged_jws(k, header={"alg": "RS256"}),
        lambda k: forged_jws(k, header={"alg": "Ed448"}),
    ],
)
def test_inner_signature_downgrades_are_refused(keys: dict[str, Jwk], make: Callable[[Jwk], str]) -> None:
    with pytest.raises(EnvelopeError):
        open_as_recipient(wrap_jws(make(keys["EdDSA"]), keys["X25519"]), keys["EdDSA"], keys["X25519"])


def test_a_jws_without_kid_is_refused(keys: dict[str, Jwk]) -> None:
    token = forged_jws(keys["EdDSA"])
    header = json.loads(b64url_decode(token.split(".")[0]))
    del header["kid"]
    unsigned = b64url_encode(json_bytes(header)) + "." + token.split(".")[1]
    assert isinstance(keys["EdDSA"].private_key, ed25519.Ed25519PrivateKey)
    token = unsigned + "." + b64url_encode(keys["EdDSA"].private_key.sign(unsigned.encode()))
    with pytest.raises(EnvelopeError, match="no kid"):
        open_as_recipient(wrap_jws(token, keys["X25519"]), keys["EdDSA"], keys["X25519"])


def test_too_many_recipients_are_refused_before_any_crypto(keys: dict[str, Jwk]) -> None:
    nine = [generate_key("enc", "X25519") for _ in range(9)]
    with pytest.raises(EnvelopeError, match="too many"):
        seal(keys["EdDSA"], nine, serialization="json")
    sealed = json.loads(seal(keys["EdDSA"], nine, serialization="json", max_recipients=9))
    with pytest.raises(EnvelopeError, match="too many"):
        open_as_recipient(json.dumps(sealed), keys["EdDSA"], nine[0])
    assert open_as_recipient(json.dumps(sealed), keys["EdDSA"], nine[8], max_recipients=9).payload == BODY
    # garbage entries are not even looked at once the count is over the cap
    flood = {"protected": "!", "recipients": [None] * 10_000, "iv": "", "ciphertext": "", "tag": ""}
    with pytest.raises(EnvelopeError, match="too many"):
        open_as_recipient(json.dumps(flood), keys["EdDSA"], keys["X25519"])
    with pytest.raises(EnvelopeError):
        open_as_recipient(json.dumps(flood | {"recipients": []}), keys["EdDSA"], keys["X25519"])


def test_compact_takes_exactly_one_recipient_and_keys_are_not_repeated(keys: dict[str, Jwk]) -> None:
    with pytest.raises(EnvelopeError, match="exactly one"):
        seal(keys["EdDSA"], [keys["X25519"], keys["P-256"]])
    with pytest.raises(EnvelopeError, match="twice"):
        seal(keys["EdDSA"], [keys["X25519"], keys["X25519"]], serialization="json")


def test_json_routing_outside_the_protected_header_is_refused(keys: dict[str, Jwk]) -> None:
    sealed = json.loads(seal(keys["EdDSA"], [keys["X25519"]], serialization="json"))
    with pytest.raises(EnvelopeError, match="more than one header"):
        open_as_recipient(
            json.dumps(sealed | {"unprotected": {"hub.rcp": "council-beds"}}), keys["EdDSA"], keys["X25519"]
        )
    entry = sealed["recipients"][0]
    with_zip = sealed | {"recipients": [entry | {"header": entry["header"] | {"zip": "DEF"}}]}
    with pytest.raises(EnvelopeError, match="not allowed"):
        open_as_recipient(json.dumps(with_zip), keys["EdDSA"], keys["X25519"])
    # routing only in the unprotected header (which nothing authenticates) does not count
    bare = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM"}
    unbound = json.loads(
        encrypt_jwe(forged_jws(keys["EdDSA"]).encode(), bare, [keys["X25519"].public()], compact=False)
    )
    with pytest.raises(EnvelopeError, match="lacks the routing metadata"):
        open_as_recipient(json.dumps(unbound | {"unprotected": bound_header()}), keys["EdDSA"], keys["X25519"])
    flattened_and_general = dict(sealed, encrypted_key=sealed["recipients"][0]["encrypted_key"])
    with pytest.raises(EnvelopeError, match="mixes"):
        open_as_recipient(json.dumps(flattened_and_general), keys["EdDSA"], keys["X25519"])
    with pytest.raises(EnvelopeError, match="repeats"):
        open_as_recipient(json.dumps(sealed)[:-1] + ',"tag":"AAAA"}', keys["EdDSA"], keys["X25519"])


def test_json_aad_is_authenticated(keys: dict[str, Jwk]) -> None:
    sealed = json.loads(seal(keys["EdDSA"], [keys["X25519"]], serialization="json"))
    with pytest.raises(EnvelopeError, match="does not decrypt"):
        open_as_recipient(json.dumps(sealed | {"aad": "c29tZXRoaW5n"}), keys["EdDSA"], keys["X25519"])
    # and an aad made by another library is honoured
    outer = jc_jwe.JWE(
        forged_jws(keys["EdDSA"]).encode(),
        protected=json.dumps({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", **bound_header()}),
        aad=b"extra",
    )
    outer.add_recipient(jc_jwk.JWK(**keys["X25519"].to_dict()), header=json.dumps({"kid": keys["X25519"].kid}))
    assert open_as_recipient(outer.serialize(), keys["EdDSA"], keys["X25519"]).payload == BODY


# -- nothing escapes but EnvelopeError ---------------------------------------------------------------
_GOOD: dict[str, Any] = {}


def _good_envelope() -> tuple[str, Jwk, Jwk]:
    if not _GOOD:
        sender, recipient = generate_key("sig", "EdDSA"), generate_key("enc", "X25519")
        _GOOD.update(sealed=seal(sender, recipient), sender=sender, recipient=recipient)
    return _GOOD["sealed"], _GOOD["sender"], _GOOD["recipient"]


def _must_only_raise_envelope_error(text: str | bytes) -> None:
    _, sender, recipient = _good_envelope()
    try:
        open_as_recipient(text, sender, recipient)  # type: ignore[arg-type]
    except EnvelopeError as exc:
        assert exc.reason and len(exc.reason) < 100


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
header_names = st.sampled_from(
    ["alg", "enc", "kid", "epk", "apu", "apv", "cty", "iat", "hub.mid", "hub.typ", "hub.snd", "hub.rcp", "zip", "crit"]
)


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_arbitrary_text_raises_only_envelope_error(text: str) -> None:
    _must_only_raise_envelope_error(text)


@settings(max_examples=200, deadline=None)
@given(st.binary())
def test_arbitrary_bytes_raise_only_envelope_error(data: bytes) -> None:
    _must_only_raise_envelope_error(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 4), st.dictionaries(header_names, json_values, max_size=5), st.data())
def test_valid_looking_envelopes_with_arbitrary_headers_raise_only_envelope_error(
    part: int, changes: dict[str, Any], data: st.DataObject
) -> None:
    sealed, _, _ = _good_envelope()
    parts = sealed.split(".")
    header = json.loads(b64url_decode(parts[0])) | changes
    parts[0] = b64url_encode(json.dumps(header).encode())
    if part:
        parts[part] = data.draw(st.text(alphabet=B64_ALPHABET + "=+/ .", max_size=60))
    _must_only_raise_envelope_error(".".join(parts))


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["protected", "unprotected", "header", "recipients", "encrypted_key", "iv", "ciphertext", "tag", "aad"]
        ),
        json_values,
        max_size=9,
    )
)
def test_arbitrary_json_documents_raise_only_envelope_error(document: dict[str, Any]) -> None:
    sealed, _, _ = _good_envelope()
    document.setdefault("protected", sealed.split(".")[0])
    _must_only_raise_envelope_error(json.dumps(document))


def test_pathological_json_raises_only_envelope_error() -> None:
    for text in ("[" * 100_000, '{"a":' * 100_000, "{" + '"x":' + "9" * 5000 + "}", '{"protected": NaN}', "\ud800"):
        _must_only_raise_envelope_error(text)


# -- command line ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("sig", "enc"), [("EdDSA", "X25519"), ("ES256", "P-256")])
def test_cli_keygen_seal_and_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sig: str, enc: str) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for kind, alg, name in (("sig", sig, "trust"), ("enc", enc, "council")):
        result = runner.invoke(envelope_cli, ["keygen", "--kind", kind, "--alg", alg, "--out", name])
        assert result.exit_code == 0, result.output
        assert stat.S_IMODE((tmp_path / f"{name}.jwk").stat().st_mode) == 0o600
        assert "d" not in json.loads((tmp_path / f"{name}.pub.jwk").read_text())
        assert result.output.strip() == load_jwk((tmp_path / f"{name}.jwk").read_text()).kid
    (tmp_path / "body.json").write_bytes(BODY)
    sealed = runner.invoke(
        envelope_cli,
        [
            "seal",
            "--sign-key",
            "trust.jwk",
            "--to",
            "council.pub.jwk",
            "--type",
            "Referral",
            "--sender",
            "trust-a",
            "--recipient",
            "council-luton",
            "--message-id",
            "m-1",
            "body.json",
        ],
    )
    assert sealed.exit_code == 0, sealed.output
    (tmp_path / "sealed.jose").write_text(sealed.output)
    opened = runner.invoke(
        envelope_cli,
        [
            "open",
            "--key",
            "council.jwk",
            "--from",
            "trust.pub.jwk",
            "--sender",
            "trust-a",
            "--recipient",
            "council-luton",
            "--metadata",
            "sealed.jose",
        ],
    )
    assert opened.exit_code == 0, opened.output
    assert opened.stdout_bytes == BODY
    assert json.loads(opened.stderr)["message_id"] == "m-1"
    refused = runner.invoke(
        envelope_cli, ["open", "--key", "council.jwk", "--from", "trust.pub.jwk", "--sender", "trust-b", "sealed.jose"]
    )
    assert refused.exit_code == 1 and "refused: envelope is not from the expected sender" in refused.stderr
    again = runner.invoke(envelope_cli, ["keygen", "--kind", "sig", "--alg", sig, "--out", "trust"])
    assert again.exit_code == 2 and "already exists" in again.stderr
    mismatch = runner.invoke(envelope_cli, ["keygen", "--kind", "sig", "--alg", "X25519", "--out", "x"])
    assert mismatch.exit_code == 2


def test_cli_seals_to_several_recipients_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for kind, alg, name in (("sig", "EdDSA", "s"), ("enc", "X25519", "a"), ("enc", "P-256", "b")):
        assert runner.invoke(envelope_cli, ["keygen", "--kind", kind, "--alg", alg, "--out", name]).exit_code == 0
    (tmp_path / "body").write_bytes(BODY)
    sealed = runner.invoke(
        envelope_cli,
        [
            "seal",
            "--sign-key",
            "s.jwk",
            "--to",
            "a.pub.jwk",
            "--to",
            "b.pub.jwk",
            "--type",
            "Referral",
            "--sender",
            "trust-a",
            "--recipient",
            "org-a",
            "--recipient",
            "org-b",
            "body",
        ],
    )
    assert sealed.exit_code == 0, sealed.output
    assert len(json.loads(sealed.output)["recipients"]) == 2
    (tmp_path / "sealed.json").write_text(sealed.output)
    opened = runner.invoke(
        envelope_cli, ["open", "--key", "b.jwk", "--from", "s.pub.jwk", "--recipient", "org-b", "sealed.json"]
    )
    assert opened.exit_code == 0 and opened.stdout_bytes == BODY


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-vectors"]:
        write_vectors()
        print(f"wrote {len(VECTOR_CASES)} vectors to {VECTORS}")
    else:
        print("usage: python tests/test_envelope.py --write-vectors", file=sys.stderr)
        sys.exit(2)


# -- the partner guide's examples run ---------------------------------------------------------------
def test_the_worked_examples_in_docs_envelopes_md_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    guide = (Path(__file__).resolve().parent.parent / "docs" / "envelopes.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", guide, flags=re.DOTALL)
    assert len(blocks) == 3  # the hub's library, jwcrypto, joserfc
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    names = (("sig", "EdDSA", "hub.sig"), ("enc", "X25519", "hub.enc"), ("sig", "EdDSA", "council-sig"))
    for kind, alg, name in (*names, ("enc", "X25519", "council")):
        assert runner.invoke(envelope_cli, ["keygen", "--kind", kind, "--alg", alg, "--out", name]).exit_code == 0
    key = {name: load_jwk(Path(f"{name}.jwk").read_text()) for name in ("hub.sig", "hub.enc", "council-sig", "council")}
    meta = replace(META, sender="hub", issued_at=None)
    rotating = [generate_key("enc", "P-256"), key["council"]]  # the JSON form, while the council has two keys
    compact, general = (
        seal(key["hub.sig"], key["council"], meta),
        seal(key["hub.sig"], rotating, meta, serialization="json"),
    )
    for envelope in (compact, general):
        Path("envelope.jose").write_text(envelope)
        for stale in Path().glob("reply*.jose"):
            stale.unlink()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joserfc's note on EdDSA
            for number, block in enumerate(blocks):
                exec(compile(block, f"docs/envelopes.md python block {number + 1}", "exec"), {})
        assert capsys.readouterr().out.count(f"{META.message_type}") == 3
        check_replies(key)


def check_replies(key: dict[str, Jwk]) -> None:
    """The replies the guide's examples sealed open for the hub."""
    for reply in ("reply-from-library.jose", "reply.jose"):
        opened = open_envelope(
            Path(reply).read_text(),
            sender_keys=key["council-sig"].public(),
            recipient_keys=key["hub.enc"],
            expected_sender="council-luton",
            expected_recipient="hub",
            max_age=60,
        )
        assert opened.payload == b'{"status": "accepted"}'
        assert opened.metadata.message_type == "Acknowledgement"
