"""Nothing escapes the envelope parser but EnvelopeError, whatever it is given."""

from __future__ import annotations

import json
from typing import Any

import pytest
from envelope_kit import (
    B64_ALPHABET,
    fresh_keys,
    open_as_recipient,
    seal,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.envelope import (
    EnvelopeError,
    Jwk,
    generate_key,
)
from hub.envelope.encoding import b64url_decode, b64url_encode


@pytest.fixture(scope="module")
def keys() -> dict[str, Jwk]:
    return fresh_keys()


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
