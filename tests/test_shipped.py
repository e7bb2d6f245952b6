"""The hub's package data: schemas and the example deployment come from the installed package, not the checkout."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from hub.canonical import SCHEMA_FILES, CanonicalValidator
from hub.config import load_config
from hub.shipped import EXAMPLE_CONFIG_FILES, canonical_schemas, copy_example_config, example_config

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_schemas_hold_every_message_type_and_compile() -> None:
    names = {entry.name for entry in canonical_schemas().iterdir()}
    assert set(SCHEMA_FILES.values()) <= names
    assert set(CanonicalValidator(schema_dir=canonical_schemas()).schemas) == names


def test_the_example_deployment_copied_from_package_data_loads(tmp_path: Path) -> None:
    copy_example_config(tmp_path / "deployment")
    assert sorted(p.name for p in (tmp_path / "deployment").iterdir()) == sorted(EXAMPLE_CONFIG_FILES)
    config = load_config(tmp_path / "deployment")
    assert "duty-to-refer" in [route.name for route in config.routes]


def test_the_checkouts_top_level_folders_are_links_to_the_package_data_not_copies() -> None:
    assert (ROOT / "config").resolve() == Path(str(example_config())).resolve()
    assert (ROOT / "schemas" / "canonical" / "v1").resolve() == Path(str(canonical_schemas())).resolve()
    council = files("hub_council").joinpath("xsd")
    assert (ROOT / "schemas" / "council").resolve() == Path(str(council)).resolve()
