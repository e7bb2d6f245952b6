"""``hub db status`` and ``hub db upgrade``: the store's schema version, and its migrations."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hub.cli.common import config_option, friendly_errors, load_settings


@click.group()
def db() -> None:
    """The store's schema: which version it is at, and upgrading it (SQLite or PostgreSQL)."""


@db.command("status")
@config_option
@friendly_errors
def db_status(config_dir: Path | None) -> None:
    """Print the store's schema version and the latest this hub knows; exit 1 when migrations are pending.

    Changes nothing (a store not created yet is version 0).
    """
    from hub.store.schema import schema_status
    from hub.store.url import describe

    settings = load_settings(config_dir)
    status = schema_status(settings.store_url)
    where = describe(settings.store_url)
    if status.up_to_date:
        click.echo(f"store {where}: schema version {status.current} (up to date)")
        return
    click.echo(f"store {where}: schema version {status.current}, this hub needs {status.latest}: "
               "run 'hub db upgrade' (or start the hub, which upgrades it)")  # fmt: skip
    sys.exit(1)


@db.command("upgrade")
@config_option
@friendly_errors
def db_upgrade(config_dir: Path | None) -> None:
    """Apply the store's pending migrations (creating it if need be), then print the version.

    Safe beside running hubs and other upgrades: on PostgreSQL they wait for each other under
    an advisory lock and each migration is applied once; SQLite serialises them itself.
    """
    from hub.store.schema import upgrade_schema
    from hub.store.url import describe

    settings = load_settings(config_dir)
    before, after = upgrade_schema(settings.store_url)
    where = describe(settings.store_url)
    if before.current == after.current:
        click.echo(f"store {where}: schema version {after.current}, nothing to upgrade")
    else:
        click.echo(f"store {where}: schema upgraded from version {before.current} to {after.current}")
