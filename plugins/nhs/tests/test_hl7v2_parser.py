"""Reading HL7 v2: separators, escapes, repetitions, delimiters, malformed input, and a property test."""

from __future__ import annotations

import contextlib

import pytest
from hl7_support import adt_a03
from hub_nhs.hl7v2.adapter import Hl7v2Adapter
from hub_nhs.hl7v2.parser import Delimiters, escape, parse_message, parse_messages, unescape
from hypothesis import given, settings
from hypothesis import strategies as st

from hub import HubError, UnparseableInput


@pytest.mark.parametrize("separator", ["\r", "\n", "\r\n"])
def test_segments_may_be_separated_by_cr_lf_or_crlf(separator: str) -> None:
    message = parse_message(adt_a03(separator=separator))
    assert [s.name for s in message.segments] == ["MSH", "EVN", "PID", "PV1", "ZHS", "ZDR", "ZMH"]
    assert message.value("PV1", 45) == "20261127110000"


def test_msh_fields_are_numbered_as_hl7_numbers_them() -> None:
    message = parse_message(adt_a03(control="CTRL-1"))
    assert message.value("MSH", 1) == "|"
    assert message.value("MSH", 2) == "^~\\&"
    assert message.value("MSH", 4) == "RWK"
    assert (message.value("MSH", 9, 1), message.value("MSH", 9, 2)) == ("ADT", "A03")
    assert message.value("MSH", 10) == "CTRL-1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\\F\\b", "a|b"),
        ("a\\S\\b", "a^b"),
        ("a\\T\\b", "a&b"),
        ("a\\R\\b", "a~b"),
        ("a\\E\\b", "a\\b"),
        ("caf\\XC3A9\\", "café"),
        ("line\\.br\\next", "line\nnext"),
        ("\\H\\bold\\N\\", "bold"),
        ("unknown \\Q\\ kept", "unknown \\Q\\ kept"),
        ("unterminated \\F", "unterminated \\F"),
        ("odd hex \\X4\\", "odd hex \\X4\\"),
    ],
)
def test_escape_sequences_are_decoded(raw: str, expected: str) -> None:
    assert unescape(raw) == expected


def test_escaping_then_unescaping_gives_the_text_back() -> None:
    text = "O'Brien | Smith ^ & ~ \\ done"
    assert unescape(escape(text)) == text


def test_custom_delimiters_declared_in_msh_are_honoured() -> None:
    body = b"MSH#*!@%#EPR#RWK#HUB#HUB#20261127110500##ADT*A03#C1#P#2.4\rPID#1##9990000018***NHS*NH!X***RWK*MR"
    message = parse_message(body)
    assert message.delimiters == Delimiters("#", "*", "!", "@", "%")
    assert message.repetitions("PID", 3) == ["9990000018***NHS*NH", "X***RWK*MR"]
    assert message.value("PID", 3, 5, repetition=1) == "MR"


def test_repeated_fields_are_split_on_the_repetition_separator() -> None:
    message = parse_message(adt_a03())
    assert len(message.repetitions("PID", 3)) == 2
    assert message.value("PID", 3, 5, repetition=0) == "NH"
    assert message.value("ZHS", 4, repetition=1) == "GP registration"


def test_several_messages_in_one_body_are_read_in_order() -> None:
    body = adt_a03(control="A") + adt_a03(control="B")
    assert [m.value("MSH", 10) for m in parse_messages(body)] == ["A", "B"]


def test_batch_envelope_segments_are_skipped() -> None:
    body = b"FHS|^~\\&\rBHS|^~\\&\r" + adt_a03(control="A") + b"BTS|1\rFTS|1\r"
    assert [m.value("MSH", 10) for m in parse_messages(body)] == ["A"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"", "empty"),
        (b"   \r\n", "empty"),
        (b"PID|1||x", "line 1"),
        (b"MSH|", "MSH segment is too short"),
        (b"MSH|^^^^|A", "MSH-1/MSH-2"),
        (b"MSHA^~\\&|A", "MSH-1/MSH-2"),
        (b"MSH|^~\\&|A\rpid|1", "line 2"),
        (b"MSH|^~\\&|A\rPIDX1", "line 2"),
        (b"\x00\x01\x02\xff", "line 1"),
    ],
)
def test_malformed_bodies_are_refused_saying_where(body: bytes, where: str) -> None:
    with pytest.raises(UnparseableInput) as caught:
        parse_messages(body)
    assert where in str(caught.value)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_the_adapter_raises_only_hub_errors_on_arbitrary_bytes(body: bytes) -> None:
    with contextlib.suppress(HubError):
        Hl7v2Adapter().parse(body, content_type="application/hl7-v2", sender_id="trust-a")


_fragments = st.sampled_from(
    ["MSH|^~\\&|", "PID|", "PV1|", "ZHS|", "ZDR|", "|", "^", "~", "&", "\\", "\\X", "\\F\\", "\r", "\n",
     "ADT^A03", "RWK", "9990000018^^^NHS^NH", "2026", "20261127110000", "Y", "N", "1", "19", "\x0b", "\x1c"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_fragments, st.text(max_size=8)), max_size=60))
def test_the_adapter_raises_only_hub_errors_on_hl7_like_text(parts: list[str]) -> None:
    body = "".join(parts).encode("utf-8", "surrogatepass")
    with contextlib.suppress(HubError):
        Hl7v2Adapter().parse(body, content_type="application/hl7-v2", sender_id="trust-a")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=60), st.text(max_size=30))
def test_a_valid_message_with_one_field_mangled_raises_only_hub_errors(field: int, junk: str) -> None:
    good = adt_a03().decode("latin-1").split("\r")
    pv1 = good[3].split("|")
    while len(pv1) <= field:
        pv1.append("")
    pv1[field] = junk
    good[3] = "|".join(pv1)
    body = "\r".join(good).encode("utf-8", "surrogatepass")
    with contextlib.suppress(HubError):
        Hl7v2Adapter().parse(body, content_type="application/hl7-v2", sender_id="trust-a")


def test_a_line_that_is_not_a_segment_is_refused_without_quoting_it() -> None:
    """A stray line break in free text makes the next line a person's name: the error gives the line number only."""
    body = (
        b"MSH|^~\\&|PAS|RWK|HUB|HUB|20261127110000||ADT^A03|X1|P|2.4\rPID|||9434765919^^^NHS^NH\rJohn Smith, 1 High St"
    )
    with pytest.raises(UnparseableInput) as caught:
        parse_messages(body)
    assert "line 3" in caught.value.detail
    assert "John" not in str(caught.value) and "Smi" not in caught.value.detail
