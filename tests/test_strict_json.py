"""The one strict JSON reader: every JSON body the hub takes is read the same way, or refused saying where."""

from __future__ import annotations

import json

import pytest

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
