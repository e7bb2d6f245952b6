"""The docs keep up with the code: every hook documented, the README's two commands present."""

from __future__ import annotations

import ast
import inspect
import os
import re
import typing
from pathlib import Path
from typing import Any

import pytest

from hub.plugin_api import hookspecs

ROOT = Path(__file__).resolve().parent.parent
HOOKS = [name for name, value in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("hub_")]


def test_there_are_hooks_to_document() -> None:
    assert len(HOOKS) >= 7


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_in_the_integrators_guide_headed_by_its_signature(hook: str) -> None:
    guide = (ROOT / "docs" / "integrators.md").read_text()
    params = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert f"### `{hook}({params})`" in guide


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docstring_contract(hook: str) -> None:
    assert len(inspect.getdoc(getattr(hookspecs, hook)) or "") > 80


def test_the_readme_gives_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def test_ci_runs_exactly_make_test() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_integrators_guide_lists_every_event_kind() -> None:
    """Observers switch on ``HubEvent.kind``: the guide's list must be the hub's."""
    from hub.plugin_api.events import EVENT_KINDS

    row = next(line for line in (ROOT / "docs" / "integrators.md").read_text().splitlines()
               if line.startswith("| `kind: str` |"))  # fmt: skip
    assert set(re.findall(r"`([a-z_]+)`", row)) == set(EVENT_KINDS)


def test_make_test_runs_the_install_check_so_ci_does() -> None:
    makefile = (ROOT / "Makefile").read_text()
    logical = makefile.replace("\\\n", " ").splitlines()  # a rule's prerequisites may continue over lines
    prerequisites = next(line for line in logical if line.startswith("test:")).split()
    assert "install-check" in prerequisites
    assert ".ci/install-check" in makefile and "install-check" in (ROOT / "README.md").read_text()


def _section(guide: str, heading: str) -> str:
    start = guide.index(f"\n## {heading}\n")
    end = guide.find("\n## ", start + 1)
    return guide[start : end if end != -1 else len(guide)]


def test_the_integrators_guide_opens_with_the_tutorial() -> None:
    guide = (ROOT / "docs" / "integrators.md").read_text()
    first = re.search(r"^## (.+)$", guide, re.MULTILINE)
    assert first is not None and first.group(1) == "Fifteen minutes: your first plugin"
    tutorial = _section(guide, "Fifteen minutes: your first plugin")
    for step in ("hub adapter new", "pip install -e", "pytest", "hub config check", "hub serve", "/v1/inbox"):
        assert step in tutorial, step


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_in_the_lifecycle_diagram(hook: str) -> None:
    """A hook another change adds fails here (and above) until the guide says when it runs."""
    assert hook in _section((ROOT / "docs" / "integrators.md").read_text(), "Lifecycle")


def test_the_guide_lists_every_pytest_fixture_of_the_hub() -> None:
    source = (ROOT / "hub" / "testing" / "pytest_plugin.py").read_text()
    fixtures = re.findall(r"@pytest\.fixture(?:\(.*\))?\ndef (\w+)\(", source)
    assert len(fixtures) >= 5
    table = _section((ROOT / "docs" / "integrators.md").read_text(), "Testing your plugin")
    for name in fixtures:
        assert f"| `{name}` |" in table, name


def test_the_guide_describes_each_conformance_class_and_each_config_checker() -> None:
    from hub.cli.checks import registered_checks
    from hub.testing import conformance

    guide = (ROOT / "docs" / "integrators.md").read_text()
    suite = _section(guide, "The conformance suite")
    for name in ("AdapterConformance", "TransportConformance", "DeliveryConformance"):
        assert f"| `{name}`" in suite and hasattr(conformance, name), name
    checks = _section(guide, "Checking a configuration: hub config check")
    for check in registered_checks():
        assert f"| {check.file} |" in checks or f"| `{check.file}` |" in checks, check.file


def _hookspec_names() -> dict[str, Any]:
    """The names hookspecs.py imports for type checking only, so its annotations can be evaluated."""
    import importlib

    source = ast.parse((ROOT / "hub" / "plugin_api" / "hookspecs.py").read_text())
    names: dict[str, Any] = {}
    for node in ast.walk(source):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hub."):
            module = importlib.import_module(node.module)
            names.update({alias.name: getattr(module, alias.name) for alias in node.names})
    return names


def _named_types(hint: Any) -> set[str]:
    """The hub's record classes a type hint names, however deep (``Callable[[Adapter], None]`` -> Adapter)."""
    found: set[str] = set()
    if isinstance(hint, list):
        for item in hint:
            found |= _named_types(item)
        return found
    if isinstance(hint, type) and hint.__module__.startswith("hub."):
        found.add(hint.__name__)
    for arg in typing.get_args(hint):
        found |= _named_types(arg)
    return found


def test_the_hooks_the_guide_documents_are_those_the_hub_loads() -> None:
    """Every hookspec the plugin manager holds (wherever it is defined) is one the guide's tests above cover."""
    from hub.plugins import load_plugins

    manager = load_plugins().manager
    specs = {name for name in vars(manager.hook) if getattr(getattr(manager.hook, name), "spec", None) is not None}
    assert specs == set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hooks_section_names_the_records_of_its_signature(hook: str) -> None:
    """What a hook registers, receives and returns (its annotations' record types) is named in its section."""
    guide = (ROOT / "docs" / "integrators.md").read_text()
    params = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    start = guide.index(f"### `{hook}({params})`")
    section = guide[start : guide.find("\n### ", start + 1)]
    hints = typing.get_type_hints(getattr(hookspecs, hook), localns=_hookspec_names())
    for record in sorted(_named_types(list(hints.values()))):
        assert f"`{record}" in section or f"{record}(" in section, f"{hook}'s section does not name {record}"


def test_the_guides_plugins_table_is_what_hub_plugins_list_prints() -> None:
    """The built-in plugins' rows (and the example charity-crm's, installed by make test) as they print now."""
    import subprocess
    import sys

    guide = (ROOT / "docs" / "integrators.md").read_text()
    start = guide.index("```\nhub.defaults ") + 4
    documented = guide[start : guide.index("```", start)].splitlines()
    env = {k: v for k, v in os.environ.items() if k not in ("HUB_LOAD_PLUGINS", "HUB_DISABLE_PLUGINS")}
    printed = subprocess.run([sys.executable, "-m", "hub", "plugins", "list"], capture_output=True, text=True,
                             timeout=120, env=env, check=True).stdout.splitlines()  # fmt: skip
    assert len(documented) >= 9
    columns = {" ".join(line.split()) for line in printed}  # the widths follow the longest name installed
    for row in documented:
        assert " ".join(row.split()) in columns, f"the guide's row is not what hub plugins list prints now:\n{row}"


def test_the_guide_names_everything_the_hub_package_exports_to_plugins() -> None:
    """A record, error, caller or helper added to ``hub``'s public face is described for integrators."""
    import hub

    guide = (ROOT / "docs" / "integrators.md").read_text()
    missing = [name for name in hub.__all__ if not re.search(rf"\b{re.escape(name)}\b", guide)]
    assert not missing, missing
