"""The docs keep up with the code: every hook documented, the README's two commands present."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

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
    prerequisites = next(line for line in makefile.splitlines() if line.startswith("test:")).split()
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
