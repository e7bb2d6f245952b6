"""MLLP framing under generated streams: the decoder never raises, and its memory stays bounded by the frame limit.

A stream of real framed ADT messages, damaged (``hub.testing.fuzzing``: cuts, stray start and end blocks, repeated
slices up to 256 KiB) and fed in chunks of generated sizes: every call returns events, each frame is at most the
limit, and Python memory at peak per stream is within the fuzzing bounds (the decoder discards an oversized
frame's bytes as they arrive).
"""

from __future__ import annotations

from hl7_support import adt_a03
from hub_nhs.hl7v2.framing import Frame, FrameDecoder, frame

from hub.testing.fuzzing import fuzz

LIMIT = 4096


def decode_in_chunks(stream: bytes) -> None:
    decoder = FrameDecoder(LIMIT)
    size = 1 + len(stream) % 997  # the chunk size follows the input, so the fuzzer varies it too
    for start in range(0, len(stream), size):
        for event in decoder.feed(stream[start : start + size]):
            assert not isinstance(event, Frame) or len(event.payload) <= LIMIT
    assert len(decoder._buffer) <= LIMIT + len(b"\x1c\r")


def test_a_damaged_mllp_stream_never_raises_and_stays_within_the_frame_limit() -> None:
    message = adt_a03()
    seeds = [frame(message), frame(message) * 3, b"\r\n" + frame(message) + frame(b"x" * (LIMIT + 10))]
    decode_in_chunks(seeds[0])
    fuzz(decode_in_chunks, seeds, allowed=())
