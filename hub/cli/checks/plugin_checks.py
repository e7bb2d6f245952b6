"""The checks plugins register for their own configuration (``hub_register_config_checks``).

Each ``ConfigCheck`` receives a ``ConfigCheckContext`` built from what the checkers before it found (``hub.toml``
as TOML, the settings when it loaded, the partners that parsed) and its ``ConfigProblem`` s become findings.
``plugin_config_problems`` runs the same checks on a loaded configuration, for ``hub serve`` to refuse to start
on an error.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.cli.checks import CheckContext, Finding, config_check
from hub.plugin_api.config_checks import ConfigCheckContext

if TYPE_CHECKING:
    from hub.config import HubConfig
    from hub.plugins import HubPlugins

FILE = "plugins' checks"


@config_check(FILE, order=60)
def check_plugins_config(context: CheckContext) -> Iterator[Finding]:
    """Every problem (and warning) the loaded plugins' ``ConfigCheck`` s find."""
    partners = context.found.get("partners")
    view = ConfigCheckContext(
        config_dir=context.config_dir,
        hub_toml=context.found.get("hub_toml") or {},
        settings=context.found.get("settings"),
        partners=dict(partners.partners) if partners is not None else {},
        broken_partners=frozenset(context.found.get("broken_partners", ())),
        partner_kinds=frozenset(context.plugins.vocabulary.partner_kinds),
        message_types=frozenset(context.plugins.message_types),
    )
    yield from run_plugin_checks(context.plugins, view)


def run_plugin_checks(plugins: HubPlugins, view: ConfigCheckContext) -> Iterator[Finding]:
    """Each registered check's problems as findings; a check that raises is a finding naming it."""
    for name, check in sorted(plugins.config_checks.items()):
        try:
            for problem in check.check(view):
                yield Finding(problem.file, problem.entry, problem.problem, problem.suggestion, problem.warning)
        except Exception as exc:  # a plugin's bug must not hide the other checks' problems
            yield Finding(FILE, name, f"the check {name!r} failed: {type(exc).__name__}: {exc}")


def plugin_config_problems(config: HubConfig, plugins: HubPlugins) -> list[Finding]:
    """The plugins' checks run on a configuration the hub loaded (``hub serve`` start): findings, warnings too."""
    directory = Path(config.settings.config_dir)
    hub_toml: dict[str, Any] = {}
    path = directory / "hub.toml"
    if path.exists():
        hub_toml = tomllib.loads(path.read_text(encoding="utf-8"))
    view = ConfigCheckContext(
        config_dir=directory,
        hub_toml=hub_toml,
        settings=config.settings,
        partners=dict(config.partners.partners),
        partner_kinds=frozenset(plugins.vocabulary.partner_kinds),
        message_types=frozenset(plugins.message_types),
    )
    return list(run_plugin_checks(plugins, view))


def refuse_on_plugin_config_problems(config: HubConfig, plugins: HubPlugins) -> None:
    """Print the plugins' checks' findings (one line each, on stderr) and raise ``ConfigError`` on any error.

    ``hub serve`` calls it before it starts anything: a plugin's configuration mistake stops it as the hub's
    own configuration's do, rather than being reported when a command or a request first meets it.
    """
    import click

    from hub.plugin_api.problems import ConfigError

    findings = plugin_config_problems(config, plugins)
    for finding in findings:
        click.echo(f"hub: {finding.line()}", err=True)
    errors = sum(1 for f in findings if not f.warning)
    if errors:
        raise ConfigError(f"{errors} problem{'s' if errors != 1 else ''} in the plugins' configuration (above; "
                          "'hub config check' lists every problem); nothing was started")  # fmt: skip
