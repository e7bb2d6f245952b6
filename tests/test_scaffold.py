"""``hub adapter new``: one package of each kind, installed with pip like a third party's, passes its own tests.

The packages are installed editable into a throwaway virtualenv (``throwaway_venv``), and each one's tests run
there with pytest, starting real hubs on loopback.
"""

from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from throwaway_venv import hub_venv, pip_install_editable

from hub.cli import main
from hub.cli.scaffold_kinds import KINDS


def test_each_kind_installs_with_pip_and_passes_its_own_tests(tmp_path: Path) -> None:
    runner = CliRunner()
    for kind in KINDS:
        result = runner.invoke(main, ["adapter", "new", f"try-{kind}", "--kind", kind, "--dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
    python = hub_venv(tmp_path)
    install = pip_install_editable(python, *(tmp_path / f"try-{kind}" for kind in KINDS))
    assert install.returncode == 0, install.stdout + install.stderr
    listed = subprocess.run([str(python), "-m", "hub", "plugins", "list"], capture_output=True, text=True, timeout=60)
    for kind in KINDS:
        row = next(line for line in listed.stdout.splitlines() if line.startswith(f"try-{kind} "))
        assert f"hub-plugin-try-{kind} 0.1.0" in row and "FAILED" not in row, row
    # one pytest run over the five packages' tests (their samples.py are the same text, so sharing one is harmless),
    # with only the packages and their tests' own plugin loaded: no built-in plugin's vocabulary is needed
    allowed = ",".join([*(f"try-{kind}" for kind in KINDS), "example-vocabulary"])
    run = subprocess.run([str(python), "-m", "pytest", "-v", "-p", "no:cacheprovider",
                          *(str(tmp_path / f"try-{kind}" / "tests") for kind in KINDS)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "HUB_LOAD_PLUGINS": allowed})  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "SKIPPED" not in run.stdout, run.stdout[-3000:]
    for kind in KINDS:
        assert f"test_try_{kind.replace('-', '_')}.py::" in run.stdout, f"no test of the {kind} package ran"


def test_what_it_writes_for_an_adapter(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["adapter", "new", "acme-crm", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "(9 files): an adapter plugin registered as 'acme-crm'." in result.output
    root = tmp_path / "acme-crm"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == [
        "README.md", "hub_acme_crm/__init__.py", "hub_acme_crm/plugin.py", "pyproject.toml",
        "tests/example_vocabulary/hub_example_vocabulary-0.1.dist-info/METADATA",
        "tests/example_vocabulary/hub_example_vocabulary-0.1.dist-info/entry_points.txt",
        "tests/example_vocabulary/hub_example_vocabulary.py", "tests/samples.py", "tests/test_acme_crm.py",
    ]  # fmt: skip
    for path in root.rglob("*"):  # the core names no partner, partner kind or message type of a built-in plugin
        if path.is_file():
            text = path.read_text()
            for name in ("hostel", "nhs_trust", "ods_code", "Referral", "steps-luton", "trust-a"):
                assert name not in text, f"{path.relative_to(root)} names {name}"
    pyproject = (root / "pyproject.toml").read_text()
    assert '[project.entry-points."hub.adapters"]\nacme-crm = "hub_acme_crm.plugin"' in pyproject
    plugin = (root / "hub_acme_crm" / "plugin.py").read_text()
    assert "@hookimpl\ndef hub_register_adapters(register: Any) -> None:" in plugin
    assert "class AcmeCrmAdapter:" in plugin and '"""' in plugin
    compile(plugin, "plugin.py", "exec")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_has_its_entry_point_its_hook_with_a_docstring_and_a_readme(tmp_path: Path, kind: str) -> None:
    result = CliRunner().invoke(main, ["adapter", "new", "acme", "--kind", kind, "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "acme"
    assert '[project.entry-points."hub.adapters"]\nacme = "hub_acme.plugin"' in (root / "pyproject.toml").read_text()
    plugin = (root / "hub_acme" / "plugin.py").read_text()
    tree = ast.parse(plugin)
    assert ast.get_docstring(tree), "the plugin module has no docstring"
    (hook,) = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("hub_")]
    assert hook.name == KINDS[kind].hook and ast.get_docstring(hook), hook.name
    for node in ast.walk(tree):  # every class and method of the example says its contract
        if isinstance(node, ast.ClassDef | ast.FunctionDef) and not node.name.startswith("_"):
            assert ast.get_docstring(node), f"{node.name} has no docstring"
    readme = (root / "README.md").read_text()
    for heading in ("## Install", "## Test", "## Configure", "## Write yours"):
        assert heading in readme, heading
    assert "pip install -e ./acme" in readme and KINDS[kind].hook in readme
    assert "built-in plugins to be installed" not in readme  # the tests need none (tests/example_vocabulary)


@pytest.mark.parametrize(("name", "why"), [("Acme", "not a plugin name"), ("a", "not a plugin name"),
                                           ("acme_crm", "not a plugin name")])  # fmt: skip
def test_a_bad_name_is_refused_and_nothing_written(tmp_path: Path, name: str, why: str) -> None:
    result = CliRunner().invoke(main, ["adapter", "new", name, "--dir", str(tmp_path)])
    assert result.exit_code == 1 and why in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_written_over(tmp_path: Path) -> None:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "mine.txt").write_text("keep")
    result = CliRunner().invoke(main, ["adapter", "new", "acme", "--kind", "transport", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "already exists; nothing was written" in result.output
    assert [p.name for p in (tmp_path / "acme").iterdir()] == ["mine.txt"]
