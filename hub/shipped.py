"""The data files shipped inside the hub's distribution, found with importlib.resources.

The canonical JSON Schemas (``hub/schemas/canonical/v1``) and the example
deployment (``hub/example_config``: ``hub.toml``, ``partners.toml``,
``routes.toml``) are package data, so a wheel install finds them exactly as a
source checkout does; nothing here looks outside the installed package. (In a
checkout, the top-level ``schemas/canonical`` and ``config`` are symbolic links
to these folders.) Imports nothing else of the hub.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

EXAMPLE_CONFIG_FILES = ("hub.toml", "partners.toml", "routes.toml")


def canonical_schemas() -> Traversable:
    """The folder of canonical JSON Schemas shipped with the hub (``*.schema.json``)."""
    return files("hub").joinpath("schemas", "canonical", "v1")


def example_config() -> Traversable:
    """The folder of the example deployment's configuration files (``EXAMPLE_CONFIG_FILES``)."""
    return files("hub").joinpath("example_config")


def copy_example_config(directory: Path, names: tuple[str, ...] = EXAMPLE_CONFIG_FILES) -> None:
    """Write the example deployment's ``names`` into ``directory`` (made if missing), replacing files of those names."""
    directory.mkdir(parents=True, exist_ok=True)
    source = example_config()
    for name in names:
        (directory / name).write_bytes(source.joinpath(name).read_bytes())
