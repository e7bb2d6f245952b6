"""A quick timing of sealing and opening a 2 KiB envelope: ``python -m hub.envelope.bench``.

Prints the median of several runs per key combination, in microseconds of CPU time. It is a sanity check
against the budget in ``PERFORMANCE.md`` (about 75 us to seal, 95 us to open), not a test: the
machine is shared and noisy, so nothing asserts on these numbers.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

from hub.envelope.keys import generate_key
from hub.envelope.sealing import EnvelopeMetadata, open_envelope, seal_envelope

COMBINATIONS = (("EdDSA", "X25519"), ("ES256", "P-256"), ("EdDSA", "P-256"), ("ES256", "X25519"))


def _median_us(func: Callable[[], object], loops: int = 400, runs: int = 7) -> float:
    samples = []
    for _ in range(runs):
        start = time.process_time()  # CPU time: the machine is shared, and wall time counts the neighbours
        for _ in range(loops):
            func()
        samples.append((time.process_time() - start) / loops * 1e6)
    return statistics.median(samples)


def _primitives(payload: bytes) -> str:
    """The unavoidable parts, measured now, so a noisy run can be read as ratios."""
    signer = ed25519.Ed25519PrivateKey.generate()
    signature, public = signer.sign(payload), signer.public_key()
    peer, kek, cek = x25519.X25519PrivateKey.generate().public_key(), os.urandom(32), os.urandom(32)
    wrapped = aes_key_wrap(kek, cek)
    parts = {
        "Ed25519 sign": lambda: signer.sign(payload),
        "verify": lambda: public.verify(signature, payload),
        "X25519 ephemeral+agree": lambda: x25519.X25519PrivateKey.generate().exchange(peer),
        "AES-KW unwrap": lambda: aes_key_unwrap(kek, wrapped),
    }
    return ", ".join(f"{name} {_median_us(func):.1f}" for name, func in parts.items())


def main(payload_size: int = 2048) -> None:
    """Print seal and open medians for each allowed combination."""
    payload = os.urandom(payload_size)
    print(f"primitives (us): {_primitives(payload)}")
    metadata = EnvelopeMetadata("bench-1", "Referral", "trust-a", "council-luton", issued_at=int(time.time()))
    print(f"envelope of {payload_size} bytes, median of 7 runs (us)")
    for sig_alg, enc_curve in COMBINATIONS:
        signer, recipient = generate_key("sig", sig_alg), generate_key("enc", enc_curve)
        sender_public = signer.public()

        def seal(signer=signer, recipient=recipient) -> str:
            return seal_envelope(payload, metadata=metadata, signing_key=signer, recipient_keys=recipient.public())

        sealed = seal()

        def unseal(sealed=sealed, recipient=recipient, sender_public=sender_public) -> object:
            return open_envelope(
                sealed,
                sender_keys=sender_public,
                recipient_keys=recipient,
                expected_sender="trust-a",
                expected_recipient="council-luton",
            )

        print(f"  {sig_alg:>5} + {enc_curve:<6}  seal {_median_us(seal):7.1f}   open {_median_us(unseal):7.1f}")


if __name__ == "__main__":
    main()
