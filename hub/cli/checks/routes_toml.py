"""The checker of ``routes.toml``: each ``[[route]]`` on its own, its transform, and route names used twice.

Routes are checked against the partners that parsed (``context.found["partners"]``), so a route naming a
partner whose entry is wrong is reported too. The routes that parse are shared as ``context.found["routes"]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hub.cli.checks import CheckContext, Finding, config_check, each_problem, suggest
from hub.sections import Section

FILE = "routes.toml"


@config_check(FILE, order=30)
def check_routes_toml(context: CheckContext) -> Iterator[Finding]:
    """Every problem of each route, each unregistered or mismatched transform, each name used twice."""
    from hub.partners import PartnerDirectory
    from hub.routes import Route, parse_route

    data, problems = context.read_toml(FILE)
    yield from problems
    if data is None:
        return
    plugins = context.plugins
    partners = context.found.get("partners") or PartnerDirectory.build([], [], {})
    for key in data:
        if key != "route":
            yield Finding(FILE, f"[{key}]", "unknown table", suggest(key, ("route",), "tables"))
    raw_routes = data.get("route", [])
    pools = [*plugins.message_types, *plugins.vocabulary.destinations, *plugins.vocabulary.code_fields,
             *partners.partners]  # fmt: skip
    routes: list[Route] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_routes if isinstance(raw_routes, list) else [raw_routes]):
        prefix = f"route[{index}]"

        def read_route(entry: Any, where: str = prefix) -> Route:
            return parse_route(Section(FILE, where, entry), partners, plugins.vocabulary)

        route, findings = each_problem(read_route, raw, FILE, prefix, pools)
        for finding in findings:
            broken = [pid for pid in context.found.get("broken_partners", ()) if f"'{pid}'" in finding.problem]
            if broken:  # the partner is there, but its entry did not parse: say so, not "no such partner"
                finding = Finding(FILE, finding.entry, f"names partner {broken[0]!r}, whose entry in partners.toml "
                                  "has a problem (listed above)", "fix that entry first")  # fmt: skip
            yield finding
        if route is None:
            continue
        routes.append(route)
        if route.name in seen:
            first = seen[route.name]
            yield Finding(FILE, f"route[{index}].name", f"{route.name!r} is already the name of route[{first}]",
                          "give each route a name of its own")  # fmt: skip
        seen.setdefault(route.name, index)
        if route.transform is not None:
            transform = plugins.transforms.get(route.transform)
            if transform is None:
                yield Finding(FILE, f"route[{index}].transform",
                              f"{route.transform!r} is not a transform a loaded plugin registers",
                              suggest(route.transform, plugins.transforms, "transforms"))  # fmt: skip
            elif transform.source_type != route.type:
                takes = sorted(t.name for t in plugins.transforms.values() if t.source_type == route.type)
                yield Finding(FILE, f"route[{index}].transform", f"{route.transform!r} derives from "
                              f"{transform.source_type}, but this route takes {route.type}",
                              f"transforms of {route.type}: {', '.join(takes) or 'none'}")  # fmt: skip
    context.found["routes"] = routes
