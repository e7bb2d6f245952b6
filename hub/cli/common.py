"""What every ``hub`` command shares: the ``--config`` option, error handling, and opening the hub or its store."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

from hub.plugin_api.problems import ConfigError, PluginError
from hub.services.errors import OperationRefused

if TYPE_CHECKING:
    from hub.config import HubConfig, Settings
    from hub.plugin_api.events import HubEvent
    from hub.runtime import Hub
    from hub.store.ports import Store

P = ParamSpec("P")
R = TypeVar("R")

config_option = click.option(
    "--config",
    "config_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Config directory (default: $HUB_CONFIG or ./config).",
)


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Configuration and plugin errors: a one-line message and exit status 2; a refused operation: exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (ConfigError, PluginError) as exc:
            click.echo(f"hub: {exc}", err=True)
            sys.exit(2)
        except OperationRefused as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def build(config_dir: Path | None, strict: bool = False) -> Hub:
    """The whole hub (keys included: needs the key ring's passphrase)."""
    from hub.runtime import build_hub

    return build_hub(config_dir, strict_plugins=strict or None)


def load_settings(config_dir: Path | None) -> Settings:
    """``hub.toml``'s settings for ``--config`` (or ``$HUB_CONFIG``, or ``./config``)."""
    from hub.config import config_dir_from_env, load_settings

    return load_settings(config_dir_from_env(config_dir))


@contextmanager
def opened_store(settings: Settings) -> Iterator[Store]:
    """The store without keys (bodies stay sealed), closed on the way out."""
    from hub.store import open_store

    store = open_store(settings.store_url)
    try:
        yield store
    finally:
        store.close()


class StoreOnly:
    """The configuration, the store without keys, and the observer plugins: for maintenance commands."""

    def __init__(self, config_dir: Path | None) -> None:
        from hub.config import load_config
        from hub.plugins import load_plugins
        from hub.store import open_store

        self.plugins = load_plugins()
        self.config: HubConfig = load_config(config_dir, self.plugins.vocabulary)
        self.store: Store = open_store(self.config.settings.store_url)

    def emit(self, events: list[HubEvent]) -> None:
        """Tell observer plugins about committed events, as intake does."""
        from hub.services.intake import emit_events

        emit_events(self.plugins, events)


def print_json(data: Any) -> None:
    """Indented JSON on stdout, non-ASCII kept."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))
