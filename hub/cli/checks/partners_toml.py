"""The checker of ``partners.toml``: each ``[[partner]]`` and ``[[operator]]`` on its own, then them together.

Beyond what loading checks (kinds, codes, keys, agreements' types), a partner's ``adapter`` and
``receive.transport`` must be ones a loaded plugin registers. The partners that parse are shared with the
checkers after this one as ``context.found["partners"]``, and the ids of those that do not as
``context.found["broken_partners"]``.
"""

from __future__ import annotations

from collections.abc import Iterator

from hub.cli.checks import CheckContext, Finding, config_check, from_error, suggest
from hub.plugin_api.problems import ConfigError
from hub.sections import Section

FILE = "partners.toml"


@config_check(FILE, order=20)
def check_partners_toml(context: CheckContext) -> Iterator[Finding]:
    """One finding per bad entry (its first problem), per unregistered adapter or transport, and per clash."""
    from hub.partners import Operator, Partner, PartnerDirectory, parse_operator, parse_partner

    data, problems = context.read_toml(FILE)
    yield from problems
    if data is None:
        return
    plugins = context.plugins
    for key in data:
        if key not in ("partner", "operator"):
            yield Finding(FILE, f"[{key}]", "unknown table", suggest(key, ("partner", "operator"), "tables"))
    pools = [*plugins.vocabulary.partner_kinds, *plugins.vocabulary.code_fields, *plugins.message_types]
    partners: list[Partner] = []
    tokens: dict[str, tuple[str, ...]] = {}
    for index, raw in enumerate(_entries(data, "partner")):
        entry = f"partner[{index}]" + (f" ({raw['id']})" if isinstance(raw, dict) and "id" in raw else "")
        try:
            partner, digests = parse_partner(Section(FILE, f"partner[{index}]", raw), context.config_dir,
                                             plugins.vocabulary)  # fmt: skip
        except ConfigError as exc:
            finding = from_error(str(exc), FILE, pools)
            yield Finding(FILE, finding.entry or entry, finding.problem, finding.suggestion)
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                context.found.setdefault("broken_partners", set()).add(raw["id"])
            continue
        partners.append(partner)
        tokens[partner.id] = digests
        if partner.adapter is not None and partner.adapter not in plugins.adapters:
            yield Finding(FILE, f"partner[{index}].adapter", f"{partner.adapter!r} is not an adapter a loaded "
                          "plugin registers", suggest(partner.adapter, plugins.adapters, "adapters"))  # fmt: skip
        transport = partner.receive.transport
        if partner.receive.mode == "push" and transport not in plugins.transports:
            yield Finding(FILE, f"partner[{index}].receive.transport", f"{transport!r} is not a transport a "
                          "loaded plugin registers", suggest(transport, plugins.transports, "transports"))  # fmt: skip
    operators: list[Operator] = []
    for index, raw in enumerate(_entries(data, "operator")):
        try:
            operators.append(parse_operator(Section(FILE, f"operator[{index}]", raw)))
        except ConfigError as exc:
            yield from_error(str(exc), FILE)
    try:
        context.found["partners"] = PartnerDirectory.build(partners, operators, tokens)
    except ConfigError as exc:
        yield from_error(str(exc), FILE)
        context.found["partners"] = PartnerDirectory.build([], [], {})


def _entries(data: dict[str, object], key: str) -> list[object]:
    value = data.get(key, [])
    return value if isinstance(value, list) else [value]
