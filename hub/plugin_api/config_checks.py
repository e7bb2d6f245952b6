"""Checks a plugin contributes to ``hub config check`` (``hub_register_config_checks``) for its own configuration.

A plugin registers ``ConfigCheck(name, check)``; ``check(context)`` receives a ``ConfigCheckContext`` (what the
hub could read of the configuration) and returns ``ConfigProblem`` s, every problem it finds rather than the
first. ``hub config check`` lists them with the hub's own findings (exit 1 on any error), and ``hub serve``
refuses to start on an error. A ``warning`` is listed and changes neither.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.plugin_api.records import check_name

if TYPE_CHECKING:
    from hub.plugin_api.partner import Partner


@dataclass(frozen=True)
class ConfigProblem:
    """One problem of one entry of a configuration file, with what to do about it when the check knows.

    ``file`` is the file's name in the config directory (``hub.toml``), ``entry`` the dotted path of the
    entry (``plugins.hostels.service[2].partner``), ``problem`` what is wrong (never a secret's value), and
    ``suggestion`` what to do (``did_you_mean`` gives the nearest known name). A ``warning`` does not fail
    the check nor stop the hub: something to look at, not a mistake.
    """

    file: str
    entry: str
    problem: str
    suggestion: str = ""
    warning: bool = False


@dataclass(frozen=True)
class ConfigCheckContext:
    """What a plugin's check may read: the configuration as far as the hub could load it.

    - ``config_dir``: the configuration directory;
    - ``hub_toml``: ``hub.toml`` as TOML (empty when absent or not TOML), so a check sees its tables even
      when another part of the file has a problem;
    - ``settings``: the hub's settings (the object listeners and commands receive: ``plugin_settings``,
      ``store_url``, ``state_dir``), or None when ``hub.toml`` has a problem of its own;
    - ``partners``: the ``partners.toml`` partners that parsed, by id (an entry with a problem is left out
      and listed by the hub; its id is in ``broken_partners``);
    - ``partner_kinds``, ``message_types``: the names the loaded plugins registered.
    """

    config_dir: Path
    hub_toml: Mapping[str, Any] = field(default_factory=dict)
    settings: Any = None
    partners: Mapping[str, Partner] = field(default_factory=dict)
    broken_partners: frozenset[str] = frozenset()
    partner_kinds: frozenset[str] = frozenset()
    message_types: frozenset[str] = frozenset()

    def plugin_table(self, name: str) -> Mapping[str, Any]:
        """``hub.toml``'s ``[plugins.NAME]`` table (empty when absent or not a table)."""
        plugins = self.hub_toml.get("plugins")
        table = plugins.get(name) if isinstance(plugins, Mapping) else None
        return table if isinstance(table, Mapping) else {}

    def listener_table(self, name: str) -> Mapping[str, Any] | None:
        """``hub.toml``'s ``[listeners.NAME]`` table, or None when the listener is not enabled."""
        listeners = self.hub_toml.get("listeners")
        table = listeners.get(name) if isinstance(listeners, Mapping) else None
        return table if isinstance(table, Mapping) else None


@dataclass(frozen=True)
class ConfigCheck:
    """A named check of a plugin's own configuration, run by ``hub config check`` and at ``hub serve`` start.

    ``check(context)`` returns (or yields) every ``ConfigProblem`` it finds; it must not change anything (no
    file or table created), and an exception it raises is itself reported as a problem.
    """

    name: str
    check: Callable[[ConfigCheckContext], Iterable[ConfigProblem]]
    description: str = ""

    def __post_init__(self) -> None:
        check_name("config check", self.name)


def did_you_mean(name: str, known: Iterable[str], what: str) -> str:
    """``did you mean 'x'?`` for the known name nearest ``name`` (difflib), else the known ones listed."""
    names = sorted(set(known))
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close and close[0] != name:
        return f"did you mean {close[0]!r}?"
    return f"the {what} are: {', '.join(names)}" if names else f"there are no {what}"
