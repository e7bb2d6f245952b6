"""The checker of data-sharing agreements (``[partner.agreement]`` in ``partners.toml``) against the routes.

A route whose destination is one named partner (``to = "partner-id"``) and whose delivered type (the
transform's target, else the route's type) that partner's agreement does not allow would have every
delivery refused at run time: it is reported here, before any message is.
"""

from __future__ import annotations

from collections.abc import Iterator

from hub.cli.checks import CheckContext, Finding, config_check

FILE = "partners.toml"


@config_check("agreements", order=40)
def check_agreements(context: CheckContext) -> Iterator[Finding]:
    """A finding per route sending a named partner a type its agreement leaves out."""
    partners = context.found.get("partners")
    if partners is None:
        return
    for route in context.found.get("routes", []):
        transform = context.plugins.transforms.get(route.transform) if route.transform else None
        delivered = transform.target_type if transform is not None else route.type
        for destination in route.to:
            partner_id = dict(destination.options).get("id") if destination.kind == "partner" else None
            partner = partners.get(partner_id) if isinstance(partner_id, str) else None
            if partner is None or partner.agreement is None or partner.agreement.allows_type(delivered):
                continue
            allowed = ", ".join(sorted(partner.agreement.types))
            yield Finding(FILE, f"partner {partner.id!r} agreement.types",
                          f"route {route.name!r} sends it {delivered}, which its agreement does not allow "
                          f"(it allows {allowed})",
                          f"add {delivered!r} to its agreement.types, or send the route elsewhere")  # fmt: skip
