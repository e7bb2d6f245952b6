"""HL7 table 0357 (message error condition codes) and problems that carry one.

Contract: ``Hl7Problem`` is a ``hub.Problem`` with the table 0357 code that
describes it, set where the problem is found (the ADT reader knows whether a
field was missing, malformed or not in its table). ``condition_of(problem)``
gives the code for any problem, including the core's own (located by JSON
path): ``101`` for something required, else ``102``.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub import Problem

SEGMENT_SEQUENCE_ERROR = "100"
REQUIRED_FIELD_MISSING = "101"
DATA_TYPE_ERROR = "102"
TABLE_VALUE_NOT_FOUND = "103"
UNSUPPORTED_MESSAGE_TYPE = "200"
UNSUPPORTED_EVENT_CODE = "201"
DUPLICATE_KEY_IDENTIFIER = "205"
APPLICATION_INTERNAL_ERROR = "207"

TABLE_0357 = {
    "0": "Message accepted",
    SEGMENT_SEQUENCE_ERROR: "Segment sequence error",
    REQUIRED_FIELD_MISSING: "Required field missing",
    DATA_TYPE_ERROR: "Data type error",
    TABLE_VALUE_NOT_FOUND: "Table value not found",
    UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    UNSUPPORTED_EVENT_CODE: "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    DUPLICATE_KEY_IDENTIFIER: "Duplicate key identifier",
    "206": "Application record locked",
    APPLICATION_INTERNAL_ERROR: "Application internal error",
}


@dataclass(frozen=True)
class Hl7Problem(Problem):
    """A problem at an HL7 location (``PID-3``, ``PV1-37.1``) with its table 0357 condition code."""

    condition: str = DATA_TYPE_ERROR


def missing(location: str, what: str) -> Hl7Problem:
    """A required element that is absent or empty (101)."""
    return Hl7Problem(location, f"required: {what}", REQUIRED_FIELD_MISSING)


def malformed(location: str, what: str) -> Hl7Problem:
    """A value that does not have its data type's form (102)."""
    return Hl7Problem(location, what, DATA_TYPE_ERROR)


def not_in_table(location: str, what: str) -> Hl7Problem:
    """A coded value that is not one of its table's codes (103)."""
    return Hl7Problem(location, what, TABLE_VALUE_NOT_FOUND)


def not_known(location: str, what: str) -> Hl7Problem:
    """A warning: an element the hub uses is empty and is recorded as not known (101, severity W)."""
    return Hl7Problem(location, what, REQUIRED_FIELD_MISSING)


def unrecognised(location: str, what: str) -> Hl7Problem:
    """A warning: a coded element holds no code the hub knows and is recorded as not known (103, severity W)."""
    return Hl7Problem(location, what, TABLE_VALUE_NOT_FOUND)


def condition_of(problem: Problem) -> str:
    """The table 0357 code for ``problem``."""
    if isinstance(problem, Hl7Problem):
        return problem.condition
    return REQUIRED_FIELD_MISSING if problem.message.startswith("required") else DATA_TYPE_ERROR
