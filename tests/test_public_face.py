"""Plugin tests and the integrators' documentation use only what a third-party plugin may use.

That is the public face: ``hub`` (``from hub import ...``), the plugin API (``hub.plugin_api``) and the
test kit (``hub.testing``). The built-in plugins' own packages are held to ``from hub import ...`` by
import-linter (``pyproject.toml``); their tests are not packages import-linter can follow, so they are
read here, and so are the Python examples in docs/integrators.md and docs/partners/.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_PACKAGES = ("hub.plugin_api", "hub.testing")  # with their submodules; and ``hub`` itself
PLUGIN_TESTS = sorted(ROOT.glob("plugins/*/tests/**/*.py"))
GUIDES = [ROOT / "docs" / "integrators.md", *sorted((ROOT / "docs" / "partners").glob("*.md"))]
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def is_public(module: str) -> bool:
    """True for ``hub`` itself, the plugin API, the test kit and their submodules, and anything not of the hub."""
    if module != "hub" and not module.startswith("hub."):
        return True
    return module == "hub" or any(module == p or module.startswith(f"{p}.") for p in PUBLIC_PACKAGES)


def hub_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import in ``source``, wherever it stands (inside functions too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_the_rule_tells_the_public_face_from_the_rest() -> None:
    assert [is_public(m) for m in ("hub", "hub.testing.world", "hub.plugin_api.records", "hub_nhs", "lxml")] == [
        True] * 5  # fmt: skip
    assert [is_public(m) for m in ("hub.canonical", "hub.store.sqlite", "hub.testingx", "hub.cli")] == [False] * 4
    assert hub_imports("def f():\n    from hub.plugins import load_plugins\n") == [(2, "hub.plugins")]


@pytest.mark.parametrize("path", PLUGIN_TESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_plugins_tests_import_only_the_public_face(path: Path) -> None:
    private = [f"line {line}: {module}" for line, module in hub_imports(path.read_text()) if not is_public(module)]
    assert private == [], f"{path.relative_to(ROOT)} imports what a third-party plugin could not rely on"


@pytest.mark.parametrize("path", GUIDES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_guides_python_examples_import_only_the_public_face(path: Path) -> None:
    private = []
    for block in PYTHON_BLOCK.findall(path.read_text()):
        private += [module for _, module in hub_imports(block) if not is_public(module)]
    assert private == [], f"{path.relative_to(ROOT)} shows integrators imports of the hub's insides"
