"""Sealed envelopes: round trips, keys and their checks, metadata."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace

import pytest
from envelope_kit import (
    BODY,
    COMBINATIONS,
    META,
    P256_ORDER,
    RECIPIENT,
    SENDER,
    SIGNING,
    forged_jws,
    fresh_keys,
    open_as_recipient,
    seal,
    wrap_jws,
)
from joserfc.jwk import JWKRegistry
from jwcrypto import jwk as jc_jwk

from hub.envelope import (
    EnvelopeError,
    Jwk,
    dump_jwk,
    generate_key,
    load_jwk,
    load_jwk_set,
    open_envelope,
    thumbprint,
)
from hub.envelope.encoding import b64url_decode, b64url_encode, json_bytes
from hub.envelope.jwe import concat_kdf


@pytest.fixture(scope="module")
def keys() -> dict[str, Jwk]:
    return fresh_keys()


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
