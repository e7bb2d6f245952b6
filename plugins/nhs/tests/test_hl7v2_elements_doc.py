"""The published table of ADT^A03 elements (docs/partners/nhs-hl7-mesh.md) says what the adapter does.

Each row names an HL7 location and whether it is required. The test empties
that element in a complete ADT^A03 and checks the adapter: a required element is
refused at its location, an optional one is accepted as a valid DischargeNotice,
with a warning at its location when the row says "warning".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hl7_support import adt_a03
from hub_nhs.hl7v2.adapter import Hl7v2Adapter

from hub import InvalidMessage
from hub.testing import canonical_problems

DOC = Path(__file__).resolve().parents[3] / "docs" / "partners" / "nhs-hl7-mesh.md"
_ROW = re.compile(
    r"^\| `(?P<loc>[A-Z][A-Z0-9]{2}-\d+(?:\.\d+)?)` \|[^|]*\| (?P<req>required|optional) \|(?P<then>[^|]*)\|$"
)
# A sample in which every optional element the table lists is present (ZDR-6..8 included).
ZDR = "ZDR|Y|Y|W|20261123153000|Chris Placeholder, Ward Manager|01582 700100|liaison@example.org|ELFT"


def published_rows() -> list[tuple[str, str, str]]:
    """(location, required|optional, what happens) for every row of the ADT^A03 element table."""
    rows = [(m["loc"], m["req"], m["then"]) for line in DOC.read_text().splitlines() if (m := _ROW.match(line))]
    assert len(rows) >= 15, "the element table in nhs-hl7-mesh.md was not found"
    return rows


def emptied(location: str) -> bytes:
    """The sample ADT^A03 with the element at ``location`` (``PV1-7``, ``PID-5.1``) emptied."""
    name, _, rest = location.partition("-")
    number, _, component = rest.partition(".")
    lines = adt_a03(replace={"ZDR": ZDR}).decode("latin-1").split("\r")
    for i, line in enumerate(lines):
        if not line.startswith(name + "|"):
            continue
        fields = line.split("|")
        index = int(number) - (1 if name == "MSH" else 0)  # MSH-1 is the separator itself
        fields += [""] * (index + 1 - len(fields))
        if component:
            parts = fields[index].split("^")
            parts += [""] * (int(component) - len(parts))
            parts[int(component) - 1] = ""
            fields[index] = "^".join(parts)
        else:
            fields[index] = ""
        lines[i] = "|".join(fields)
    return "\r".join(lines).encode("latin-1")


@pytest.mark.parametrize(("location", "required", "then"), published_rows())
def test_the_published_table_matches_what_the_adapter_does(location: str, required: str, then: str) -> None:
    body = emptied(location)
    adapter = Hl7v2Adapter()
    if required == "required":
        with pytest.raises(InvalidMessage) as caught:
            adapter.parse(body, content_type="application/hl7-v2", sender_id="trust-a")
        assert location in {p.location for p in caught.value.problems}
        return
    parsed = adapter.parse(body, content_type="application/hl7-v2", sender_id="trust-a")[0]
    assert canonical_problems(parsed.message, "trust-a") == []
    warned = {w.location for w in parsed.warnings}
    assert (location in warned) == ("warning" in then), (location, warned)
