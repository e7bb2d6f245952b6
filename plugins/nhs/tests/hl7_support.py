"""HL7 v2 samples and an MLLP client for the HL7 and MLLP tests (a plain module, imported by them)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hl7apy import parser as hl7apy_parser
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message
from hub_nhs.hl7v2.framing import END_BLOCK, START_BLOCK, frame
from hub_nhs.hl7v2.parser import unescape

from hub.testing.running_hub import free_port
from hub.testing.world import HubWorld, Partner, build_world

# A synthetic person: the NHS number is in the 999 test range and passes Modulus 11.
TEST_NHS_NUMBER = "9990000018"


def segment(name: str, fields: dict[int, str]) -> str:
    """A segment with ``fields`` at their HL7 positions (SEG-1 is key 1), the rest empty."""
    return "|".join([name, *(fields.get(n, "") for n in range(1, max(fields) + 1))])


def adt_a03(
    *,
    facility: str = "RWK",
    control: str | None = None,
    nhs_number: str = TEST_NHS_NUMBER,
    separator: str = "\r",
    extra: list[str] | None = None,
    replace: dict[str, str] | None = None,
) -> bytes:
    """An ADT^A03 from ``facility``; ``replace`` swaps whole segments by name, ``extra`` appends segments."""
    control = control or uuid.uuid4().hex[:20]
    segments = {
        "MSH": f"MSH|^~\\&|EPR|{facility}|HUB|HUB|20261127110500||ADT^A03^ADT_A03|{control}|P|2.4|||AL|NE||8859/1",
        "EVN": "EVN|A03|20261127110500",
        "PID": segment(
            "PID",
            {
                1: "1",
                3: f"{nhs_number}^^^NHS^NH~RWK-00123456^^^RWK^MR",
                5: "Example^Alex^^^Mx",
                7: "19900517",
                8: "M",
                11: "Flat 2\\S\\3^10 High Street^Luton^^LU1 2AA^GBR",
                13: "07700 900123",
                32: "01",
            },
        ),
        "PV1": segment(
            "PV1",
            {
                1: "1",
                2: "I",
                3: "Willow Ward^^^RWK",
                7: "C1234567^Sample^Sam^^^Dr",
                19: "V0001",
                36: "1",
                37: "19",
                44: "20261002",
                45: "20261127110000",
            },
        ),
        "ZHS": "ZHS|no_fixed_abode|E06000032|Sleeping rough\\.br\\before admission|Tenancy support~GP registration|Y",
        "ZDR": "ZDR|Y|Y|W|20261123153000|Chris Placeholder, Ward Manager",
        "ZMH": "ZMH|3|N|Y",
    }
    for name, text in (replace or {}).items():
        segments[name] = text
    lines = [s for s in segments.values() if s] + (extra or [])
    return separator.join(lines).encode("latin-1") + separator.encode()


TABLE_0357 = {"0", "100", "101", "102", "103", "104", "200", "201", "202", "203", "204", "205", "206", "207"}
SEVERITIES = {"W", "I", "E", "F"}  # HL7 table 0516


def version_tuple(version: str) -> tuple[int, ...]:
    """``2.3.1`` as (2, 3, 1)."""
    return tuple(int(n) for n in version.split("."))


def check_ack(data: bytes) -> Any:
    """Check an ACK with hl7apy in strict mode (an independent oracle) and return hl7apy's message.

    Up to v2.3 MSH-9 has no message structure component, so hl7apy cannot infer
    the structure: the ACK is then built as hl7apy's ``ACK`` and its segments
    parsed strictly into it. Beyond hl7apy's structure checks this asserts what
    it leaves alone: MSA-1, the table 0357 codes, ERR-4 severities, and one ERR
    with ERR-1 only before v2.5.
    """
    text = data.decode("utf-8")
    version = text.split("\r", 1)[0].split("|")[11].split("^")[0]
    if version_tuple(version) >= (2, 3, 1):
        message = hl7apy_parser.parse_message(text, validation_level=VALIDATION_LEVEL.STRICT)
    else:
        message = Message("ACK", version=version, validation_level=VALIDATION_LEVEL.STRICT)
        message.children = hl7apy_parser.parse_segments(text, version=version,
                                                        validation_level=VALIDATION_LEVEL.STRICT,
                                                        references=message.reference)  # fmt: skip
    message.validate()
    assert message.name == "ACK", message.name
    fields = [s.split("|") for s in text.split("\r") if s]
    assert fields[1][0] == "MSA" and fields[1][1] in ("AA", "AE", "AR")
    errors = [f for f in fields if f[0] == "ERR"]
    if version_tuple(version) < (2, 5):
        assert len(errors) <= 1 and all(len(f) == 2 for f in errors), "before v2.5: one ERR, ERR-1 only"
        for rep in errors[0][1].split("~") if errors else []:
            assert rep.split("^")[3].split("&")[0] in TABLE_0357
    else:
        for f in errors:
            assert f[3].split("^")[0] in TABLE_0357 and f[4] in SEVERITIES, f
    return message


def check_adt(data: bytes) -> Any:
    """Check an ADT the hub rendered with hl7apy in strict mode and return hl7apy's message.

    ``find_groups=False`` keeps the hub's Z-segments as children of the message
    (hl7apy allows Z-segments anywhere; with groups it would drop them unchecked).
    """
    text = data.decode("utf-8")
    message = hl7apy_parser.parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=False)
    message.validate()
    sent = [s[:3] for s in text.split("\r") if s]
    assert [c.name for c in message.children] == sent, "hl7apy dropped segments"
    return message


def parse_ack(data: bytes) -> dict[str, Any]:
    """An ACK checked by ``check_ack``, as MSA-1..3 and its errors (location, code, severity, text) in any version."""
    check_ack(data)
    text = data.decode("utf-8")
    segments = [s.split("|") for s in text.split("\r") if s]
    msa = next(s for s in segments if s[0] == "MSA")
    errors = []
    for err in (s for s in segments if s[0] == "ERR"):
        if len(err) == 2:  # up to v2.4: ERR-1 repetitions, segment^sequence^field^code&text&table
            for rep in err[1].split("~"):
                parts = rep.split("^")
                errors.append({"location": "^".join(p for p in parts[:3] if p), "code": parts[3].split("&")[0],
                               "severity": "E", "text": ""})  # fmt: skip
        else:
            errors.append({"location": err[2], "code": err[3].split("^")[0], "severity": err[4],
                           "text": unescape(err[7]) if len(err) > 7 else ""})  # fmt: skip
    return {
        "code": msa[1],
        "control": msa[2] if len(msa) > 2 else "",
        "text": unescape(msa[3]) if len(msa) > 3 else "",
        "errors": errors,
        "msh": segments[0],
    }


class MllpClient:
    """A blocking MLLP client for tests: send frames or raw bytes, read ACK frames."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._buffer = b""

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (for framing edge cases)."""
        self.sock.sendall(data)

    def send(self, message: bytes) -> dict[str, Any]:
        """Send one framed message and return its parsed ACK."""
        self.send_raw(frame(message))
        return parse_ack(self.read_frame())

    def read_ack(self) -> dict[str, Any]:
        """The next frame as an ACK checked by ``check_ack``."""
        return parse_ack(self.read_frame())

    def read_frame(self) -> bytes:
        """The next frame's payload; raises ConnectionError if the hub closed the connection."""
        while END_BLOCK not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(END_BLOCK)
        return raw.partition(START_BLOCK)[2]

    def closed_by_peer(self) -> bool:
        """True when the hub closes the connection (reads EOF) within the timeout."""
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def __enter__(self) -> MllpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_small_hub(
    directory: Path,
    *,
    listeners: dict[str, dict[str, Any]] | None = None,
    partners: list[dict[str, Any]] | None = None,
    routes: list[dict[str, Any]] | None = None,
    serve_args: list[str] | None = None,
) -> HubWorld:
    """Start ``hub serve`` with trusts RWK (trust-a) and RXY (trust-b, receives every DischargeNotice by push).

    ``partners`` are more ``partners.toml`` tables; ``serve_args`` are added to ``hub serve``'s command line.
    Routes are our own (DischargeNotice -> trust-b) so these tests do not depend on other plugins' transforms.
    """
    return build_world(
        directory,
        [Partner("trust-a", "nhs_trust", {"ods_code": "RWK"}, receive="pull"),
         Partner("trust-b", "nhs_trust", {"ods_code": "RXY"}), *(partners or [])],
        routes=routes if routes is not None else DISCHARGE_TO_TRUST_B,
        settings={"server": {"max_body_bytes": 1_048_576}, "listeners": listeners or {}},
        hub_args=serve_args or (),
    )  # fmt: skip


DISCHARGE_TO_TRUST_B = [{"name": "discharge-copy", "type": "DischargeNotice", "to": "trust-b"}]


@pytest.fixture
def hl7_hub_factory(tmp_path: Path) -> Iterator[Callable[..., HubWorld]]:
    """Start small hubs (see ``start_small_hub``); all are stopped after the test."""
    made: list[HubWorld] = []

    def factory(**kwargs: Any) -> HubWorld:
        hub = start_small_hub(tmp_path / f"hub{len(made)}", **kwargs)
        made.append(hub)
        return hub

    yield factory
    for hub in made:
        hub.stop()


def mllp_hub(factory: Callable[..., HubWorld], **options: Any) -> tuple[HubWorld, int]:
    """A small hub with ``[listeners.mllp]`` on a free port; returns it and the port."""
    port = free_port()
    hub = factory(listeners={"mllp": {"host": "127.0.0.1", "port": port, **options}})
    return hub, port
