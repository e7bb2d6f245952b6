"""Every refusal: tampering, re-addressing, downgrades, wrong keys, malformed envelopes."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from envelope_kit import (
    B64_ALPHABET,
    BODY,
    META,
    bound_header,
    forged_jws,
    fresh_keys,
    open_as_recipient,
    seal,
    wrap_jws,
)
from jwcrypto import jwe as jc_jwe
from jwcrypto import jwk as jc_jwk

from hub.envelope import (
    EnvelopeError,
    Jwk,
    generate_key,
    open_envelope,
)
from hub.envelope.encoding import b64url_decode, b64url_encode, json_bytes
from hub.envelope.jwe import encrypt_jwe


@pytest.fixture(scope="module")
def keys() -> dict[str, Jwk]:
    return fresh_keys()


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
