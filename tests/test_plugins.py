"""Plugins load through entry points like any third party's; one broken plugin never stops the rest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hub import Rendered, Transform, hookimpl
from hub.plugins import load_plugins
from hub.problems import PluginError


def make_distribution(site: Path, dist: str, module: str, source: str, entry: str) -> None:
    """Install a one-module distribution into ``site`` by hand: a real dist-info with entry points."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[hub.adapters]\n{entry} = {module}\n")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    make_distribution(site, "hub-plugin-broken", "hub_broken_plugin", "raise ImportError('needs libfoo 2')\n",
                      "broken")  # fmt: skip
    make_distribution(
        site,
        "acme-hub-charity",
        "acme_charity",
        """
        from hub import hookimpl, Transform

        def copy(message, context):
            return message

        @hookimpl
        def hub_register_transforms(register):
            register(Transform("acme-copy", "Referral", "Referral", copy))
        """,
        "acme",
    )
    return site


def plugins_list(site: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(site), **env}
    return subprocess.run([sys.executable, "-m", "hub", "plugins", "list", "--json"], capture_output=True,
                          text=True, env=environment, timeout=60)  # fmt: skip


def test_plugins_list_shows_each_plugin_its_distribution_and_what_it_registers(site: Path) -> None:
    result = plugins_list(site)
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["council"]["distribution"] == "hub-plugin-council"
    assert "transform:duty-to-refer" in rows["council"]["registers"]
    assert rows["acme"]["distribution"] == "acme-hub-charity" and rows["acme"]["version"] == "1.2.3"
    assert rows["acme"]["registers"] == ["transform:acme-copy"]
    assert sorted(rows["hub.defaults"]["registers"]) == [
        "adapter:canonical-json",
        "key provider:file",
        "transport:http",
    ]


def test_a_broken_plugin_is_reported_by_name_and_the_others_still_load(site: Path) -> None:
    result = plugins_list(site)
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert "needs libfoo 2" in rows["broken"]["error"]
    assert rows["broken"]["distribution"] == "hub-plugin-broken"
    assert "plugin 'broken' from hub-plugin-broken failed to load" in result.stderr
    assert all(rows[name]["error"] is None for name in ("nhs", "council", "hostels", "acme"))


def test_strict_mode_makes_a_broken_plugin_fatal(site: Path) -> None:
    result = plugins_list(site, HUB_STRICT_PLUGINS="1")
    assert result.returncode == 2
    assert "plugin 'broken' from hub-plugin-broken failed to load" in result.stderr
    assert "Traceback" not in result.stderr


def test_allow_and_deny_lists_choose_which_entry_points_load(site: Path) -> None:
    only = {r["name"] for r in json.loads(plugins_list(site, HUB_LOAD_PLUGINS="nhs,acme").stdout)}
    assert only == {"hub.defaults", "nhs", "acme"}
    denied = {r["name"] for r in json.loads(plugins_list(site, HUB_DISABLE_PLUGINS="broken,council").stdout)}
    assert "council" not in denied and "broken" not in denied and "hostels" in denied


class _Clash:
    @hookimpl
    def hub_register_adapters(self, register):
        class Impostor:
            name = "canonical-json"
            content_types = ("application/json",)

            def parse(self, body, *, content_type, sender_id):
                return []

            def render(self, message, *, partner):
                return Rendered("application/json", b"{}")

        register(Impostor())


def test_two_plugins_registering_the_same_name_are_both_named() -> None:
    with pytest.raises(PluginError) as caught:
        load_plugins(env={}, extra_plugins=[_Clash()])
    assert "'hub.defaults'" in str(caught.value) and "_Clash" in str(caught.value)


def test_a_plugin_implementing_an_unknown_hook_is_refused() -> None:
    class Typo:
        @hookimpl
        def hub_register_adaptors(self, register):
            pass

    with pytest.raises(PluginError, match="hub_register_adaptors"):
        load_plugins(env={}, extra_plugins=[Typo()])


def test_a_registered_record_of_the_wrong_kind_is_refused_with_the_plugin_named() -> None:
    class Wrong:
        @hookimpl
        def hub_register_transforms(self, register):
            register("not a transform")

    with pytest.raises(PluginError, match="registered a str as a transform"):
        load_plugins(env={}, extra_plugins=[Wrong()])


def test_an_invalid_name_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid"):
        Transform("Bad Name", "Referral", "Referral", lambda m, c: m)


def test_an_observer_that_raises_does_not_break_intake(tmp_path: Path) -> None:
    from hub.config import load_config
    from hub.runtime import build_hub
    from hub.testing import write_config

    seen: list[str] = []

    class Observer:
        @hookimpl
        def hub_message_event(self, event):
            seen.append(event.kind)
            raise RuntimeError("observer bug")

    config_dir = write_config(tmp_path / "config", partners=[
        {"id": "trust-a", "kind": "nhs_trust", "receive": {"mode": "pull"}},
        {"id": "council-luton", "kind": "council", "gss_code": "E06000032", "receive": {"mode": "pull"}},
    ])  # fmt: skip
    hub = build_hub(load_config(config_dir), plugins=load_plugins(env={}, extra_plugins=[Observer()]))
    try:
        from hub.testing.messages import housing_request

        accepted = hub.intake.submit_now(housing_request(), sender_id="trust-a")
        assert accepted.duplicate is False
        assert "received" in seen and "routed" in seen
    finally:
        hub.close()
