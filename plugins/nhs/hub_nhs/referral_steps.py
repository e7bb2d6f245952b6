"""The words for the codes a ReferralUpdate carries, the same in every format a trust receives it in.

A decline's reason category, why a referral waits for a navigator, and why a navigator closed it: code -> display.
The FHIR rendering puts them in ``Task.statusReason`` (each in its own code system), the HL7 v2 one in ORC-16.
"""

from __future__ import annotations

DECLINE_REASONS = {"no_capacity": "No capacity", "needs_beyond_service": "Needs beyond the service",
                   "risk": "Risk", "out_of_area": "Out of area", "other": "Other"}  # fmt: skip
WAITING_REASONS = {"no_match": "No service fits", "all_declined": "Every service declined",
                   "complex": "Flagged complex", "self_referral": "Self-referral"}  # fmt: skip
CLOSE_REASONS = {"no_suitable_service": "No suitable service", "referred_elsewhere": "Referred elsewhere",
                 "no_longer_needed": "No longer needed", "duplicate": "Duplicate referral"}  # fmt: skip
