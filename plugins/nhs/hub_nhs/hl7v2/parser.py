"""Reading HL7 v2 pipe-and-hat messages: segments, fields, repetitions, components, escapes.

Contract: ``parse_messages(body)`` turns bytes into ``Hl7Message`` objects or
raises ``UnparseableInput`` saying what is wrong and where (``line 2``,
``MSH-2``). It never raises anything else, whatever the input (a property test
holds it to that). Segments may be separated by ``\\r``, ``\\n`` or ``\\r\\n``.
Values read through ``Hl7Message.value`` are unescaped (``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\``
and ``\\Xhh..\\``); ``Hl7Message.repetitions`` splits a field on ``~``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub import UnparseableInput
from hub_nhs.hl7v2.charset import decode_body

_SEGMENT_SPLIT = re.compile(r"\r\n|\r|\n")
_SEGMENT_NAME = re.compile(r"^[A-Z][A-Z0-9]{2}$")
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")
_ENVELOPE_SEGMENTS = {"FHS", "FTS", "BHS", "BTS"}


@dataclass(frozen=True)
class Delimiters:
    """The separators a message declares in MSH-1 and MSH-2."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    @property
    def encoding_characters(self) -> str:
        """MSH-2 as written in messages the hub sends."""
        return self.component + self.repetition + self.escape + self.subcomponent


DEFAULT_DELIMITERS = Delimiters()


@dataclass(frozen=True)
class Segment:
    """One segment: its name and its raw (still escaped) fields, ``fields[1]`` being SEG-1."""

    name: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Hl7Message:
    """One parsed message with accessors that follow HL7's 1-based numbering."""

    delimiters: Delimiters
    segments: tuple[Segment, ...]

    def segment(self, name: str) -> Segment | None:
        """The first segment called ``name``, or None."""
        return next((s for s in self.segments if s.name == name), None)

    def all(self, name: str) -> list[Segment]:
        """Every segment called ``name``, in order."""
        return [s for s in self.segments if s.name == name]

    def raw_field(self, segment: str | Segment | None, number: int) -> str:
        """The raw text of field ``number`` of ``segment`` (empty when absent)."""
        seg = self.segment(segment) if isinstance(segment, str) else segment
        if seg is None or number < 1 or number >= len(seg.fields):
            return ""
        return seg.fields[number]

    def repetitions(self, segment: str | Segment | None, number: int) -> list[str]:
        """Field ``number`` split on the repetition separator (raw, non-empty repetitions only)."""
        raw = self.raw_field(segment, number)
        if self._is_msh_encoding_field(segment, number):
            return [raw] if raw else []
        return [r for r in raw.split(self.delimiters.repetition) if r]

    def value(
        self, segment: str | Segment | None, number: int, component: int = 1, subcomponent: int = 1, repetition: int = 0
    ) -> str:
        """The unescaped, stripped value at ``SEG-number.component.subcomponent`` of one repetition."""
        if self._is_msh_encoding_field(segment, number):
            return self.raw_field(segment, number)
        reps = self.raw_field(segment, number).split(self.delimiters.repetition)
        if repetition >= len(reps):
            return ""
        return self.component_of(reps[repetition], component, subcomponent)

    def component_of(self, raw: str, component: int = 1, subcomponent: int = 1) -> str:
        """The unescaped value of ``component.subcomponent`` within one raw repetition."""
        components = raw.split(self.delimiters.component)
        if component < 1 or component > len(components):
            return ""
        subs = components[component - 1].split(self.delimiters.subcomponent)
        if subcomponent < 1 or subcomponent > len(subs):
            return ""
        return unescape(subs[subcomponent - 1], self.delimiters).strip()

    @staticmethod
    def _is_msh_encoding_field(segment: str | Segment | None, number: int) -> bool:
        name = segment if isinstance(segment, str) else (segment.name if segment else "")
        return name == "MSH" and number in (1, 2)


def decode_text(body: bytes) -> str:
    """Bytes to text as each message's MSH-18 declares (``hub_nhs.hl7v2.charset``); broken UTF-8 is refused."""
    return decode_body(body)


def parse_messages(body: bytes) -> list[Hl7Message]:
    """Every message in ``body`` (one, or several each starting with MSH; batch envelopes are skipped)."""
    text = decode_text(body).strip("\x0b\x1c\r\n \t\x00")
    lines = [(n, line) for n, line in enumerate(_SEGMENT_SPLIT.split(text), start=1) if line.strip()]
    if not lines:
        raise UnparseableInput("The HL7 v2 body is empty.")
    groups: list[list[tuple[int, str]]] = []
    for number, line in lines:
        if line.startswith("MSH"):
            groups.append([(number, line)])
        elif line[:3] in _ENVELOPE_SEGMENTS:
            continue
        elif not groups:
            raise UnparseableInput(f"line {number}: an HL7 v2 message starts with an MSH segment.")
        else:
            groups[-1].append((number, line))
    if not groups:
        raise UnparseableInput("The body holds no HL7 v2 message (no MSH segment).")
    return [parse_message_lines(group) for group in groups]


