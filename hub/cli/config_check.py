"""``hub config check``: load the plugins and check every configuration file together, listing every problem."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hub.cli.common import config_option, friendly_errors


@click.group("config")
def config() -> None:
    """The deployment's configuration."""


def check_directory(config_dir: Path | None) -> int:
    """Print every problem and warning of the configuration in ``config_dir`` (one line each) and return how
    many problems (warnings are not counted)."""
    from hub.cli.checks import run_checks
    from hub.config import config_dir_from_env
    from hub.plugins import load_plugins

    directory = config_dir_from_env(config_dir)
    if not directory.is_dir():
        click.echo(f"hub: {directory}: no such config directory (run 'hub init' or pass --config DIR)", err=True)
        return 1
    plugins = load_plugins()
    findings = run_checks(directory, plugins)
    for info in plugins.errors:
        click.echo(f"plugin {info.name}: {info.error}", err=True)
    for finding in findings:
        click.echo(finding.line(), err=True)
    problems = sum(1 for f in findings if not f.warning)
    warnings = len(findings) - problems
    noted = f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
    if problems:
        click.echo(f"{directory}: {problems} problem{'s' if problems != 1 else ''}{noted}", err=True)
    else:
        click.echo(f"{directory}: the configuration is consistent with the {len(plugins.infos)} loaded plugins"
                   f"{noted}")  # fmt: skip
    return problems


@config.command("check")
@config_option
@friendly_errors
def check(config_dir: Path | None) -> None:
    """Check hub.toml, partners.toml, routes.toml, the agreements, pathways.toml and hub.toml's [pathway] (and
    any other configuration file a checker is registered for, and the checks plugins register for their own
    configuration) against the loaded plugins; every problem on one line with file, entry and a suggestion.

    Exits 1 when there is any problem (a warning alone does not).
    """
    if check_directory(config_dir):
        sys.exit(1)
