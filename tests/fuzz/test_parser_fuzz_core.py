"""The core's parsers under generated input: strict JSON, sealed envelopes, partners' JSON replies.

Each runs ``hub.testing.fuzzing.fuzz``: arbitrary bytes and damaged valid inputs, only the hub's own error for
that parser, bounded time (hypothesis deadline) and Python memory (tracemalloc) per input, inputs up to
``MAX_INPUT_BYTES``. The adapters' parsers (canonical JSON, FHIR JSON and XML, HL7 v2, council XML, forms) are
fuzzed by the conformance suite every adapter runs (``AdapterConformance``); MLLP framing and the Open
Referral UK import beside their plugins' tests. docs/reliability.md says how to run them longer.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.envelope import EnvelopeError, EnvelopeMetadata, Jwk, generate_key, open_envelope, seal_envelope
from hub.plugin_api.problems import UnparseableInput
from hub.replies import JsonPointer, ReplyMapping
from hub.strict_json import parse_json_strict
from hub.testing.fuzzing import fuzz
from hub.testing.messages import discharge_notice, housing_request

SENDER, RECIPIENT = "trust-a", "council-luton"


def json_seeds() -> list[bytes]:
    """Canonical messages as JSON, compact and indented, and a few documents of every JSON kind."""
    messages = [discharge_notice(), housing_request()]
    return [
        *(json.dumps(m).encode() for m in messages),
        *(json.dumps(m, indent=2, ensure_ascii=False).encode() for m in messages),
        b'{"a": [1, 2.5, -0, 1e10, true, false, null, "\\u00e9\\ud83d\\ude00"], "b": {"c": {}}}',
        b"[[[[[[[[[[]]]]]]]]]]",
    ]


def test_strict_json_refuses_with_unparseable_input_only() -> None:
    fuzz(parse_json_strict, json_seeds(), allowed=(UnparseableInput,))


@pytest.fixture(scope="module")
def envelope_keys() -> tuple[Jwk, Jwk, Jwk]:
    """The sender's signing key and two recipients' decryption keys."""
    return generate_key("sig", "EdDSA"), generate_key("enc", "X25519"), generate_key("enc", "P-256")


def test_a_sealed_envelope_damaged_or_forged_raises_envelope_error_only(envelope_keys: tuple[Jwk, Jwk, Jwk]) -> None:
    signing, ours, other = envelope_keys
    meta = EnvelopeMetadata("6f1c2b9e-1d7a-4c3e-9a51-0b8f2f6c1e11", "DischargeNotice", SENDER, RECIPIENT)
    body = json.dumps(discharge_notice()).encode()
    seeds = [
        seal_envelope(body, metadata=meta, signing_key=signing, recipient_keys=ours.public()).encode(),
        seal_envelope(body, metadata=meta, signing_key=signing, recipient_keys=[ours.public(), other.public()],
                      serialization="json").encode(),
    ]  # fmt: skip

    def read(data: bytes) -> Any:
        return open_envelope(data, sender_keys=signing.public(), recipient_keys=ours,
                             expected_sender=SENDER, expected_recipient=RECIPIENT)  # fmt: skip

    assert read(seeds[0]).payload == body  # the seeds open: damage is what the fuzzer adds
    fuzz(read, seeds, allowed=(EnvelopeError,), examples=120)


def test_a_partners_json_reply_is_read_or_warned_about_and_never_raises() -> None:
    mapping = ReplyMapping(
        reference=JsonPointer.parse("/case/reference"),
        decision=JsonPointer.parse("/case/decision"),
        accepted=("accepted", True, 1),
        rejected=("rejected", "declined"),
        reason=JsonPointer.parse("/case/why"),
        reason_code=JsonPointer.parse("/case/items/0/code"),
    )
    seeds = [
        b'{"case": {"reference": "REF-1", "decision": "accepted"}}',
        b'{"case": {"reference": 42, "decision": "declined", "why": "no beds", "items": [{"code": "FULL"}]}}',
        b'{"case": {"reference": "x", "decision": true, "why": ["not", "text"], "items": {"0": {"code": 1}}}}',
    ]
    assert mapping.read(seeds[0]).receipt == "REF-1"
    fuzz(mapping.read, seeds, allowed=())
