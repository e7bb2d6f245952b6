"""The providers' capacity API, served by ``hub serve`` under ``/plugins/hostels``.

- ``PUT /plugins/hostels/services/{service_id}/capacity``: a provider records how many places one of its
  services has, in HSDS 3.1's ``service_capacity`` shape::

      {"unit": {"name": "bed"}, "available": 3, "maximum": 12, "updated": "2026-12-03T09:00:00Z",
       "description": "Beds for people leaving hospital"}

  Only the partner ``[[plugins.hostels.service]]`` links the service to may do it; for any other caller the
  service does not exist (404, the same answer as for an unknown id, so nobody learns another provider's
  services). ``available`` is required (a number, 0 or more, at most the link's ``maximum`` when it has one);
  ``unit`` may be an object with ``name`` or a string (default: the link's ``unit``, else ``place``);
  ``updated`` defaults to now. The answer is the service as ``GET`` shows it.
- ``GET /plugins/hostels/services``: a provider's own linked services (an operator's: every linked service),
  each with its capacity figures, where they came from (``feed``, ``partner:ID``) and how old they are.
- ``GET /plugins/hostels/services/{service_id}``: one of them.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from hub import Authenticated, HubError, InvalidMessage, PartnerCaller, Problem
from hub_hostels.directory.database import database_url, now, open_directory
from hub_hostels.directory.links import DirectorySettings, ServiceLink
from hub_hostels.directory.records import Capacity
from hub_hostels.directory.view import describe
from hub_hostels.problem_responses import problems

MAX_UNIT = 200


class ServiceNotFound(HubError):
    """No such service for this caller (unknown, not linked, or another provider's: not distinguished)."""

    status = 404
    title = "Not found"


class DirectoryMisconfigured(HubError):
    """``[plugins.hostels]`` in hub.toml cannot be used; the detail names the key (an operator must fix it)."""

    status = 500
    title = "The hub's directory settings cannot be used"


def _context(request: Request) -> tuple[str, DirectorySettings]:
    config = request.app.state.hub.config
    try:
        return database_url(config.settings), DirectorySettings.from_settings(config.settings, config.partners)
    except ValueError as exc:  # LinkError is a ValueError
        raise DirectoryMisconfigured(str(exc)) from None


def _visible(links: DirectorySettings, caller_id: str, is_operator: bool) -> list[ServiceLink]:
    return list(links.links) if is_operator else links.for_partner(caller_id)


def read_capacity(body: Any, link: ServiceLink) -> Capacity:
    """A ``service_capacity`` body as a ``Capacity``; ``InvalidMessage`` listing every problem otherwise."""
    problems: list[Problem] = []
    if not isinstance(body, dict):
        raise InvalidMessage("the body must be a service_capacity object", [Problem("/", "must be an object")])
    allowed = {"id", "service_id", "unit", "unit_id", "available", "maximum", "description", "updated"}
    for key in sorted(set(body) - allowed):
        problems.append(Problem(f"/{key}", f"not a field of service_capacity ({', '.join(sorted(allowed))})"))
    available, maximum = body.get("available"), body.get("maximum")
    for name, value, required in (("available", available, True), ("maximum", maximum, False)):
        if value is None:
            if required:
                problems.append(Problem(f"/{name}", "required: the number of places available now"))
        elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            problems.append(Problem(f"/{name}", "must be a number, 0 or more"))
    unit = body.get("unit")
    unit_name = unit.get("name") if isinstance(unit, dict) else unit
    if unit_name is None:
        unit_name = link.unit or "place"
    if not isinstance(unit_name, str) or not unit_name.strip() or len(unit_name) > MAX_UNIT:
        problems.append(Problem("/unit", f"an object with a name (or a string) of 1 to {MAX_UNIT} characters"))
        unit_name = "place"
    elif link.unit is not None and unit_name.strip().casefold() != link.unit.casefold():
        problems.append(Problem("/unit/name", f"this service's capacity is counted in {link.unit!r}"))
    updated = body.get("updated")
    if updated is not None:
        try:
            if not isinstance(updated, str):
                raise ValueError
            moment = datetime.fromisoformat(updated.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError
        except ValueError:
            problems.append(Problem("/updated", "an ISO 8601 date-time with a time zone"))
    if not problems and isinstance(available, int | float):
        if link.maximum is not None and available > link.maximum:
            problems.append(Problem("/available", f"above this service's maximum ({link.maximum:g} in hub.toml)"))
        if isinstance(maximum, int | float) and available > maximum:
            problems.append(Problem("/available", "above the maximum given"))
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 2000):
        problems.append(Problem("/description", "a string of at most 2000 characters"))
    if problems or not isinstance(available, int | float):
        raise InvalidMessage("the capacity was not recorded", problems)
    stamp = updated or datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Capacity(unit_name.strip(), float(available), None if maximum is None else float(maximum), stamp,
                    description)  # fmt: skip


def _show(url: str, links: DirectorySettings, link: ServiceLink) -> dict[str, Any]:
    database = open_directory(url)
    try:
        stored = database.get(link.service_id)
        capacities = database.capacities(link.service_id)
    finally:
        database.close()
    if stored is None:
        return {"id": link.service_id, "in_directory": False, "capacities": [
            {"unit": c.capacity.unit, "available": c.capacity.available, "maximum": c.capacity.maximum,
             "updated": c.capacity.updated, "source": c.source, "recorded_at": c.recorded_at,
             "age_seconds": round(max(0.0, now() - c.recorded_at), 1)} for c in capacities],
            "link": {"partner": link.partner}}  # fmt: skip
    return {**describe(stored, capacities, link, links, now()), "in_directory": True}


def _record(url: str, service_id: str, capacity: Capacity, source: str) -> None:
    database = open_directory(url)
    try:
        database.set_capacity(service_id, capacity, source, now())
    finally:
        database.close()


def build_router() -> APIRouter:
    """The capacity API's routes (see the module's docstring)."""
    router = APIRouter()

    def own_link(links: DirectorySettings, service_id: str, caller_id: str, is_operator: bool) -> ServiceLink:
        link = links.link(service_id)
        if link is None or (not is_operator and link.partner != caller_id):
            raise ServiceNotFound("no such service among yours")
        return link

    @router.get(
        "/services", summary="The caller's linked services with capacity and its freshness", responses=problems(401)
    )
    async def list_services(request: Request, caller: Authenticated) -> dict[str, Any]:
        url, links = _context(request)
        visible = _visible(links, caller.id, caller.is_operator)
        services = [await asyncio.to_thread(_show, url, links, link) for link in visible]
        return {"services": services}

    @router.get("/services/{service_id}", summary="One of the caller's linked services", responses=problems(401, 404))
    async def show_service(request: Request, service_id: str, caller: Authenticated) -> dict[str, Any]:
        url, links = _context(request)
        link = own_link(links, service_id, caller.id, caller.is_operator)
        return await asyncio.to_thread(_show, url, links, link)

    @router.put(
        "/services/{service_id}/capacity",
        summary="Record a service's capacity (HSDS service_capacity)",
        responses=problems(400, 401, 403, 404, 422),
    )
    async def put_capacity(
        request: Request, service_id: str, caller: PartnerCaller, body: Annotated[Any, Body()]
    ) -> dict[str, Any]:
        url, links = _context(request)
        link = own_link(links, service_id, caller.id, False)
        capacity = read_capacity(body, link)
        await asyncio.to_thread(_record, url, service_id, capacity, f"partner:{caller.id}")
        return await asyncio.to_thread(_show, url, links, link)

    return router
