"""A charity's answer to a form POST, form-encoded or JSON, under generated bodies: JSON or refused, never a crash.

The ``form-post`` transport turns the answer into a JSON document (``answer_document``) for the partner's
``receive.reply`` mapping, which reads it as strict JSON and warns about anything else (the mapping itself is
fuzzed with the core's parsers, tests/fuzz/test_parser_fuzz_core.py). Generated answers (``hub.testing.fuzzing``)
in either media type must give bytes that strict JSON reads or refuses with ``UnparseableInput``, within the
fuzzing bounds; a form field named twice must be refused like a JSON member named twice.
"""

from __future__ import annotations

import pytest
from hub_hostels.channels.form_post import FORM, answer_document

from hub import UnparseableInput, parse_json_strict
from hub.testing.fuzzing import fuzz

SEEDS = [
    b"status=accepted&reference=CRM-17",
    b"status=rejected&reference=CRM-18&reason=no+beds+tonight%21",
    b'{"status": "accepted", "reference": "CRM-19"}',
]


@pytest.mark.parametrize("content_type", [FORM, "application/json", f"{FORM}; charset=utf-8"])
def test_an_answer_of_any_shape_becomes_json_or_is_refused(content_type: str) -> None:
    def read(body: bytes) -> None:
        parse_json_strict(answer_document(body, content_type))

    assert parse_json_strict(answer_document(SEEDS[0], FORM)) == {"status": "accepted", "reference": "CRM-17"}
    with pytest.raises(UnparseableInput):
        parse_json_strict(answer_document(b"status=accepted&status=rejected", FORM))
    fuzz(read, SEEDS, allowed=(UnparseableInput,), examples=100)
