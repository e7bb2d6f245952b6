"""MLLP frame decoding, byte by byte: split end blocks, oversized frames, garbage, restarts."""

from __future__ import annotations

from hub_nhs.hl7v2.framing import Frame, FrameDecoder, Garbage, Oversized, frame
from hypothesis import given, settings
from hypothesis import strategies as st


def feed_all(decoder: FrameDecoder, chunks: list[bytes]) -> list[object]:
    return [event for chunk in chunks for event in decoder.feed(chunk)]


def test_a_whole_frame_is_one_event() -> None:
    assert FrameDecoder(100).feed(frame(b"MSH|x")) == [Frame(b"MSH|x")]


def test_an_end_block_split_between_two_chunks_is_found() -> None:
    data = frame(b"MSH|x")
    assert feed_all(FrameDecoder(100), [data[:-1], data[-1:]]) == [Frame(b"MSH|x")]


def test_a_lone_fs_inside_a_frame_is_content() -> None:
    assert feed_all(FrameDecoder(100), [b"\x0bMSH\x1c", b"x\x1c\r"]) == [Frame(b"MSH\x1cx")]


def test_an_oversized_frame_is_reported_and_the_next_one_decoded() -> None:
    decoder = FrameDecoder(10)
    events = feed_all(decoder, [b"\x0b" + b"x" * 8, b"x" * 8, b"\x1c\r" + frame(b"ok")])
    assert events == [Oversized(16), Frame(b"ok")]


def test_a_frame_of_exactly_the_limit_is_accepted() -> None:
    assert FrameDecoder(5).feed(frame(b"12345")) == [Frame(b"12345")]


def test_bytes_between_frames_are_reported_as_garbage_and_blank_lines_are_not() -> None:
    events = FrameDecoder(100).feed(b"\r\n" + frame(b"a") + b"junk" + frame(b"b"))
    assert events == [Frame(b"a"), Garbage(4), Frame(b"b")]


def test_a_new_start_block_abandons_the_open_frame() -> None:
    events = FrameDecoder(100).feed(b"\x0bcut short" + frame(b"whole"))
    assert events == [Garbage(9), Frame(b"whole")]


def test_pending_tells_a_truncated_frame() -> None:
    decoder = FrameDecoder(100)
    decoder.feed(b"\x0bhalf")
    assert decoder.pending


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=50).map(lambda b: b.replace(b"\x0b", b"").replace(b"\x1c", b"")),
                max_size=6), st.data())  # fmt: skip
def test_any_chunking_yields_the_same_frames(payloads: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(frame(p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert feed_all(FrameDecoder(1000), chunks) == [Frame(p) for p in payloads]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_arbitrary_bytes_never_raise(chunks: list[bytes]) -> None:
    feed_all(FrameDecoder(64), chunks)
