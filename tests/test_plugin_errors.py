"""Plugin mistakes are told in one line that names the plugin as installed and says what to write instead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hub import hookimpl
from hub.plugin_api.problems import PluginError
from hub.plugin_diagnostics import hook_names, hook_signature, hookimpl_mistakes, misplaced_entry_points
from hub.plugins import load_plugins


def distribution(site: Path, dist: str, module: str, source: str, group: str, entry: str) -> None:
    """A one-module distribution in ``site`` with a real dist-info, its entry point in ``group``."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-2.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 2.0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{entry} = {module}\n")


GOOD = """
from hub import hookimpl, Transform

@hookimpl
def hub_register_transforms(register):
    register(Transform("{name}-copy", "Referral", "Referral", lambda m, c: m))
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    distribution(site, "charity-singular", "charity_singular", GOOD.format(name="singular"), "hub.adapter", "singular")
    distribution(site, "charity-underscore", "charity_underscore", GOOD.format(name="underscore"), "hub_adapters",
                 "underscore")  # fmt: skip
    distribution(site, "charity-args", "charity_args", """
        from hub import hookimpl

        @hookimpl
        def hub_register_adapters(registr):
            pass
        """, "hub.adapters", "wrong-args")  # fmt: skip
    distribution(site, "charity-typo", "charity_typo", """
        from hub import hookimpl

        @hookimpl
        def hub_register_transport(register):
            pass
        """, "hub.adapters", "typo")  # fmt: skip
    distribution(site, "charity-fine", "charity_fine", GOOD.format(name="fine"), "hub.adapters", "fine")
    return site


def run_hub(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run([sys.executable, "-m", "hub", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": path, **env})  # fmt: skip


def test_an_entry_point_in_a_near_miss_group_is_reported_with_the_right_group(site: Path) -> None:
    result = run_hub(site, "plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    for name, group, dist in (("singular", "hub.adapter", "charity-singular"),
                              ("underscore", "hub_adapters", "charity-underscore")):  # fmt: skip
        assert rows[name]["distribution"] == dist and rows[name]["version"] == "2.0.1"
        assert rows[name]["error"] == (
            f"entry point {name!r} of {dist} is in group {group!r}, which the hub does not read; the group is "
            "'hub.adapters' (in pyproject.toml: [project.entry-points.\"hub.adapters\"], then reinstall the "
            "distribution)"
        )
    assert rows["fine"]["error"] is None and rows["fine"]["registers"] == ["transform:fine-copy"]


def test_a_wrong_argument_name_is_one_line_naming_the_plugin_the_hook_and_its_signature(site: Path) -> None:
    rows = {r["name"]: r for r in json.loads(run_hub(site, "plugins", "list", "--json").stdout)}
    assert rows["wrong-args"]["error"] == (
        "plugin 'wrong-args' (charity-args 2.0.1): hub_register_adapters(registr) takes 'registr', which hook "
        "hub_register_adapters does not pass; expected hub_register_adapters(register) (any subset of its arguments, "
        "by name): 'registr' -> 'register'"
    )


def test_an_unknown_hook_is_one_line_with_the_nearest_hook(site: Path) -> None:
    rows = {r["name"]: r for r in json.loads(run_hub(site, "plugins", "list", "--json").stdout)}
    assert rows["typo"]["error"] == (
        "plugin 'typo' (charity-typo 2.0.1): implements hub_register_transport(register), a hook the hub does not "
        "define; did you mean hub_register_transports(register)?"
    )
    assert "<module" not in rows["typo"]["error"]


def test_the_table_keeps_one_line_per_plugin_failures_included(site: Path) -> None:
    result = run_hub(site, "plugins", "list")
    lines = result.stdout.splitlines()
    names = [line.split()[0] for line in lines]
    assert {"singular", "underscore", "wrong-args", "typo", "fine", "hub.defaults"} <= set(names)
    assert len(lines) == len(names) == len(set(names))
    for name in ("singular", "underscore", "wrong-args", "typo"):
        assert "FAILED: " in next(line for line in lines if line.startswith(f"{name} "))
    starts = {line.index(line.split()[1]) for line in lines}  # the distribution column lines up
    assert len(starts) == 1
    assert "Traceback" not in result.stderr and "hookimpl definition" not in result.stderr


def test_strict_mode_makes_each_mistake_fatal_in_one_line(site: Path) -> None:
    result = run_hub(site, "plugins", "list", HUB_STRICT_PLUGINS="1", HUB_DISABLE_PLUGINS="singular,underscore")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "plugin 'typo' (charity-typo 2.0.1): implements hub_register_transport(register)" in line


def test_a_plugin_given_in_code_with_a_wrong_argument_is_refused_by_name() -> None:
    class Wrong:
        @hookimpl
        def hub_validate_message(self, mesage, sender_id):
            return None

    with pytest.raises(PluginError) as raised:
        load_plugins(env={}, extra_plugins=[Wrong()])
    assert str(raised.value) == (
        "plugin 'Wrong-0': hub_validate_message(mesage, sender_id) takes 'mesage', which hook hub_validate_message "
        "does not pass; expected hub_validate_message(message, sender_id, schema_valid) (any subset of its "
        "arguments, by name): 'mesage' -> 'message'"
    )


def test_a_subset_of_the_arguments_is_fine() -> None:
    class Fine:
        @hookimpl
        def hub_validate_message(self, message):
            return None

    manager = load_plugins(env={}, use_entry_points=False).manager
    assert hookimpl_mistakes(manager, Fine(), "'fine'") == []


def test_groups_far_from_the_hubs_are_left_alone_and_near_ones_found() -> None:
    from importlib.metadata import EntryPoint

    groups = {
        g: [EntryPoint(name="x", value="m", group=g)]
        for g in ("console_scripts", "pytest11", "hub.commands", "hub.adapters", "Hub-Adapters", "hub.adaptors")
    }
    found = misplaced_entry_points(groups, "hub.adapters")
    assert sorted(f.group for f in found) == ["Hub-Adapters", "hub.adaptors"]


def test_every_hook_has_a_signature_to_show() -> None:
    assert hook_signature("hub_route") == "hub_route(message, sender_id)"
    assert "hub_register_adapters" in hook_names()
