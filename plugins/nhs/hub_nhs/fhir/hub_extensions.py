"""The hub's own FHIR extensions on the Encounter, and the Consent resources of a discharge.

UK Core has no element for what a Duty to Refer, a support referral or an IPS
referral needs, so a trust adds complex extensions to the Encounter (their
sub-extension names and value types are listed in ``docs/partners/nhs-fhir.md``):

- ``Extension-Hub-HousingNeed``: situation (code), chosenAuthority (code, a GSS
  code), details (string), supportNeed (string, repeats), urgent (boolean);
- ``Extension-Hub-SupportNeed``: need (string, repeats), riskSummary (string),
  provider (string, a hub org id);
- ``Extension-Hub-Employment``: wantsWork, consent, benefitsAdviceNeeded
  (booleans), goal (string), jobPreference (string, repeats), currentStatus
  (code), careCoordinator (Reference to a Practitioner), provider (string);
- ``Extension-Hub-MentalHealthActStatus``: section (string), cto, s117 (booleans).

Each function returns the canonical block or None, recording problems with
their FHIR paths on the reader.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hub import housing_authority_problem
from hub_nhs.fhir import codes
from hub_nhs.fhir.bundle import Entry, MessageBundle
from hub_nhs.fhir.reading import Reader

_ORG_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class Parts:
    """The sub-extensions of one complex extension, read by name with the value type each must have."""

    def __init__(self, reader: Reader, extension: dict[str, Any], path: str) -> None:
        self.reader = reader
        self.items: dict[str, list[tuple[dict[str, Any], str]]] = {}
        for item, where in reader.many(extension, "extension", path):
            if isinstance(item, dict) and isinstance(item.get("url"), str):
                self.items.setdefault(item["url"], []).append((item, where))
            else:
                reader.add(where, "must be an extension object with a url")

    def _single(self, name: str) -> tuple[dict[str, Any], str] | None:
        found = self.items.get(name, [])
        for _, where in found[1:]:
            self.reader.add(where, f"sub-extension {name} may appear only once")
        return found[0] if found else None

    def string(self, name: str, *, max_length: int = 0) -> str | None:
        """The valueString of sub-extension ``name``."""
        found = self._single(name)
        return self.reader.string(found[0], "valueString", found[1], required=True, max_length=max_length) if found \
            else None  # fmt: skip

    def strings(self, name: str, *, max_length: int = 500) -> list[str]:
        """The valueString of every sub-extension ``name`` (a repeating one)."""
        out = []
        for item, where in self.items.get(name, []):
            value = self.reader.string(item, "valueString", where, required=True, max_length=max_length)
            if value is not None:
                out.append(value)
        return out

    def code(self, name: str, allowed: tuple[str, ...] | None = None) -> str | None:
        """The valueCode of sub-extension ``name``, checked against ``allowed``."""
        found = self._single(name)
        if found is None:
            return None
        value = self.reader.string(found[0], "valueCode", found[1], required=True)
        if value is not None and allowed is not None and value not in allowed:
            self.reader.add(f"{found[1]}.valueCode", "must be one of " + ", ".join(allowed))
            return None
        return value

    def boolean(self, name: str) -> bool | None:
        """The valueBoolean of sub-extension ``name``."""
        found = self._single(name)
        return self.reader.boolean(found[0], "valueBoolean", found[1], required=True) if found else None

    def reference(self, name: str) -> tuple[Any, str] | None:
        """The valueReference of sub-extension ``name`` with its path."""
        found = self._single(name)
        if found is None:
            return None
        return self.reader.obj(found[0], "valueReference", found[1], required=True), f"{found[1]}.valueReference"

    def required(self, name: str, path: str) -> None:
        """Record that sub-extension ``name`` is missing, when it is."""
        if name not in self.items:
            self.reader.add(f"{path}.extension", f"required: the sub-extension {name!r}")


def _org_id(parts: Parts, name: str) -> str | None:
    value = parts.string(name)
    if value is not None and not _ORG_ID.match(value):
        parts.reader.add(f"{parts.items[name][0][1]}.valueString",
                         "must be a hub organisation id (lower case, e.g. steps-luton)")  # fmt: skip
        return None
    return value


def _parts(reader: Reader, encounter: Entry, url: str) -> tuple[Parts, str] | None:
    found = reader.extension(encounter.resource, url, encounter.path)
    return (Parts(reader, found[0], found[1]), found[1]) if found else None


def housing(reader: Reader, encounter: Entry) -> dict[str, Any] | None:
    """The canonical ``housing`` block from Extension-Hub-HousingNeed."""
    found = _parts(reader, encounter, codes.EXT_HOUSING)
    if found is None:
        return None
    parts, path = found
    parts.required("situation", path)
    out: dict[str, Any] = {"situation": parts.code("situation", codes.ACCOMMODATION_STATUSES)}
    authority = parts.code("chosenAuthority")
    if authority is not None:
        why = housing_authority_problem(authority)
        if why:
            where = parts.items["chosenAuthority"][0][1]
            reader.add(f"{where}.valueCode", why.replace(authority, "the code", 1))  # never the value sent
        else:
            out["chosen_authority_gss"] = authority
    out["details"] = parts.string("details", max_length=2000)
    needs = parts.strings("supportNeed")
    if needs:
        out["support_needs"] = needs
    out["urgent"] = parts.boolean("urgent")
    return {k: v for k, v in out.items() if v is not None}


def support(reader: Reader, encounter: Entry) -> dict[str, Any] | None:
    """The canonical ``support`` block from Extension-Hub-SupportNeed."""
    found = _parts(reader, encounter, codes.EXT_SUPPORT)
    if found is None:
        return None
    parts, path = found
    parts.required("need", path)
    out: dict[str, Any] = {
        "needs": parts.strings("need"),
        "risk_summary": parts.string("riskSummary", max_length=4000),
        "provider_id": _org_id(parts, "provider"),
    }
    return {k: v for k, v in out.items() if v is not None}


def employment(
    reader: Reader, encounter: Entry, bundle: MessageBundle, contact_of: Callable[[Entry], dict[str, Any]]
) -> dict[str, Any] | None:
    """The canonical ``employment`` block from Extension-Hub-Employment."""
    found = _parts(reader, encounter, codes.EXT_EMPLOYMENT)
    if found is None:
        return None
    parts, path = found
    parts.required("wantsWork", path)
    parts.required("consent", path)
    out: dict[str, Any] = {
        "wants_work": parts.boolean("wantsWork"),
        "consent": parts.boolean("consent"),
        "goal": parts.string("goal", max_length=1000),
        "current_status": parts.code("currentStatus", codes.EMPLOYMENT_STATUSES),
        "benefits_advice_needed": parts.boolean("benefitsAdviceNeeded"),
        "provider_id": _org_id(parts, "provider"),
    }
    preferences = parts.strings("jobPreference")
    if preferences:
        out["job_preferences"] = preferences
    coordinator = parts.reference("careCoordinator")
    if coordinator is not None:
        target = bundle.resolve(coordinator[0], coordinator[1], reader, expected=("Practitioner",))
        if target is not None:
            out["care_coordinator"] = contact_of(target)
    return {k: v for k, v in out.items() if v is not None}


def legal_status(reader: Reader, encounter: Entry) -> dict[str, Any] | None:
    """The canonical ``legal_status`` block from Extension-Hub-MentalHealthActStatus."""
    found = _parts(reader, encounter, codes.EXT_LEGAL_STATUS)
    if found is None:
        return None
    parts, _ = found
    out = {"mha_section": parts.string("section", max_length=20), "cto": parts.boolean("cto"),
           "s117": parts.boolean("s117")}  # fmt: skip
    return {k: v for k, v in out.items() if v is not None}


def consent(reader: Reader, bundle: MessageBundle) -> dict[str, Any] | None:
    """The canonical envelope ``consent`` from the Bundle's Consent resources (None when there are none).

    A Consent counts when its ``category`` has a coding from the hub's
    consent-kind system (``duty-to-refer`` or ``share-contact-details``); it is
    given when ``status`` is active and ``provision.type`` is permit. How and
    by whom it was recorded comes from Extension-Hub-ConsentRecord (method,
    recordedBy), when from ``dateTime``.
    """
    given: dict[str, bool] = {}
    record: dict[str, Any] = {}
    for entry in bundle.of_type("Consent"):
        resource, path = entry.resource, entry.path
        kinds = []
        for category, where in reader.many(resource, "category", path):
            for system, code, cwhere in reader.codings(category, where):
                if system == codes.CS_CONSENT_KIND:
                    if code in codes.CONSENT_KINDS:
                        kinds.append(codes.CONSENT_KINDS[code])
                    else:
                        reader.add(f"{cwhere}.code", "must be " + " or ".join(codes.CONSENT_KINDS))
        if not kinds:
            continue
        status = reader.string(resource, "status", path, required=True)
        provision = reader.obj(resource, "provision", path, required=True)
        permit = reader.string(provision, "type", f"{path}.provision", required=True) if provision else None
        if permit is not None and permit not in ("permit", "deny"):
            reader.add(f"{path}.provision.type", "must be permit or deny")
        for kind in kinds:
            given[kind] = status == "active" and permit == "permit"
        if not record:
            record["recorded_at"] = reader.instant(resource, "dateTime", path, required=True)
            found = reader.extension(resource, codes.EXT_CONSENT_RECORD, path)
            if found is None:
                reader.add(f"{path}.extension", f"required: the extension {codes.EXT_CONSENT_RECORD} (method, "
                                                "recordedBy)")  # fmt: skip
            else:
                parts = Parts(reader, found[0], found[1])
                parts.required("method", found[1])
                parts.required("recordedBy", found[1])
                record["method"] = parts.code("method", codes.CONSENT_METHODS)
                record["recorded_by"] = parts.string("recordedBy", max_length=200)
    if not given:
        return None
    out: dict[str, Any] = {"referral": given.get("referral", False), "share_contact": given.get("share_contact", False)}
    out.update({k: v for k, v in record.items() if v is not None})
    return out
