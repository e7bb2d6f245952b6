"""A message type's declared business status: what the hub keeps in clear, and what it refuses to declare."""

from __future__ import annotations

import pytest

from hub import MessageType
from hub.router import clear_status

FIELDS = ("payload.status", "payload.status_at")


def message(status: object, at: object) -> dict:
    return {"type": "HousingStatus", "payload": {"status": status, "status_at": at}}


def test_a_code_and_a_time_with_an_offset_are_kept_as_code_and_epoch_seconds() -> None:
    assert clear_status(message("relief_duty", "2026-11-27T15:40:00Z"), FIELDS) == ("relief_duty", 1795794000.0)
    assert clear_status(message("received", "2026-11-27T16:40:00+01:00"), FIELDS) == ("received", 1795794000.0)


@pytest.mark.parametrize("code", ["Relief duty", "relief-duty", "x" * 41, "", 3, None, "Alex Example"])
def test_anything_but_a_short_lower_case_code_is_left_out_rather_than_stored_in_clear(code: object) -> None:
    assert clear_status(message(code, "2026-11-27T15:40:00Z"), FIELDS)[0] is None


@pytest.mark.parametrize("at", ["2026-11-27T15:40:00", "27/11/2026", "", 1795794000, None])
def test_a_time_without_an_offset_or_not_a_date_time_is_left_out(at: object) -> None:
    assert clear_status(message("closed", at), FIELDS) == ("closed", None)


def test_a_type_without_a_declared_status_keeps_nothing() -> None:
    assert clear_status(message("closed", "2026-11-27T15:40:00Z"), None) == (None, None)
    assert clear_status({"type": "HousingStatus"}, FIELDS) == (None, None)


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"answers": ("housing request",)}, "answers names"),
        ({"status": ("payload.status",)}, "two dotted field paths"),
        ({"status": ("payload.status", "payload.Status At")}, "two dotted field paths"),
    ],
)
def test_a_message_type_refuses_a_malformed_declaration(changes: dict, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        MessageType("HousingStatus", {}, **changes)
