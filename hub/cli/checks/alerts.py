"""The checker of ``hub.toml``'s ``[alerts]``: its own values, each webhook, the mail server and each threshold on its
own (every problem of each), names used twice, thresholds without anywhere to send, and the partners thresholds name
among those ``partners.toml`` declares (with the nearest name as a suggestion)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from hub.cli.checks import CheckContext, Finding, config_check, each_problem, suggest

FILE = "hub.toml"
LISTS = ("webhooks", "thresholds")


@config_check(FILE, order=45)  # after partners.toml (20): thresholds name partners
def check_alerts(context: CheckContext) -> Iterator[Finding]:
    """Every problem of ``[alerts]``."""
    from hub.alert_settings import EACH_PARTNER, parse_alerts, parse_smtp, parse_threshold, parse_webhook

    data = context.found.get("hub_toml")
    raw = data.get("alerts") if isinstance(data, dict) else None
    if raw is None:
        return
    if not isinstance(raw, dict):
        yield Finding(FILE, "[alerts]", "must be a table", "write [alerts] with [[alerts.webhooks]] or [alerts.smtp]")
        return
    for key in LISTS:
        if key in raw and not isinstance(raw[key], list):
            yield Finding(FILE, f"alerts.{key}", "must be a list of tables", f"write each as [[alerts.{key}]]")
    top = {k: v for k, v in raw.items() if k not in (*LISTS, "smtp")}
    _, findings = each_problem(lambda d: parse_alerts(FILE, d, context.config_dir), top, FILE, "alerts")
    yield from findings
    webhooks = _entries(raw, "webhooks")
    names: dict[str, int] = {}
    for index, entry in enumerate(webhooks):
        prefix = f"alerts.webhooks[{index}]"
        _, findings = each_problem(partial(parse_webhook, FILE, index), entry, FILE, prefix)
        yield from findings
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name in names:
            yield Finding(FILE, f"{prefix}.name", f"{name!r} is used by alerts.webhooks[{names[name]}] too",
                          "give each webhook a name of its own")  # fmt: skip
        elif isinstance(name, str):
            names[name] = index
    smtp = raw.get("smtp")
    if smtp is not None:
        _, findings = each_problem(lambda e: parse_smtp(FILE, e, context.config_dir), smtp, FILE, "alerts.smtp")
        yield from findings
    thresholds = _entries(raw, "thresholds")
    if thresholds and not webhooks and smtp is None:
        yield Finding(FILE, "alerts.thresholds", "thresholds are set but no webhook or smtp says where alerts go",
                      "add [[alerts.webhooks]] or [alerts.smtp]")  # fmt: skip
    partners = context.found.get("partners")
    known = set(partners.partners) if partners is not None else None
    for index, entry in enumerate(thresholds):
        prefix = f"alerts.thresholds[{index}]"
        _, findings = each_problem(partial(parse_threshold, FILE, index), entry, FILE, prefix)
        yield from findings
        partner = entry.get("partner") if isinstance(entry, dict) else None
        if isinstance(partner, str) and partner != EACH_PARTNER and known is not None and partner not in known:
            yield Finding(FILE, f"{prefix}.partner", f"{partner!r} is not a partner of partners.toml",
                          suggest(partner, known, "partners"))  # fmt: skip


def _entries(raw: dict[str, Any], key: str) -> list[Any]:
    value = raw.get(key, [])
    return value if isinstance(value, list) else []
