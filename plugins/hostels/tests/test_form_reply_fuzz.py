"""A charity's answer to a form POST, form-encoded or JSON, under generated bodies: read or warned about, never a crash.

The ``form-post`` transport turns the answer into a JSON document (``answer_document``) and reads it with the
partner's ``receive.reply`` mapping (hub/replies.py), which never raises for what the partner sent: generated
answers (``hub.testing.fuzzing``) in either media type must give a reading, within the fuzzing bounds.
"""

from __future__ import annotations

import pytest
from hub_hostels.channels.form_post import FORM, answer_document

from hub.replies import JsonPointer, ReplyMapping
from hub.testing.fuzzing import fuzz

MAPPING = ReplyMapping(reference=JsonPointer.parse("/reference"), decision=JsonPointer.parse("/status"),
                       accepted=("accepted",), rejected=("rejected",), reason=JsonPointer.parse("/reason"))  # fmt: skip
SEEDS = [
    b"status=accepted&reference=CRM-17",
    b"status=rejected&reference=CRM-18&reason=no+beds+tonight%21",
    b'{"status": "accepted", "reference": "CRM-19"}',
]


@pytest.mark.parametrize("content_type", [FORM, "application/json", f"{FORM}; charset=utf-8"])
def test_an_answer_of_any_shape_is_read_or_warned_about(content_type: str) -> None:
    def read(body: bytes) -> None:
        MAPPING.read(answer_document(body, content_type))

    assert MAPPING.read(answer_document(SEEDS[0], FORM)).receipt == "CRM-17"
    fuzz(read, SEEDS, allowed=(), examples=100)
