"""The one strict JSON reader: every JSON body the hub takes is read the same way, or refused saying where."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub import UnparseableInput, parse_json_strict
from hub.testing import run_hub_cli
from hub.testing.messages import housing_request


def refusal(data: bytes | str, **options: int) -> tuple[str, str]:
    with pytest.raises(UnparseableInput) as caught:
        parse_json_strict(data, **options)
    first = caught.value.problems[0]
    return first.location, first.message


def test_a_repeated_member_name_is_refused_at_its_path_wherever_it_is() -> None:
    assert refusal(b'{"a": {"b": [{"c": 1, "c": 2}]}}')[0] == "$.a.b[0].c"
    assert refusal(b'{"a": 1, "a": 1}')[0] == "$.a"  # even when both say the same


def test_a_made_up_member_name_is_located_by_position_not_repeated() -> None:
    location, message = refusal(b'{"x": {"Jane Smith 9434765919": 1, "Jane Smith 9434765919": 2}}')
    assert location == "$.x.<member 2>" and "Jane" not in message


def test_text_that_is_not_utf8_is_refused_at_its_byte_offset() -> None:
    assert refusal(b'{"name": "Zo\xeb"}')[0] == "byte 12"
    assert refusal(b'{"name": "\xed\xa0\x80"}')[0] == "byte 10"  # an encoded surrogate is not UTF-8 either


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"n": NaN}', "NaN"),
        (b'{"n": -Infinity}', "NaN or Infinity"),
        (b'{"n": 1e999}', "too large"),
        (b'{"n": 18446744073709551616}', "64 bits"),
        (b'{"n": ' + b"9" * 5000 + b"}", "64 bits"),
        (b'{"s": "\\ud800"}', "lone surrogate"),
    ],
)
def test_values_no_writer_can_give_back_exactly_are_refused(body: bytes, why: str) -> None:
    location, message = refusal(body)
    assert location.startswith("$.") and why in message


def test_the_largest_64_bit_integers_are_kept_exactly() -> None:
    assert parse_json_strict(b'{"n": 18446744073709551615, "m": -9223372036854775808}') == {
        "n": 2**64 - 1, "m": -(2**63)}  # fmt: skip


def test_syntax_errors_say_line_and_column_and_deep_nesting_is_refused() -> None:
    assert refusal(b'{\n  "a": 1,\n  oops}')[0] == "line 3, column 3"
    assert refusal(b"[" * 33 + b"]" * 33)[1] == "nests more than 32 levels deep"
    assert parse_json_strict(b"[" * 33 + b"]" * 33, max_depth=64) is not None
    assert refusal(b"[" * 100_000)[0] == "$"
    assert refusal(b"\xef\xbb\xbf{}")[0] == "line 1, column 1"  # JSON has no byte order mark


def test_hub_send_reads_a_file_as_the_http_api_would(tmp_path) -> None:
    config = tmp_path / "config"
    assert run_hub_cli(config, "init").returncode == 0
    message = housing_request(sender="trust-elft")
    once = f'"nhs_number": "{message["payload"]["person"]["nhs_number"]}"'
    twice = json.dumps(message).replace(once, once + ', "nhs_number": "9990000018"')
    (tmp_path / "twice.json").write_text(twice)
    sent = run_hub_cli(config, "send", str(tmp_path / "twice.json"), "--as", "trust-elft")
    assert sent.returncode == 1 and "$.payload.person.nhs_number" in sent.stderr and "9990000018" not in sent.stderr
    assert json.loads(run_hub_cli(config, "messages", "list", "--json").stdout) == []


def outcome(data: bytes | str) -> Any:
    """What the reader makes of ``data``: the document written back, or the refusal's title and problems."""
    try:
        return ("read", json.dumps(parse_json_strict(data)))
    except UnparseableInput as refused:
        return ("refused", refused.detail, [(p.location, p.message) for p in refused.problems])


# bytes take orjson's fast path when they are plain (hub.strict_json._plain_document); text goes to the full
# reader only. The two must agree on every body: same document, or the same refusal.
TRICKY = [
    b'{"a": 1, "a": 2}',
    b'{"t": "09:00", "a": 1, "a": 2}',
    b'{"a": 1, "a": "x\\u003a"}',
    b'{"a": "x\\u003a", "a": 1}',
    b'{"a\\u003a": 1, "a": 1}',
    b'{"a": {"b": 1}, "c": "{{{{[[[["}',
    b'{"n": 1234567890123456789}',
    b'{"n": "1234567890123456789"}',
    b'{"n": -9223372036854775809}',
    b"[" * 31 + b"1" + b"]" * 31,
    b"[" * 32 + b"1" + b"]" * 32,
    b"[" * 32 + b"]" * 32,
    b'{"s": "\\ud83d\\ude00"}',
    b'{"s": "\\ud83d"}',
    b'{"s": "a\\nb\\u0000"}',
    b'{"k" : 1 , "k" : 2}',
    b' {"a":[{"b":{"c":[1,2,{"d":"e:f"}]}}]} ',
    b"{}",
    b"[]",
    b'"x"',
    b"1.5e3",
    b"-0",
    b"null",
    b'{"a":1}',
]


@pytest.mark.parametrize("body", TRICKY)
def test_the_fast_reader_and_the_full_reader_agree_on_tricky_bodies(body: bytes) -> None:
    assert outcome(body) == outcome(body.decode("utf-8", "surrogatepass"))


_names = st.sampled_from(["a", "b", "t", "a:b", "{", "[x]", "\u00e9", "\u003a", "19"])
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(alphabet=st.sampled_from(list(':{}[]"\\ ab\u00e9\n0123456789')), max_size=30),
)
_documents = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_names, inner, max_size=4)),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(document=_documents, ascii_only=st.booleans(), indent=st.sampled_from([None, 1]), repeat=st.booleans())
def test_the_fast_reader_and_the_full_reader_agree_on_any_document(
    document: Any, ascii_only: bool, indent: int | None, repeat: bool
) -> None:
    text = json.dumps(document, ensure_ascii=ascii_only, indent=indent)
    if repeat and text.startswith("{") and len(text) > 2:  # the first member again, at the end
        first = text[1:].split(",", 1)[0].strip()
        text = text[:-1].rstrip() + ", " + first + "}"
    assert outcome(text.encode("utf-8", "surrogatepass")) == outcome(text)
