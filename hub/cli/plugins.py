"""``hub plugins list``: what is installed and what each plugin registers."""

from __future__ import annotations

from typing import Any

import click

from hub.cli.common import friendly_errors, print_json


@click.group()
def plugins() -> None:
    """Installed plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@friendly_errors
def plugins_list(as_json: bool) -> None:
    """Each plugin, the distribution it comes from, and what it registers; a plugin that failed, on one line."""
    from hub.plugins import load_plugins

    loaded = load_plugins()
    rows: list[dict[str, Any]] = [
        {"name": i.name, "distribution": i.distribution, "version": i.version, "module": i.module,
         "hooks": i.hooks, "registers": i.registered, "error": i.error}
        for i in loaded.infos
    ]  # fmt: skip
    if as_json:
        print_json(rows)
        return
    dists = [f"{r['distribution']} {r['version']}".strip() for r in rows]
    name_width = max([16, *(len(r["name"]) for r in rows)])
    dist_width = max([28, *(len(d) for d in dists)])
    for r, dist in zip(rows, dists, strict=True):
        status = f"FAILED: {r['error']}" if r["error"] else ", ".join(r["registers"]) or "(observes only)"
        click.echo(f"{r['name']:{name_width}} {dist:{dist_width}} {' '.join(status.split())}")  # one line each
