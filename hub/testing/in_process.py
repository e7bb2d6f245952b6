"""The hub in this process, for fast tests of a plugin's hooks: no server, no child process.

``build_test_hub(config_dir, plugins=[my_plugin])`` builds the hub a config directory
(``write_config``) describes, exactly as ``hub serve`` does, with your plugin module loaded
besides the installed ones (or, with ``use_entry_points=False``, with only the hub's
defaults and yours). ``hub.intake.submit_now(message, sender_id=...)`` then validates,
routes and commits one message as ``POST /v1/messages`` does; ``hub.plugins`` holds what
every plugin registered (``.adapters``, ``.transports``, ...). Close it when done.

``canonical_problems(message, sender_id)`` says what the hub's intake would say of a
canonical message before routing it (the registered schemas and every plugin's
``hub_validate_message``): what an adapter's ``parse`` produced should give none.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.plugin_api.problems import Problem
    from hub.runtime import Hub

_validators: dict[tuple[int, ...], Any] = {}


def build_test_hub(config_dir: Path, *, plugins: Iterable[object] = (), use_entry_points: bool = True) -> Hub:
    """The hub of ``config_dir``, built in this process with ``plugins`` loaded too; ``close()`` it when done.

    ``plugins`` are modules (or objects) holding ``@hookimpl`` functions, loaded as if installed.
    With ``use_entry_points=False`` only the hub's defaults and ``plugins`` are loaded, so the
    routes may name nothing another plugin registers. The key ring's passphrase must be in the
    environment (``write_config`` puts it there).
    """
    from hub.plugins import load_plugins
    from hub.runtime import build_hub

    loaded = load_plugins(extra_plugins=list(plugins), use_entry_points=use_entry_points)
    return build_hub(config_dir, plugins=loaded)


def canonical_problems(message: dict[str, Any], sender_id: str, *, plugins: Iterable[object] = ()) -> list[Problem]:
    """What the hub would refuse in ``message`` from ``sender_id``: schema and rule problems, [] when it is valid.

    Checked against the installed plugins' message types and rules, and those of ``plugins``.
    """
    from hub.canonical import CanonicalValidator
    from hub.plugins import load_plugins

    extra = list(plugins)
    key = tuple(id(p) for p in extra)
    if key not in _validators:
        _validators[key] = CanonicalValidator(load_plugins(extra_plugins=extra) if extra else None)
    problems: list[Problem] = _validators[key].problems(message, sender_id)
    return problems
