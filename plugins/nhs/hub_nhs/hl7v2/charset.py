"""The character set of an HL7 v2 body, as each message's MSH-18 declares it.

``decode_body(body)`` decodes each message (from one ``MSH`` to the next) by
its own MSH-18 (first repetition):

- ``UNICODE UTF-8`` (or ``UTF-8``): must be valid UTF-8; otherwise ``UnparseableInput`` naming
  the byte offset in the body (the hub never stores the text as mojibake);
- ``8859/1`` ... ``8859/9``, ``8859/15``: that ISO 8859 part (every byte decodes);
- empty, ``ASCII`` or anything else: UTF-8 when the bytes are UTF-8, else
  ISO 8859-1, as senders that declare nothing often mean (the hub stays liberal
  where nothing was promised).
"""

from __future__ import annotations

import re

from hub import Problem, UnparseableInput

_MESSAGE_START = re.compile(rb"(?:^|(?<=[\r\n\x0b]))MSH")
_ISO_8859 = {f"8859/{n}": f"iso8859-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 15)}
UTF8_NAMES = ("UNICODE UTF-8", "UTF-8", "UTF8")  # the table 0211 value, and what some senders write


def declared_charset(message: bytes) -> str:
    """MSH-18 (first repetition, upper case) of the message starting at ``message``; empty if none."""
    header = re.split(rb"[\r\n]", message, maxsplit=1)[0]
    if len(header) < 8 or not header.startswith(b"MSH"):
        return ""
    fields = header.split(header[3:4])
    if len(fields) < 18:
        return ""
    repetition = fields[1][1:2] or b"~"
    return fields[17].split(repetition)[0].strip().decode("ascii", "replace").upper()


def decode_body(body: bytes) -> str:
    """The text of ``body``, each message decoded as its MSH-18 says (module docstring)."""
    starts = [m.start() for m in _MESSAGE_START.finditer(body)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    bounds = [*starts[1:], len(body)]
    return "".join(_decode_part(body, start, end) for start, end in zip(starts, bounds, strict=True))


def _decode_part(body: bytes, start: int, end: int) -> str:
    part = body[start:end]
    charset = declared_charset(part)
    if charset in _ISO_8859:
        return part.decode(_ISO_8859[charset])
    try:
        return part.decode("utf-8")
    except UnicodeDecodeError as exc:
        if charset in UTF8_NAMES:
            raise UnparseableInput(
                "The HL7 v2 message declares UTF-8 in MSH-18 but is not valid UTF-8.",
                [Problem(f"byte {start + exc.start}", "is not part of a valid UTF-8 sequence; send the message "
                         "encoded as UTF-8, or declare the character set it is in (MSH-18)")],
            ) from None  # fmt: skip
        return part.decode("latin-1")
