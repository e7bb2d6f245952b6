"""Plugins load through entry points like any third party's; one broken plugin never stops the rest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from fastapi import APIRouter

from hub import Rendered, RouteSpec, Transform, hookimpl
from hub.auth import generate_token, hash_token
from hub.plugin_api.problems import PluginError
from hub.plugins import load_plugins
from hub.testing import RunningHub, write_config


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
        "message type:PathwayNotice",
        "scheduler:embedded",
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
    from hub.plugin_api.events import HubEvent

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
        from hub.testing.messages import housing_request

        accepted = hub.intake.submit_now(housing_request(), sender_id="trust-a")
        assert accepted.duplicate is False
        assert "received" in seen and "routed" in seen
    finally:
        hub.close()


ROUTES_PLUGIN = """
from fastapi import APIRouter
from hub import RouteSpec, hookimpl
from hub.plugin_api.callers import Authenticated, OperatorCaller

router = APIRouter()


@router.get("/whoami")
async def whoami(caller: Authenticated) -> dict:
    return {"id": caller.id, "role": caller.role}


@router.get("/waiting")
async def waiting(caller: OperatorCaller, limit: int = 10) -> dict:
    return {"limit": limit}


@router.get("/healthz")
async def impostor() -> dict:
    return {"status": "hijacked"}


open_router = APIRouter()


@open_router.get("/hello")
async def hello() -> dict:
    return {"hello": "world"}


@hookimpl
def hub_register_routes(register):
    register(RouteSpec("acme", router))
    register(RouteSpec("acme-open", open_router, public=True))
"""


@pytest.fixture(scope="module")
def routes_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningHub, dict[str, str]]]:
    """A real ``hub serve`` with a plugin, installed as a distribution, that adds HTTP routes."""
    root = tmp_path_factory.mktemp("routes")
    site = root / "site"
    site.mkdir()
    make_distribution(site, "acme-hub-routes", "acme_routes", ROUTES_PLUGIN, "acme-routes")
    tokens = {"trust-a": generate_token(), "ops": generate_token()}
    config_dir = write_config(root / "config", partners=[
        {"id": "trust-a", "kind": "nhs_trust", "ods_code": "RWK", "token_sha256": hash_token(tokens["trust-a"]),
         "receive": {"mode": "pull"}},
    ], operators=[{"id": "ops", "token_sha256": hash_token(tokens["ops"])}], routes=[])  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
        running = RunningHub(config_dir).start()
    try:
        yield running, tokens
    finally:
        running.stop()


def _get(hub: RunningHub, path: str, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{hub.url}{path}", headers=headers, timeout=10)


def test_a_plugins_routes_are_served_under_its_prefix_behind_the_hubs_authentication(routes_hub) -> None:
    hub, tokens = routes_hub
    refused = _get(hub, "/plugins/acme/whoami")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert _get(hub, "/plugins/acme/whoami", "not-a-token").status_code == 401
    assert _get(hub, "/plugins/acme/whoami", tokens["trust-a"]).json() == {"id": "trust-a", "role": "partner"}
    assert _get(hub, "/plugins/acme/whoami", tokens["ops"]).json() == {"id": "ops", "role": "operator"}


def test_a_plugin_route_uses_the_hubs_roles_and_answers_401_before_422(routes_hub) -> None:
    hub, tokens = routes_hub
    assert _get(hub, "/plugins/acme/waiting?limit=many").status_code == 401
    forbidden = _get(hub, "/plugins/acme/waiting", tokens["trust-a"])
    assert forbidden.status_code == 403 and forbidden.json()["detail"] == "Only operators may do this."
    assert _get(hub, "/plugins/acme/waiting?limit=3", tokens["ops"]).json() == {"limit": 3}
    invalid = _get(hub, "/plugins/acme/waiting?limit=many", tokens["ops"])
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["location"] == "query.limit"
    assert "many" not in invalid.text


def test_a_plugin_cannot_shadow_the_hubs_own_routes(routes_hub) -> None:
    hub, tokens = routes_hub
    assert _get(hub, "/healthz").json() == {"status": "ok"}
    assert _get(hub, "/plugins/acme/healthz", tokens["ops"]).json() == {"status": "hijacked"}


def test_a_public_plugin_route_needs_no_token_and_the_document_says_which_do(routes_hub) -> None:
    hub, _tokens = routes_hub
    assert _get(hub, "/plugins/acme-open/hello").json() == {"hello": "world"}
    paths = _get(hub, "/openapi.json").json()["paths"]
    assert "security" not in paths["/plugins/acme/whoami"]["get"]  # the document's default: a bearer token
    assert paths["/plugins/acme-open/hello"]["get"]["security"] == []
    assert "/healthz" in paths and "/plugins/acme/healthz" in paths


def test_plugins_list_shows_the_routes_a_plugin_adds(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    make_distribution(site, "acme-hub-routes", "acme_routes", ROUTES_PLUGIN, "acme-routes")
    rows = {r["name"]: r for r in json.loads(plugins_list(site).stdout)}
    assert rows["acme-routes"]["registers"] == ["routes:acme", "routes:acme-open"]


def test_routes_must_be_a_fastapi_router_with_a_valid_name() -> None:
    with pytest.raises(TypeError, match=r"not a fastapi\.APIRouter"):
        RouteSpec("acme", object())
    with pytest.raises(ValueError, match="invalid"):
        RouteSpec("Acme Routes", APIRouter())


def test_two_plugins_claiming_the_same_prefix_are_both_named() -> None:
    class First:
        @hookimpl
        def hub_register_routes(self, register):
            register(RouteSpec("shared", APIRouter()))

    class Second(First):
        pass

    with pytest.raises(PluginError, match="routes 'shared' is registered by both") as caught:
        load_plugins(env={}, extra_plugins=[First(), Second()])
    assert "First" in str(caught.value) and "Second" in str(caught.value)
