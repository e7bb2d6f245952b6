"""HL7 v2 out: each step of a referral's offer chain (a ReferralUpdate) reaches an HL7 v2 trust as an ORM^O01
status change (ORC-1 ``SC``), checked by hl7apy in strict mode (an independent oracle). The end-to-end chain is
plugins/hostels/tests/test_trust_referrer_steps.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from hl7apy import parser as hl7apy_parser
from hl7apy.consts import VALIDATION_LEVEL
from hub_nhs.hl7v2.adapter import Hl7v2Adapter

from hub import Partner, Receive
from hub.testing.messages import example

TABLE_0038 = {"A", "CA", "CM", "DC", "ER", "HD", "IP", "RP", "SC"}  # HL7 v2.4 order status
STATUS = {"offered": "IP", "info_requested": "HD", "accepted": "SC", "declined": "IP", "expired": "IP",
          "waiting_for_navigator": "HD", "placed": "CM", "withdrawn": "IP", "closed": "CA"}  # fmt: skip
TRUST = Partner("trust-a", "Trust A", "nhs_trust", adapter="hl7v2", codes={"ods_code": "RWK"},
                receive=Receive("push", "http", "http://127.0.0.1:9/", {}))  # fmt: skip


def checked_orm(body: bytes) -> Any:
    """Parse an ORM^O01 the hub rendered with hl7apy in strict mode, validate it and return it."""
    message = hl7apy_parser.parse_message(body.decode("utf-8"), validation_level=VALIDATION_LEVEL.STRICT)
    message.validate()
    assert message.name == "ORM_O01", message.name
    return message


def orc_fields(body: bytes) -> list[str]:
    (orc,) = [s.split("|") for s in body.decode().split("\r") if s.startswith("ORC|")]
    return orc


@pytest.mark.parametrize("step", sorted(STATUS))
def test_a_step_becomes_an_order_status_change(step: str) -> None:
    message = example("referral-update")
    message["payload"] = {"referral_message_id": "990f6d8d-097c-4877-80bd-d91a1ab1f910", "step": step,
                          "at": "2026-11-25T10:14:30Z"}  # fmt: skip
    if step == "declined":
        message["payload"]["reason_code"] = "out_of_area"
    if step == "waiting_for_navigator":
        message["payload"]["waiting_because"] = "no_match"
    if step == "closed":
        message["payload"]["closed_because"] = "duplicate"
    rendered = Hl7v2Adapter().render(message, partner=TRUST)
    assert rendered.content_type == "application/hl7-v2"
    parsed = checked_orm(rendered.body)
    assert parsed.msh.msh_9.to_er7() == "ORM^O01^ORM_O01" and parsed.msh.msh_6.to_er7() == "RWK"
    orc = orc_fields(rendered.body)
    assert orc[1] == "SC" and orc[2] == "990f6d8d-097c-4877-80bd-d91a1ab1f910^PARTNER-HUB"
    assert orc[5] == STATUS[step] and orc[5] in TABLE_0038
    assert orc[9] == "20261125101430+0000"
    assert orc[25].split("^")[0] == step and orc[25].split("^")[2] == "99HRS"
    reason = {
        "declined": "out_of_area^Out of area^99HDR",
        "waiting_for_navigator": "no_match^No service fits^99HNQ",
        "closed": "duplicate^Duplicate referral^99HCR",
    }
    assert (orc[16] if len(orc) > 16 else "") == reason.get(step, "")
    assert rendered.notes == ("ORC-2 is longer than HL7 v2.4's 22 characters: the referral's message id is kept whole",)


def test_the_same_step_renders_the_same_bytes_and_a_short_id_gives_no_note() -> None:
    message = example("referral-update")
    message["payload"]["referral_message_id"] = "REF-1"
    first = Hl7v2Adapter().render(message, partner=TRUST)
    assert first.body == Hl7v2Adapter().render(message, partner=TRUST).body and first.notes == ()
    checked_orm(first.body)
