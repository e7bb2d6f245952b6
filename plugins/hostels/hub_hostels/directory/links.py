"""Which directory services the hub refers to, the partner that receives each one's referrals, and who fits.

Read from ``hub.toml``::

    [plugins.hostels]
    needs_from_terms = { "mental health" = "mental_health", "substance misuse" = "substance_use" }

    [[plugins.hostels.service]]
    id = "ac148810-d857-441c-9679-408f346de14b"   # the feed's id of the service
    partner = "hostel-luton"                       # a partner of partners.toml that receives its referrals
    minimum_age = 18                               # optional; else the feed's minimum_age
    maximum_age = 65                               # optional; else the feed's maximum_age
    genders = ["female"]                           # optional (FHIR administrative gender); absent: any
    needs = ["mental_health", "wheelchair_access"] # what it supports, besides needs read from its terms
    areas = ["E06000032", "LU1", "LU2"]            # local authorities (GSS) or postcode districts; absent: any
    unit = "bed"                                   # optional: the capacity unit it is matched on
    maximum = 12                                   # optional: places at most (a provider's figure may not exceed it)

``ServiceLink.from_settings`` refuses anything else with the key's path, so a typo never widens eligibility.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: the needs a referral may name and a service may support (docs/partners/hostels.md explains each)
NEEDS = (
    "mental_health",
    "substance_use",
    "alcohol",
    "offending_history",
    "wheelchair_access",
    "learning_disability",
    "domestic_abuse",
    "young_person",
    "high_support",
    "pets",
)
GENDERS = ("male", "female", "other", "unknown")
GSS = re.compile(r"^E0[6-9]\d{6}$")
DISTRICT = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?$")
_KEYS = {"id", "partner", "minimum_age", "maximum_age", "genders", "needs", "areas", "unit", "maximum"}


class LinkError(ValueError):
    """A ``[[plugins.hostels.service]]`` entry that cannot be used; the text names the key."""


def postcode_district(postcode: str) -> str | None:
    """The outward code (``LU1`` of ``LU1 3JU``), or None when ``postcode`` has no UK postcode shape."""
    compact = re.sub(r"\s+", "", postcode.upper())
    match = re.fullmatch(r"([A-Z]{1,2}\d[A-Z\d]?)(\d[A-Z]{2})", compact)
    return match.group(1) if match else None


@dataclass(frozen=True)
class ServiceLink:
    """One directory service linked to the partner that receives its referrals, with its eligibility."""

    service_id: str
    partner: str
    minimum_age: float | None = None
    maximum_age: float | None = None
    genders: frozenset[str] | None = None
    needs: frozenset[str] = frozenset()
    areas: frozenset[str] | None = None
    unit: str | None = None
    maximum: float | None = None

    @classmethod
    def from_table(cls, table: Any, where: str) -> ServiceLink:
        """Read one ``[[plugins.hostels.service]]`` table; ``LinkError`` naming ``where.KEY`` otherwise."""
        if not isinstance(table, dict):
            raise LinkError(f"{where}: must be a table")
        unknown = sorted(set(table) - _KEYS)
        if unknown:
            raise LinkError(f"{where}.{unknown[0]}: not a key of a service link (keys: {', '.join(sorted(_KEYS))})")
        for key in ("id", "partner"):
            if not isinstance(table.get(key), str) or not table[key].strip():
                raise LinkError(f"{where}.{key}: required, a non-empty string")
        ages = {}
        for key in ("minimum_age", "maximum_age", "maximum"):
            value = table.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
                raise LinkError(f"{where}.{key}: must be a number, 0 or more")
            ages[key] = None if value is None else float(value)
        low, high = ages["minimum_age"], ages["maximum_age"]
        if low is not None and high is not None and low > high:
            raise LinkError(f"{where}.minimum_age: is above maximum_age")
        genders = _words(table, "genders", where, GENDERS)
        needs = _words(table, "needs", where, NEEDS)
        areas = None
        if "areas" in table:
            raw = table["areas"]
            if not isinstance(raw, list) or not raw or not all(isinstance(a, str) for a in raw):
                raise LinkError(f"{where}.areas: a non-empty list of GSS codes (E06-E09) or postcode districts")
            areas = frozenset(a.strip().upper() for a in raw)
            bad = sorted(a for a in areas if not GSS.match(a) and not DISTRICT.match(a))
            if bad:
                raise LinkError(f"{where}.areas: {bad[0]!r} is neither a housing authority's GSS code (E06-E09) "
                                "nor a postcode district such as LU1")  # fmt: skip
        unit = table.get("unit")
        if unit is not None and (not isinstance(unit, str) or not unit.strip()):
            raise LinkError(f"{where}.unit: a non-empty string such as 'bed'")
        return cls(table["id"], table["partner"], ages["minimum_age"], ages["maximum_age"], genders,
                   needs or frozenset(), areas, unit, ages["maximum"])  # fmt: skip


def _words(table: dict[str, Any], key: str, where: str, allowed: tuple[str, ...]) -> frozenset[str] | None:
    if key not in table:
        return None
    raw = table[key]
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise LinkError(f"{where}.{key}: a list of strings")
    values = frozenset(v.strip().lower() for v in raw)
    bad = sorted(values - set(allowed))
    if bad:
        raise LinkError(f"{where}.{key}: {bad[0]!r} is not one of {', '.join(allowed)}")
    return values


@dataclass(frozen=True)
class DirectorySettings:
    """The hostels plugin's directory settings: service links and the taxonomy-term -> need mapping."""

    links: tuple[ServiceLink, ...] = ()
    needs_from_terms: dict[str, str] | None = None

    def link(self, service_id: str) -> ServiceLink | None:
        """The link of one service, or None."""
        return next((link for link in self.links if link.service_id == service_id), None)

    def for_partner(self, partner: str) -> list[ServiceLink]:
        """The services a partner receives referrals for (and may update capacity of)."""
        return [link for link in self.links if link.partner == partner]

    def needs_of(self, link: ServiceLink, terms: tuple[str, ...]) -> frozenset[str]:
        """What a service supports: its link's ``needs`` and the needs its taxonomy terms map to."""
        mapped = {self.needs_from_terms[t] for t in terms if self.needs_from_terms and t in self.needs_from_terms}
        return link.needs | frozenset(mapped)

    @classmethod
    def from_settings(cls, settings: Any, partners: Any = None) -> DirectorySettings:
        """Read ``[plugins.hostels]``; ``LinkError`` naming the key when anything is wrong.

        With ``partners`` (the hub's partner directory, ``get(id)``), a link to a partner that does not
        exist is refused too.
        """
        table = (getattr(settings, "plugin_settings", {}) or {}).get("hostels", {}) or {}
        where = "hub.toml: plugins.hostels"
        raw_links = table.get("service", [])
        if not isinstance(raw_links, list):
            raise LinkError(f"{where}.service: must be an array of tables ([[plugins.hostels.service]])")
        links = tuple(ServiceLink.from_table(t, f"{where}.service[{i}]") for i, t in enumerate(raw_links))
        seen: set[str] = set()
        for index, link in enumerate(links):
            if link.service_id in seen:
                raise LinkError(f"{where}.service[{index}].id: {link.service_id!r} is linked twice")
            seen.add(link.service_id)
            if partners is not None and partners.get(link.partner) is None:
                raise LinkError(f"{where}.service[{index}].partner: {link.partner!r} is not a partner")
        mapping = table.get("needs_from_terms")
        if mapping is not None:
            if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
                raise LinkError(f"{where}.needs_from_terms: a table of taxonomy term -> need")
            bad = sorted(v for v in mapping.values() if v not in NEEDS)
            if bad:
                raise LinkError(f"{where}.needs_from_terms: {bad[0]!r} is not one of {', '.join(NEEDS)}")
            mapping = {str(k).strip().casefold(): v for k, v in mapping.items()}
        return cls(links, mapping)
