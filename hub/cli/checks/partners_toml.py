"""The checker of ``partners.toml``: each ``[[partner]]`` and ``[[operator]]`` on its own, then them together.

Beyond what loading checks (kinds, codes, keys, agreements' types), a partner's ``adapter`` and
``receive.transport`` must be ones a loaded plugin registers. The partners that parse are shared with the
checkers after this one as ``context.found["partners"]``, and the ids of those that do not as
``context.found["broken_partners"]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hub.cli.checks import CheckContext, Finding, config_check, each_problem, from_error, suggest
from hub.plugin_api.problems import ConfigError
from hub.sections import Section

FILE = "partners.toml"


@config_check(FILE, order=20)
def check_partners_toml(context: CheckContext) -> Iterator[Finding]:
    """Every problem of each entry, each unregistered adapter or transport, and each clash between entries."""
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
        prefix = f"partner[{index}]"

        def read_partner(entry: Any, where: str = prefix) -> tuple[Partner, tuple[str, ...]]:
            return parse_partner(Section(FILE, where, entry), context.config_dir, plugins.vocabulary)

        parsed, findings = each_problem(read_partner, raw, FILE, prefix, pools)
        yield from findings
        yield from _names(plugins, prefix, raw)
        if parsed is None:
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                context.found.setdefault("broken_partners", set()).add(raw["id"])
            continue
        partner, digests = parsed
        partners.append(partner)
        tokens[partner.id] = digests
    operators: list[Operator] = []
    for index, raw in enumerate(_entries(data, "operator")):
        prefix = f"operator[{index}]"

        def read_operator(entry: Any, where: str = prefix) -> Operator:
            return parse_operator(Section(FILE, where, entry))

        operator, findings = each_problem(read_operator, raw, FILE, prefix)
        yield from findings
        if operator is not None:
            operators.append(operator)
    try:
        context.found["partners"] = PartnerDirectory.build(partners, operators, tokens)
    except ConfigError as exc:
        yield from_error(str(exc), FILE)
        context.found["partners"] = PartnerDirectory.build([], [], {})


def _names(plugins: Any, prefix: str, raw: Any) -> Iterator[Finding]:
    """The entry's ``adapter`` and pushed ``receive.transport``, if named, against what the plugins register."""
    if not isinstance(raw, dict):
        return
    adapter = raw.get("adapter")
    if isinstance(adapter, str) and adapter not in plugins.adapters:
        yield Finding(FILE, f"{prefix}.adapter", f"{adapter!r} is not an adapter a loaded plugin registers",
                      suggest(adapter, plugins.adapters, "adapters"))  # fmt: skip
    receive = raw.get("receive")
    if not isinstance(receive, dict) or receive.get("mode") != "push":
        return
    transport = receive.get("transport", "http")
    if isinstance(transport, str) and transport not in plugins.transports:
        yield Finding(FILE, f"{prefix}.receive.transport", f"{transport!r} is not a transport a loaded plugin "
                      "registers", suggest(transport, plugins.transports, "transports"))  # fmt: skip


def _entries(data: dict[str, object], key: str) -> list[object]:
    value = data.get(key, [])
    return value if isinstance(value, list) else [value]
