"""MLLP framing: ``<VT> message <FS><CR>``, decoded incrementally from a byte stream.

Contract: ``FrameDecoder.feed(data)`` returns the events completed by ``data``,
in order: ``Frame(payload)`` for each whole frame, ``Oversized(size)`` for a
frame longer than ``max_frame_bytes`` (its bytes are discarded as they arrive,
so memory stays bounded, and decoding resumes at the next frame), and
``Garbage(size)`` for bytes found outside any frame (or a frame cut short by
a new start block). ``pending`` tells whether
a frame was started but not finished (a truncated frame when the peer closes).
"""

from __future__ import annotations

from dataclasses import dataclass

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"


def frame(payload: bytes) -> bytes:
    """Wrap ``payload`` in MLLP start and end blocks."""
    return START_BLOCK + payload + END_BLOCK


@dataclass(frozen=True)
class Frame:
    """One complete frame's payload (between the start and end blocks)."""

    payload: bytes


@dataclass(frozen=True)
class Oversized:
    """A frame over the size limit was skipped; ``size`` is how many bytes it had."""

    size: int


@dataclass(frozen=True)
class Garbage:
    """``size`` bytes arrived outside any frame and were ignored."""

    size: int


Event = Frame | Oversized | Garbage


class FrameDecoder:
    """Turns chunks of a TCP stream into MLLP frames with bounded memory."""

    def __init__(self, max_frame_bytes: int) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._in_frame = False
        self._skipping = 0  # > 0 while discarding an oversized frame: bytes discarded so far
        self._garbage = 0
        self._previous_was_fs = False

    @property
    def pending(self) -> bool:
        """True when a frame was started and not yet ended."""
        return self._in_frame

    def feed(self, data: bytes) -> list[Event]:
        """Consume ``data``; return the events it completes."""
        events: list[Event] = []
        view = memoryview(data)
        while view:
            if not self._in_frame:
                start = bytes(view).find(START_BLOCK)
                if start == -1:
                    self._garbage += _non_blank(view)
                    break
                self._garbage += _non_blank(view[:start])
                if self._garbage:
                    events.append(Garbage(self._garbage))
                    self._garbage = 0
                self._in_frame = True
                view = view[start + 1 :]
                continue
            view = self._consume_frame(view, events)
        return events

    def _consume_frame(self, view: memoryview, events: list[Event]) -> memoryview:
        chunk = bytes(view)
        if self._previous_was_fs and chunk[:1] == b"\r":  # the end block straddled two chunks
            self._drop_last_byte()
            self._finish(events)
            return view[1:]
        end = chunk.find(END_BLOCK)
        restart = chunk.find(START_BLOCK)
        if restart != -1 and (end == -1 or restart < end):  # a new frame began: the open one was truncated
            events.append(Garbage(self._skipping + len(self._buffer) + restart))
            self._buffer.clear()
            self._skipping = 0
            self._previous_was_fs = False
            return view[restart + 1 :]
        if end == -1:
            self._append(chunk)
            self._previous_was_fs = chunk.endswith(b"\x1c")
            return view[len(view) :]
        self._append(chunk[:end])
        self._finish(events)
        return view[end + len(END_BLOCK) :]

    def _append(self, data: bytes) -> None:
        if self._skipping:
            self._skipping += len(data)
            return
        self._buffer.extend(data)
        if len(self._buffer) > self.max_frame_bytes + 1:  # + 1: the last byte may be the end block's FS
            self._skipping = len(self._buffer)
            self._buffer.clear()

    def _drop_last_byte(self) -> None:
        if self._skipping:
            self._skipping -= 1
        else:
            del self._buffer[-1:]

    def _finish(self, events: list[Event]) -> None:
        if self._skipping or len(self._buffer) > self.max_frame_bytes:
            events.append(Oversized(self._skipping or len(self._buffer)))
        else:
            events.append(Frame(bytes(self._buffer)))
        self._buffer.clear()
        self._skipping = 0
        self._previous_was_fs = False
        self._in_frame = False


def _non_blank(view: memoryview) -> int:
    """Bytes that are not whitespace (stray CR/LF between frames are tolerated)."""
    return len(bytes(view).strip(b"\r\n\t "))
