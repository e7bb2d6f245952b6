"""Golden vectors: made by ``write_vectors()`` below from fixed keys and fixed randomness.

They live in ``tests/vectors/envelope``; regenerate them deliberately (and review the diff) with
``python tests/test_envelope_vectors.py --write-vectors``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from envelope_kit import (
    P256_ORDER,
    VECTORS,
)

from hub.envelope import (
    EnvelopeMetadata,
    Jwk,
    jwk_from_key,
    load_jwk,
    open_envelope,
    seal_envelope,
)
from hub.envelope.encoding import b64url_decode, b64url_encode


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


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-vectors"]:
        write_vectors()
        print(f"wrote {len(VECTOR_CASES)} vectors to {VECTORS}")
    else:
        print("usage: python tests/test_envelope_vectors.py --write-vectors", file=sys.stderr)
        sys.exit(2)
