"""Checks for the identifiers the hub validates: NHS numbers and ONS GSS codes."""

from __future__ import annotations

import re

_NHS_DIGITS = re.compile(r"[0-9]{10}")  # ASCII digits only: \d would take any script's digits
HOUSING_AUTHORITY_GSS = re.compile(r"E0[6-9][0-9]{6}")
GSS_CODE = re.compile(r"[EWSNLM][0-9]{8}")


def normalise_nhs_number(value: str) -> str:
    """Strip spaces and hyphens from an NHS number as people write it (``943 476 5919``)."""
    return value.replace(" ", "").replace("-", "")


def nhs_number_problem(value: str) -> str | None:
    """Return why ``value`` is not a valid NHS number, or None if it is valid.

    Valid means ten digits whose tenth is the Modulus 11 check digit of the
    first nine (weights 10 down to 2; a remainder giving 11 becomes 0, one
    giving 10 makes the number invalid).
    """
    digits = normalise_nhs_number(value)
    if not _NHS_DIGITS.fullmatch(digits):
        return "an NHS number is exactly 10 digits"
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return "this is not a valid NHS number: its check digit cannot be computed (Modulus 11 gives 10)"
    if check != int(digits[9]):
        # never say which digit is expected: "fixing" the last digit can make another person's valid number
        return "this is not a valid NHS number: it fails the Modulus 11 check; check every digit against the record"
    return None


def is_valid_nhs_number(value: str) -> bool:
    """True when ``value`` passes the Modulus 11 check."""
    return nhs_number_problem(value) is None


def housing_authority_problem(code: str) -> str | None:
    """Return why ``code`` cannot be a Duty to Refer target, or None if it can.

    English housing authorities are E06 (unitary), E07 (district), E08
    (metropolitan borough) and E09 (London borough). E10 is a county council,
    which is not a housing authority.
    """
    if HOUSING_AUTHORITY_GSS.fullmatch(code):
        return None
    if code.startswith("E10"):
        return f"{code} is a county (E10), which is not a housing authority; name the district council (E07)"
    return f"{code} is not an English housing authority GSS code (E06, E07, E08 or E09 followed by 6 digits)"
