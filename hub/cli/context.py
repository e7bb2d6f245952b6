"""The object the ``hub`` command hands to every sub-command, plugins' commands included.

The ``hub`` group puts a ``CommandContext`` in click's context object, so a
plugin command reaches it with ``@click.pass_obj`` and reads the hub's data
through it instead of opening the store::

    @click.command("my-stats")
    @click.option("--config", "config_dir", type=click.Path(path_type=Path), default=None)
    @click.pass_obj
    def my_stats(hub, config_dir):
        with hub.hub_data(config_dir) as data:
            rows = data.reply_times()
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hub.plugin_api.problems import ConfigError
from hub.services.hub_data import HubData

if TYPE_CHECKING:
    from hub.config import Settings


class CommandContext:
    """Services the core offers to sub-commands (implements ``hub.plugin_api.data.CommandContext``)."""

    @contextmanager
    def hub_data(self, config_dir: Path | None) -> Iterator[HubData]:
        """The read-only data of the hub configured in ``config_dir`` (default ``$HUB_CONFIG`` or ``./config``).

        Needs no keys. Exits with a sentence on stderr when the config cannot be
        read (status 2) or nothing was ever stored there (status 1).
        """
        from hub.cli.common import load_settings, opened_store

        try:
            settings = load_settings(config_dir)
        except ConfigError as exc:
            click.echo(f"hub: {exc}", err=True)
            sys.exit(2)
        if settings.store_path is not None and not settings.store_path.exists():
            click.echo(f"hub: no store at {settings.store_path}; nothing has been delivered yet", err=True)
            sys.exit(1)
        with opened_store(settings) as store:
            yield HubData(store)

    def state_dir(self, config_dir: Path | None) -> Path:
        """The hub's state directory (``[store] state_dir`` in hub.toml, else beside the store).

        Reads the whole configuration, so a command that keeps files there runs only against a hub that would
        start. Exits with a sentence on stderr (status 2) when the config cannot be read.
        """
        return Path(self.settings(config_dir).state_dir)

    def settings(self, config_dir: Path | None) -> Settings:
        """The hub's settings, from the whole configuration (so only of a hub that would start).

        Exits with a sentence on stderr (status 2) when the config cannot be read.
        """
        from hub.config import config_dir_from_env, load_config

        try:
            return load_config(config_dir_from_env(config_dir)).settings
        except ConfigError as exc:
            click.echo(f"hub: {exc}", err=True)
            sys.exit(2)
