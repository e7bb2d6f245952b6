"""The one error the envelope library raises."""

from __future__ import annotations


class EnvelopeError(Exception):
    """An envelope, key or header was refused.

    ``reason`` is a short phrase such as ``"signature does not verify"``. It never contains key
    material, payload bytes or header values taken from the input, so it is safe to log and to
    return to the partner that sent the envelope.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
