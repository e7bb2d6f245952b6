"""ACKs in the form of the version they answer, each checked by hl7apy in strict mode (``check_ack``)."""

from __future__ import annotations

import pytest
from hl7_support import adt_a03, parse_ack
from hub_nhs.hl7v2.ack import ack_for_error, build_ack
from hub_nhs.hl7v2.adapter import Hl7v2Adapter
from hub_nhs.hl7v2.conditions import not_known
from hub_nhs.hl7v2.parser import parse_message, read_header

from hub import Conflict, InvalidMessage, Problem, UnparseableInput

VERSIONS = ["2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.8", "2.8.1", "2.8.2"]
PROBLEMS = [Problem("PID-3", "fails Modulus 11"), Problem("PV1-45", "required: the discharge date/time")]


def original(version: str, body: bytes | None = None):
    return parse_message((body or adt_a03(control="CTRL-1")).replace(b"|P|2.4|", f"|P|{version}|".encode()))


def older(version: str) -> bool:
    return tuple(int(n) for n in version.split(".")) < (2, 5)


@pytest.mark.parametrize("version", VERSIONS)
def test_an_ae_reports_every_problem_in_the_form_of_its_version(version: str) -> None:
    data = build_ack(original(version), "AE", "invalid", PROBLEMS)
    ack = parse_ack(data)
    assert (ack["code"], ack["control"], ack["msh"][11]) == ("AE", "CTRL-1", version)
    assert [(e["location"], e["code"], e["severity"]) for e in ack["errors"]] == [
        ("PID^1^3", "102", "E"), ("PV1^1^45", "101", "E")]  # fmt: skip
    assert data.count(b"\rERR|") == (1 if older(version) else 2)
    if version >= "2.7":
        assert b"\rMSA|AE|CTRL-1\r" in data  # MSA-3 is withdrawn in v2.7
    assert ack["msh"][8] == ("ACK^A03" if version in ("2.2", "2.3") else "ACK^A03^ACK")


@pytest.mark.parametrize("version", VERSIONS)
def test_warnings_ride_on_an_aa_with_severity_w_where_the_version_has_it(version: str) -> None:
    ack = parse_ack(build_ack(original(version), "AA", "Accepted", warnings=[not_known("PV1-7", "empty")]))
    assert ack["code"] == "AA"
    if older(version):
        assert ack["errors"] == [] and "PV1-7" in ack["text"]
    else:
        assert [(e["location"], e["code"], e["severity"]) for e in ack["errors"]] == [("PV1^1^7", "101", "W")]


def test_the_adapters_warnings_for_an_empty_pv1_7_and_a_text_destination() -> None:
    body = adt_a03(control="W-1").replace(b"|P|2.4|", b"|P|2.5|").replace(b"|1|19|", b"|1|Home|")
    body = body.replace(b"C1234567^Sample^Sam^^^Dr", b"")
    parsed = Hl7v2Adapter().parse(body, content_type="application/hl7-v2", sender_id="trust-a")[0]
    ack = parse_ack(build_ack(parse_message(body), "AA", "Accepted", warnings=list(parsed.warnings)))
    assert {(e["location"], e["code"], e["severity"]) for e in ack["errors"]} == {
        ("PV1^1^7", "101", "W"), ("PV1^1^37^1^1", "103", "W")}  # fmt: skip


def test_a_message_whose_msh_is_readable_is_answered_with_its_control_id_trigger_and_version() -> None:
    body = adt_a03(control="HALF").replace(b"|P|2.4|", b"|P|2.5|") + b"not a segment\r"
    ack = parse_ack(ack_for_error(read_header(body), UnparseableInput("line 8: not an HL7 v2 segment")))
    assert (ack["code"], ack["control"], ack["msh"][8], ack["msh"][11]) == ("AR", "HALF", "ACK^A03^ACK", "2.5")
    assert [(e["code"], e["severity"]) for e in ack["errors"]] == [("100", "E")]


def test_garbage_is_answered_ar_in_v24_with_a_message_structure() -> None:
    assert read_header(b"\x00\xff not hl7 at all") is None
    ack = parse_ack(ack_for_error(None, UnparseableInput("The body holds no HL7 v2 message (no MSH segment).")))
    assert (ack["code"], ack["control"], ack["msh"][8], ack["msh"][11]) == ("AR", "UNKNOWN", "ACK^^ACK", "2.4")
    assert [e["code"] for e in ack["errors"]] == ["100"]


@pytest.mark.parametrize(
    ("error", "code", "condition"),
    [
        (InvalidMessage("invalid", [Problem("$.payload.contact.phone", "required for a Duty to Refer")]), "AE", "101"),
        (Conflict("that message id was used for another message"), "AE", "205"),
        (RuntimeError("disk full"), "AR", "207"),
    ],
)
def test_table_0357_codes_follow_the_error(error: Exception, code: str, condition: str) -> None:
    ack = parse_ack(ack_for_error(original("2.5"), error))
    assert ack["code"] == code and [e["code"] for e in ack["errors"]] == [condition]
    assert "disk" not in str(ack)


@pytest.mark.parametrize(("msh_9", "condition"), [(b"ORU^R01^ORU_R01", "200"), (b"ADT^A01^ADT_A01", "201")])
def test_other_message_types_and_events_are_refused_with_their_own_codes(msh_9: bytes, condition: str) -> None:
    body = adt_a03(control="T").replace(b"ADT^A03^ADT_A03", msh_9).replace(b"|P|2.4|", b"|P|2.6|")
    with pytest.raises(UnparseableInput) as caught:
        Hl7v2Adapter().parse(body, content_type="application/hl7-v2", sender_id="trust-a")
    ack = parse_ack(ack_for_error(parse_message(body), caught.value))
    assert ack["code"] == "AR" and [e["code"] for e in ack["errors"]] == [condition]
    assert ack["msh"][8] == "ACK^" + msh_9.split(b"^")[1].decode() + "^ACK"
