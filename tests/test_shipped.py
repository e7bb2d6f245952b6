"""The hub's package data: schemas and the example deployment come from the installed package, not the checkout."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from hub.canonical import CanonicalValidator
from hub.config import load_config
from hub.plugins import load_plugins
from hub.shipped import EXAMPLE_CONFIG_FILES, copy_example_config, example_config

ROOT = Path(__file__).resolve().parent.parent


def test_every_registered_message_type_has_a_schema_from_package_data_and_all_compile() -> None:
    plugins = load_plugins()
    types = plugins.vocabulary.message_types
    assert {"DischargeNotice", "HousingRequest", "Acknowledgement"} <= set(types)
    assert set(CanonicalValidator(plugins).schemas) == set(types)  # each one compiled, $refs resolved


def test_the_checkouts_schemas_folder_links_every_shipped_schema() -> None:
    """``schemas/canonical/v1`` in a checkout is a view of what the distributions ship, not a copy."""
    folder = ROOT / "schemas" / "canonical" / "v1"
    links = sorted(folder.iterdir())
    assert links and all(link.is_symlink() for link in links)
    shipped = {"hub": "defaults/schemas", "hub_nhs": "schemas", "hub_council": "schemas", "hub_hostels": "schemas"}
    targets = {
        Path(str(entry)).resolve()
        for package, sub in shipped.items()
        for entry in files(package).joinpath(sub).iterdir()
        if entry.name.endswith(".schema.json")
    }
    assert {link.resolve() for link in links} == targets


def test_the_example_deployment_copied_from_package_data_loads(tmp_path: Path) -> None:
    copy_example_config(tmp_path / "deployment")
    assert sorted(p.name for p in (tmp_path / "deployment").iterdir()) == sorted(EXAMPLE_CONFIG_FILES)
    config = load_config(tmp_path / "deployment")
    assert "duty-to-refer" in [route.name for route in config.routes]


def test_the_checkouts_top_level_folders_are_links_to_the_package_data_not_copies() -> None:
    assert (ROOT / "config").resolve() == Path(str(example_config())).resolve()
    council = files("hub_council").joinpath("xsd")
    assert (ROOT / "schemas" / "council").resolve() == Path(str(council)).resolve()
