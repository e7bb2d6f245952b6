"""The data files shipped inside the hub's distribution, found with importlib.resources.

The example deployment (``hub/example_config``: ``hub.toml``, ``partners.toml``,
``routes.toml``) is package data, so a wheel install finds it exactly as a source
checkout does; nothing here looks outside the installed package. (The canonical
schemas ship with the plugin that registers each message type: the hub's own in
``hub/defaults/schemas``.) In a checkout, the top-level ``config`` is a symbolic
link to ``hub/example_config``, and ``schemas/canonical/v1`` holds links to every
shipped schema. Imports nothing else of the hub.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

EXAMPLE_CONFIG_FILES = ("hub.toml", "partners.toml", "routes.toml", "pathways.toml")


def example_config() -> Traversable:
    """The folder of the example deployment's configuration files (``EXAMPLE_CONFIG_FILES``)."""
    return files("hub").joinpath("example_config")


def copy_example_config(directory: Path, names: tuple[str, ...] = EXAMPLE_CONFIG_FILES) -> None:
    """Write the example deployment's ``names`` into ``directory`` (made if missing), replacing files of those names."""
    directory.mkdir(parents=True, exist_ok=True)
    source = example_config()
    for name in names:
        (directory / name).write_bytes(source.joinpath(name).read_bytes())
