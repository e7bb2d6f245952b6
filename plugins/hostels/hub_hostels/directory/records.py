"""One service of an Open Referral UK (HSDS 3.0 UK profile) or HSDS 3.1 feed, read into what the hub keeps.

``read_service(document, where)`` takes one ``/services/{id}`` document (or one item of a ``/services`` page)
and returns a ``DirectoryService``; a document the hub cannot key or trust raises ``FeedError`` naming
``where`` and the field. What is kept: the feed's id, name, status, organisation, age range, taxonomy terms,
service areas, location postcodes and, from HSDS 3.1, ``capacities[]`` (``service_capacity``: ``unit``,
``available``, ``maximum``, ``updated``). ``digest`` is a hash of the document itself, so an import can tell
a changed service from an unchanged one without comparing fields.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

MAX_ID = 256
MAX_TEXT = 2000
#: HSDS ``service.status`` values that mean the service takes nobody now (HSDS 3: active, inactive, defunct,
#: temporarily closed); a service with one of these is kept but marked withdrawn
CLOSED_STATUSES = frozenset({"inactive", "defunct"})


class FeedError(ValueError):
    """A feed document the hub cannot use; ``str(exc)`` names where (page, service id, field) and why."""


@dataclass(frozen=True)
class Capacity:
    """One ``service_capacity``: places of one unit (beds, rooms...) available now, and at most."""

    unit: str
    available: float
    maximum: float | None
    updated: str | None
    description: str | None = None


@dataclass(frozen=True)
class DirectoryService:
    """What the hub keeps of one feed service (no personal data: services, not people)."""

    id: str
    name: str
    status: str
    organization_id: str | None = None
    organization_name: str | None = None
    minimum_age: float | None = None
    maximum_age: float | None = None
    terms: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    postcodes: tuple[str, ...] = ()
    capacities: tuple[Capacity, ...] = ()
    last_modified: str | None = None
    digest: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def closed(self) -> bool:
        """True when the feed itself says the service takes nobody (``status`` inactive or defunct)."""
        return self.status.casefold() in CLOSED_STATUSES

    def summary(self) -> dict[str, Any]:
        """The JSON the directory keeps for this service (everything but the digest)."""
        data = asdict(self)
        data.pop("digest")
        data.pop("extra")
        return data

    @classmethod
    def from_summary(cls, data: dict[str, Any], digest: str) -> DirectoryService:
        """Rebuild from ``summary()`` (as the directory database returns it)."""
        values = dict(data)
        values["capacities"] = tuple(Capacity(**c) for c in values.get("capacities", ()))
        for name in ("terms", "areas", "postcodes"):
            values[name] = tuple(values.get(name, ()))
        return cls(**values, digest=digest)


MAX_NESTING = 64


def loads_feed_json(data: bytes | str) -> Any:
    """A feed document read from JSON; ``ValueError`` saying why when it is not JSON or is nested deeper than
    ``MAX_NESTING`` arrays and objects (Python's reader would fail with a ``RecursionError`` somewhere past a
    thousand, and the digest and the reading of services walk the document again)."""
    try:
        document = json.loads(data)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_NESTING} arrays and objects") from None
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_NESTING:
                raise ValueError(f"nested deeper than {MAX_NESTING} arrays and objects")
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
    return document


def document_digest(document: Any) -> str:
    """SHA-256 of the document's canonical JSON (sorted keys): equal documents, equal digests."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def service_id(item: Any, where: str) -> str:
    """The feed's id of one listed service; ``FeedError`` when it has none the hub can key on."""
    if not isinstance(item, dict):
        raise FeedError(f"{where}: a service must be a JSON object, not {type(item).__name__}")
    value = item.get("id")
    if not isinstance(value, str) or not value.strip():
        raise FeedError(f"{where}: the service has no id (a non-empty string), so it cannot be kept")
    if len(value) > MAX_ID or any(ch in value for ch in "/?#\x00") or value != value.strip():
        raise FeedError(f"{where}: the service id is not usable as a key (over {MAX_ID} characters, "
                        "surrounding spaces, or '/', '?', '#')")  # fmt: skip
    return value


