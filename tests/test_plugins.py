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
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)  # and this tree's plugins
    environment = {**os.environ, "PYTHONPATH": path, **env}
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
        "destination resolver:code",
        "destination resolver:field",
        "destination resolver:partner",
        "destination resolver:recipient",
        "destination resolver:reply",
        "key provider:file",
        "message type:Acknowledgement",
        "schema:https://hub.invalid/schemas/canonical/v1/common.schema.json",
        "schema:https://hub.invalid/schemas/canonical/v1/envelope.schema.json",
        "transport:http",
    ]
    assert {"partner kind:council", "code field:gss_code", "message type:HousingRequest"} <= set(
        rows["council"]["registers"]
    )


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


class _Impostor:
    name = "canonical-json"
    content_types = ("application/json",)
    default = True

    def parse(self, body, *, content_type, sender_id):
        return []

    def render(self, message, *, partner):
        return Rendered("application/json", b"{}")


class _Clash:
    @hookimpl
    def hub_register_adapters(self, register):
        register(_Impostor())


class _OtherClash(_Clash):
    pass


def test_two_plugins_registering_the_same_name_are_both_named() -> None:
    with pytest.raises(PluginError) as caught:
        load_plugins(env={}, extra_plugins=[_Clash(), _OtherClash()])
    assert "'_Clash-0'" in str(caught.value) and "'_OtherClash-1'" in str(caught.value)


def test_a_plugin_registering_a_default_name_replaces_the_hubs_own() -> None:
    plugins = load_plugins(env={}, extra_plugins=[_Clash()])
    assert isinstance(plugins.adapters["canonical-json"], _Impostor)
    assert plugins.default_adapter is plugins.adapters["canonical-json"]
    defaults = next(i for i in plugins.infos if i.name == "hub.defaults")
    assert "adapter:canonical-json" not in defaults.registered
    assert "transport:http" in defaults.registered  # the rest of the defaults stay


def test_the_defaults_can_be_disabled_and_a_plugin_bring_its_own() -> None:
    bare = load_plugins(env={"HUB_DISABLE_PLUGINS": "hub.defaults"})
    assert "hub.defaults" not in {i.name for i in bare.infos}
    assert "canonical-json" not in bare.adapters and "Acknowledgement" not in bare.message_types
    assert "partner" not in bare.vocabulary.destinations and "http" not in bare.transports
    with pytest.raises(PluginError, match="no loaded adapter is the default"):
        bare.default_adapter  # noqa: B018
    assert "DischargeNotice" in bare.message_types  # the nhs plugin's own still load
    replaced = load_plugins(env={"HUB_DISABLE_PLUGINS": "hub.defaults"}, extra_plugins=[_Clash()])
    assert isinstance(replaced.default_adapter, _Impostor)


def test_every_hook_call_goes_through_pluggy_so_tracing_sees_it(caplog) -> None:
    from hub.events import HubEvent

    class Observer:
        @hookimpl
        def hub_message_event(self, event):
            raise RuntimeError("observer bug")

    caplog.set_level("INFO", logger="hub.plugins")
    plugins = load_plugins(env={"HUB_TRACE_PLUGINS": "1"}, extra_plugins=[Observer()])
    traced = [r.getMessage() for r in caplog.records]
    assert "hook hub_register_adapters -> hub.defaults" in traced
    assert "hook hub_register_message_types -> council" in traced
    caplog.clear()
    failures = plugins.notify([HubEvent("received", "r-1", 0.0)])
    assert [(name, str(exc)) for name, exc in failures] == [("Observer-0", "observer bug")]
    traced = [r.getMessage() for r in caplog.records]
    assert "hook hub_message_event -> Observer-0" in traced and "hook hub_message_event raised RuntimeError" in traced
    assert any("observer plugin 'Observer-0' failed on a received event" in m for m in traced)


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
        from messages import housing_request

        accepted = hub.intake.submit_now(housing_request(), sender_id="trust-a")
        assert accepted.duplicate is False
        assert "received" in seen and "routed" in seen
    finally:
        hub.close()