def parse_message(body: bytes) -> Hl7Message:
    """Exactly one message from ``body``; several are refused."""
    messages = parse_messages(body)
    if len(messages) != 1:
        raise UnparseableInput(f"Expected one HL7 v2 message, found {len(messages)}.")
    return messages[0]


def read_header(body: bytes) -> Hl7Message | None:
    """The first MSH segment of ``body`` alone, for answering a message that cannot be read whole; else None.

    An ACK to an unreadable message still names its control id and answers in
    its version whenever its MSH segment is readable.
    """
    text = decode_text(body).strip("\x0b\x1c\r\n \t\x00")
    first = next((line for line in _SEGMENT_SPLIT.split(text) if line.startswith("MSH")), None)
    if first is None:
        return None
    try:
        return parse_message_lines([(1, first)])
    except UnparseableInput:
        return None


def parse_message_lines(lines: list[tuple[int, str]]) -> Hl7Message:
    """One message from ``(line number, segment text)`` pairs, the first being MSH."""
    first = lines[0][1]
    delimiters = read_delimiters(first)
    segments = [_msh_segment(first, delimiters)]
    for number, line in lines[1:]:
        name = line[:3]
        if not _SEGMENT_NAME.match(name) or (len(line) > 3 and line[3] != delimiters.field):
            # never quote the line: a stray line break in free text makes the next line a person's name
            raise UnparseableInput(
                f"line {number}: not an HL7 v2 segment (a segment starts with three upper-case letters or digits, "
                f"then {delimiters.field!r}); a line break inside a field must be escaped as \\.br\\."
            )
        segments.append(Segment(name, tuple(line.split(delimiters.field))))
    return Hl7Message(delimiters, tuple(segments))


def read_delimiters(msh: str) -> Delimiters:
    """The delimiters declared by an MSH segment's MSH-1 and MSH-2."""
    if len(msh) < 8:
        raise UnparseableInput("line 1: the MSH segment is too short to declare its delimiters (MSH-1, MSH-2).")
    field_sep = msh[3]
    encoding = msh[4:].split(field_sep, 1)[0]
    chars = [field_sep, *encoding[:4]]
    if len(encoding) < 4 or len(set(chars)) != 5 or any(c.isalnum() or c in "\r\n " for c in chars):
        raise UnparseableInput(
            "MSH-1/MSH-2: the delimiters must be five distinct punctuation characters, usually |^~\\&."
        )
    return Delimiters(field_sep, encoding[0], encoding[1], encoding[2], encoding[3])


def _msh_segment(line: str, delimiters: Delimiters) -> Segment:
    # MSH-1 is the field separator itself, so MSH-n is split item n-1 shifted by one.
    parts = line.split(delimiters.field)
    return Segment("MSH", ("MSH", delimiters.field, *parts[1:]))


def unescape(value: str, delimiters: Delimiters = DEFAULT_DELIMITERS) -> str:
    """Replace HL7 escape sequences in ``value``; an unknown or unterminated one is kept as written."""
    esc = delimiters.escape
    if esc not in value:
        return value
    out: list[str] = []
    i = 0
    while i < len(value):
        char = value[i]
        end = value.find(esc, i + 1) if char == esc else -1
        if end == -1:
            out.append(char)
            i += 1
            continue
        replacement = _escape_value(value[i + 1 : end], delimiters)
        if replacement is None:
            out.append(char)
            i += 1
            continue
        out.append(replacement)
        i = end + 1
    return "".join(out)


def _escape_value(code: str, d: Delimiters) -> str | None:
    simple = {"F": d.field, "S": d.component, "T": d.subcomponent, "R": d.repetition, "E": d.escape,
              ".br": "\n", "H": "", "N": ""}  # fmt: skip
    if code in simple:
        return simple[code]
    if code[:1] == "X" and _HEX.match(code[1:]):
        return decode_text(bytes.fromhex(code[1:]))
    return None


def escape(value: str, delimiters: Delimiters = DEFAULT_DELIMITERS) -> str:
    """Escape ``value`` for writing into a field: delimiters become escape sequences, line breaks ``\\.br\\``."""
    d = delimiters
    table = {d.escape: "E", d.field: "F", d.component: "S", d.subcomponent: "T", d.repetition: "R"}
    out = []
    for char in value:
        if char in table:
            out.append(f"{d.escape}{table[char]}{d.escape}")
        elif char in "\r\n":
            out.append(f"{d.escape}.br{d.escape}" if char == "\n" else "")
        else:
            out.append(char)
    return "".join(out)