def _text(value: Any, where: str, name: str, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise FeedError(f"{where}: {name} is missing")
        return None
    if not isinstance(value, str):
        raise FeedError(f"{where}: {name} must be a string, not {type(value).__name__}")
    return value[:MAX_TEXT]


def _number(value: Any, where: str, name: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):  # the HSDS examples write numbers as strings ("12"); tabular feeds do too
        try:
            value = float(value)
        except ValueError:
            raise FeedError(f"{where}: {name} must be a number, not {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FeedError(f"{where}: {name} must be a finite number")
    return float(value)


def _timestamp(value: Any, where: str, name: str) -> str | None:
    text = _text(value, where, name)
    if text is None:
        return None
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FeedError(f"{where}: {name} must be an ISO 8601 date-time, not {text[:40]!r}") from None
    return text


def _list(value: Any, where: str, name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise FeedError(f"{where}: {name} must be an array")
    return value


def _capacities(document: dict[str, Any], where: str) -> tuple[Capacity, ...]:
    found = []
    for index, item in enumerate(_list(document.get("capacities"), where, "capacities")):
        at = f"{where}: capacities[{index}]"
        if not isinstance(item, dict):
            raise FeedError(f"{at} must be an object")
        available = _number(item.get("available"), at, "available")
        if available is None:
            raise FeedError(f"{at}: available is missing")
        if available < 0:
            raise FeedError(f"{at}: available must not be negative")
        unit = item.get("unit")
        unit_name = (unit.get("name") or unit.get("identifier") or unit.get("id")) if isinstance(unit, dict) else None
        unit_name = unit_name or item.get("unit_id") or "place"
        found.append(Capacity(
            unit=str(unit_name)[:200],
            available=available,
            maximum=_number(item.get("maximum"), at, "maximum"),
            updated=_timestamp(item.get("updated"), at, "updated"),
            description=_text(item.get("description"), at, "description"),
        ))  # fmt: skip
    return tuple(found)


def _terms(document: dict[str, Any], where: str) -> tuple[str, ...]:
    terms: list[str] = []
    for item in _list(document.get("attributes"), where, "attributes"):
        term = item.get("taxonomy_term") if isinstance(item, dict) else None
        if not isinstance(term, dict):
            continue
        for key in ("code", "term", "name"):
            value = term.get(key)
            if isinstance(value, str) and value.strip() and value.strip().casefold() not in terms:
                terms.append(value.strip().casefold())
    return tuple(terms)


def _areas(document: dict[str, Any], where: str) -> tuple[str, ...]:
    areas: list[str] = []
    places = [document, *[s for s in _list(document.get("service_at_locations"), where, "service_at_locations")
                          if isinstance(s, dict)]]  # fmt: skip
    for place in places:
        for area in _list(place.get("service_areas"), where, "service_areas"):
            if isinstance(area, dict):
                text = area.get("service_area") or area.get("name")
                if isinstance(text, str) and text.strip() and text.strip()[:MAX_TEXT] not in areas:
                    areas.append(text.strip()[:MAX_TEXT])
    return tuple(areas)


def _postcodes(document: dict[str, Any], where: str) -> tuple[str, ...]:
    postcodes: list[str] = []
    for place in _list(document.get("service_at_locations"), where, "service_at_locations"):
        location = place.get("location") if isinstance(place, dict) else None
        if not isinstance(location, dict):
            continue
        for address in _list(location.get("addresses"), where, "location.addresses"):
            code = address.get("postal_code") if isinstance(address, dict) else None
            if isinstance(code, str) and code.strip() and code.strip().upper() not in postcodes:
                postcodes.append(code.strip().upper())
    return tuple(postcodes)


def read_service(document: Any, where: str) -> DirectoryService:
    """Read one HSDS service document; ``FeedError`` naming ``where`` when it cannot be used."""
    ident = service_id(document, where)
    at = f"{where} (service {ident})"
    organization = document.get("organization")
    organization = organization if isinstance(organization, dict) else {}
    status = _text(document.get("status"), at, "status") or "active"
    return DirectoryService(
        id=ident,
        name=_text(document.get("name"), at, "name", required=True) or "",
        status=status.strip().casefold(),
        organization_id=_text(organization.get("id") or document.get("organization_id"), at, "organization.id"),
        organization_name=_text(organization.get("name"), at, "organization.name"),
        minimum_age=_number(document.get("minimum_age"), at, "minimum_age"),
        maximum_age=_number(document.get("maximum_age"), at, "maximum_age"),
        terms=_terms(document, at),
        areas=_areas(document, at),
        postcodes=_postcodes(document, at),
        capacities=_capacities(document, at),
        last_modified=_timestamp(document.get("last_modified"), at, "last_modified"),
        digest=document_digest(document),
    )
