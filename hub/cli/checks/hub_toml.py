"""The checker of ``hub.toml``: its tables, the names it gives (message types, key provider, listeners), its values."""

from __future__ import annotations

from collections.abc import Iterator

from hub.cli.checks import CheckContext, Finding, config_check, from_error, suggest
from hub.plugin_api.problems import ConfigError

FILE = "hub.toml"
TABLES = ("server", "store", "delivery", "retry", "keys", "retention", "listeners", "plugins", "metrics")


@config_check(FILE, order=10)
def check_hub_toml(context: CheckContext) -> Iterator[Finding]:
    """Every unknown table and unregistered name, then the first bad value ``load_settings`` refuses."""
    from hub.config import load_settings

    data, problems = context.read_toml(FILE, required=False)
    yield from problems
    if data is None:
        return
    plugins = context.plugins
    named = False
    for table in data:
        if table not in TABLES:
            named = True
            yield Finding(FILE, f"[{table}]", "unknown table", suggest(table, TABLES, "tables"))
    retention = data.get("retention")
    if isinstance(retention, dict):
        for message_type in retention:
            if message_type not in plugins.message_types:
                named = True
                yield Finding(FILE, f"retention.{message_type}", "not a message type a loaded plugin registers",
                              suggest(message_type, plugins.message_types, "message types"))  # fmt: skip
    keys = data.get("keys")
    provider = keys.get("provider") if isinstance(keys, dict) else None
    if isinstance(provider, str) and provider not in plugins.key_providers:
        yield Finding(FILE, "keys.provider", f"{provider!r} is not a key provider a loaded plugin registers",
                      suggest(provider, plugins.key_providers, "key providers"))  # fmt: skip
    listeners = data.get("listeners")
    if isinstance(listeners, dict):
        for name in listeners:
            if name not in plugins.listeners:
                yield Finding(FILE, f"listeners.{name}", "no loaded plugin registers a listener of this name",
                              suggest(name, plugins.listeners, "listeners"))  # fmt: skip
    if named:
        return  # load_settings would stop at the same name
    try:
        context.found["settings"] = load_settings(context.config_dir, plugins.vocabulary)
    except ConfigError as exc:
        yield from_error(str(exc), FILE, TABLES)
