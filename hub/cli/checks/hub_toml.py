"""The checker of ``hub.toml``: its tables, the names it gives (message types, key provider, listeners), its values."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hub.cli.checks import CheckContext, Finding, config_check, from_error, suggest
from hub.plugin_api.problems import ConfigError

FILE = "hub.toml"
TABLES = ("server", "store", "delivery", "retry", "keys", "retention", "listeners", "plugins", "metrics", "pathway",
          "alerts")  # fmt: skip
OWN_CHECKER = ("pathway", "alerts")  # tables whose values another checker lists (checks/pathway.py, checks/alerts.py)


@config_check(FILE, order=10)
def check_hub_toml(context: CheckContext) -> Iterator[Finding]:
    """Every unknown table, unregistered name and bad value."""
    data, problems = context.read_toml(FILE, required=False)
    yield from problems
    if data is None:
        return
    context.found["hub_toml"] = data
    plugins = context.plugins
    for table in data:
        if table not in TABLES:
            yield Finding(FILE, f"[{table}]", "unknown table", suggest(table, TABLES, "tables"))
    retention = data.get("retention")
    if isinstance(retention, dict):
        for message_type in retention:
            if message_type not in plugins.message_types:
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
    yield from _value_problems(context, data)


def _value_problems(context: CheckContext, data: dict[str, Any]) -> Iterator[Finding]:
    """Each bad value ``load_settings`` refuses: it stops at the first, so each is dropped and it runs again.

    It runs on a copy of the file in a scratch folder, without what was reported above and without the tables
    another checker lists (``OWN_CHECKER``); when the file has no problem at all, the settings loaded from the
    real folder are shared as ``context.found["settings"]``.
    """
    import tempfile

    from hub.config import load_settings
    from hub.testing.toml_writer import dumps

    plugins = context.plugins
    copy = {table: dict(values) if isinstance(values, dict) else values for table, values in data.items()
            if table in TABLES and table not in OWN_CHECKER}  # fmt: skip
    if isinstance(copy.get("retention"), dict):
        copy["retention"] = {k: v for k, v in copy["retention"].items() if k in plugins.message_types}
    if isinstance(copy.get("listeners"), dict):
        copy["listeners"] = {k: v for k, v in copy["listeners"].items() if k in plugins.listeners}
    if isinstance(copy.get("keys"), dict) and copy["keys"].get("provider") not in plugins.key_providers:
        copy["keys"].pop("provider", None)
    clean = copy == {table: values for table, values in data.items() if table not in OWN_CHECKER}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(50):
            try:
                (Path(scratch) / FILE).write_text(dumps(copy), encoding="utf-8")
                load_settings(Path(scratch), plugins.vocabulary)
            except (ConfigError, TypeError) as exc:
                clean = False
                finding = from_error(str(exc), FILE, TABLES)
                yield finding
                if not _drop(copy, finding.entry):
                    return
                continue
            break
    if clean:
        with contextlib.suppress(ConfigError):  # a problem of a table another checker lists: it says what
            context.found["settings"] = load_settings(context.config_dir, plugins.vocabulary)


def _drop(data: dict[str, Any], entry: str) -> bool:
    """Remove ``table.key`` (an entry a finding named) from ``data``; False when there is no such key."""
    table, _, key = entry.partition(".")
    values = data.get(table)
    if not key or not isinstance(values, dict) or key.split(".")[0] not in values:
        return False
    del values[key.split(".")[0]]
    return True
