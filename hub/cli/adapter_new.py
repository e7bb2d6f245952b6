"""``hub adapter new NAME --kind KIND``: an installable plugin package whose tests pass as soon as it is installed.

It writes, in ``DIR/NAME`` (``--dir``, default the current folder)::

    pyproject.toml        the distribution hub-plugin-NAME, its entry point in the hub.adapters group
    README.md             what it is, how to install, test and configure it
    hub_NAME/plugin.py    the hook of that kind, with a working example and the contract in its docstrings
    tests/test_NAME.py    tests with the hub's pytest plugin and conformance suite
    tests/samples.py      a canonical message for the tests, and the tests' own plugin put on their path:
    tests/example_vocabulary/   its message type and partner kind (a module and its dist-info)

and refuses to write over anything that exists. The kinds and their texts are in ``hub.cli.scaffold_kinds``.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from hub.cli.scaffold_kinds import KINDS, SAMPLES, VOCABULARY_ENTRY_POINTS, VOCABULARY_METADATA, VOCABULARY_MODULE, Kind

NAME = re.compile(r"^[a-z][a-z0-9-]{1,39}$")

PYPROJECT = """[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "hub-plugin-{name}"
version = "0.1.0"
description = "{summary} for the partner hub"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["partner-hub"]

[project.optional-dependencies]
test = ["pytest>=8"]

# The hub loads plugins through this group, and only this one (hub plugins list shows what it found).
[project.entry-points."hub.adapters"]
{name} = "{package}.plugin"

[tool.setuptools.packages.find]
include = ["{package}*"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

README = """# hub-plugin-{name}

A plugin for the partner hub: {summary} (hook `{hook}`).

## Install

    pip install -e ./{name}
    hub plugins list          # shows {name} and what it registers

## Test

    pytest {name}/tests

The tests use the hub's pytest plugin (fixtures `hub_world_factory`, `partner_simulator`, ...) and its
conformance suite (`hub.testing.conformance`); they start a real hub and partner simulators on loopback. They
need no other plugin: what they exchange (the `ExampleMessage` type and the `example` partner kind) comes from a
test-only plugin in `tests/example_vocabulary/`, which `tests/samples.py` puts on the tests' path and which is not
part of the package. Swap in your own message types and partners as you make the plugin yours.

## Configure

{configure}

Then `hub config check` says whether the configuration and the loaded plugins agree.

## Write yours

`{package}/plugin.py` is a working example of the contract in its docstrings; replace its inside, keep the
hook. The hub's guide for integrators (docs/integrators.md) describes every hook and record.
"""


def _class_stem(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def write_package(name: str, kind: Kind, directory: Path) -> list[Path]:
    """Write the package for plugin ``name`` of ``kind`` in ``directory/name``; return the files written.

    Raises ``click.ClickException`` for a bad name or when ``directory/name`` already exists (nothing is written).
    """
    if not NAME.fullmatch(name):
        raise click.ClickException(f"{name!r} is not a plugin name: 2-40 lower-case letters, digits and '-', "
                                   "starting with a letter (it is the registered name and the package's)")  # fmt: skip
    root = directory / name
    if root.exists():
        raise click.ClickException(f"{root} already exists; nothing was written (choose another NAME or --dir)")
    package = "hub_" + name.replace("-", "_")
    values = {"name": name, "package": package, "cls": _class_stem(name), "summary": kind.summary,
              "hook": kind.hook}  # fmt: skip
    values["configure"] = kind.configure.format(**values)
    vocabulary = root / "tests" / "example_vocabulary"  # the tests' own plugin (see scaffold_kinds.SAMPLES)
    files = {
        root / "pyproject.toml": PYPROJECT.format(**values),
        root / "README.md": README.format(**values),
        root / package / "__init__.py": f'"""The {name} plugin for the partner hub ({kind.name}): see plugin.py."""\n',
        root / package / "plugin.py": kind.plugin.format(**values),
        root / "tests" / "samples.py": SAMPLES.format(**values),
        root / "tests" / f"test_{package[4:]}.py": kind.tests.format(**values),
        vocabulary / "hub_example_vocabulary.py": VOCABULARY_MODULE.format(**values),
        vocabulary / "hub_example_vocabulary-0.1.dist-info" / "METADATA": VOCABULARY_METADATA,
        vocabulary / "hub_example_vocabulary-0.1.dist-info" / "entry_points.txt": VOCABULARY_ENTRY_POINTS,
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


@click.group()
def adapter() -> None:
    """Write plugins: adapters, transports, transforms, listeners, destinations."""


@adapter.command("new")
@click.argument("name")
@click.option("--kind", type=click.Choice(sorted(KINDS)), default="adapter", show_default=True,
              help="What the plugin registers.")  # fmt: skip
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where to create the NAME folder.")  # fmt: skip
def new(name: str, kind: str, directory: Path) -> None:
    """Create NAME/, an installable plugin package of KIND whose tests pass once it is installed.

    Then: pip install -e ./NAME && pytest NAME/tests
    """
    written = write_package(name, KINDS[kind], directory)
    root = directory / name
    article = "an" if kind[0] in "aeiou" else "a"
    click.echo(f"Created {root} ({len(written)} files): {article} {kind} plugin registered as {name!r}.")
    click.echo(f"Next: pip install -e {root} && pytest {root / 'tests'}")
