"""The kit shipped to plugin authors: the pytest fixtures run a third party's tests against a real hub.

Each test here writes a small test suite as a plugin author would, runs it with pytest (``pytester``)
and checks its outcome; the suite loads the fixtures as an installed hub would (entry point ``hub``).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What an installed hub's entry point does: register the fixtures under the name "hub" (once).
LOADER = """
import importlib

def pytest_configure(config):
    plugin = importlib.import_module("hub.testing.pytest_plugin")
    if not config.pluginmanager.is_registered(plugin):
        config.pluginmanager.register(plugin, "hub")
"""

AUTHOR_SUITE = """
import pytest
import requests

from hub.testing.messages import housing_request
from hub.testing.world import Partner

PARTNERS = [
    Partner("trust-x", "nhs_trust", {"ods_code": "RWK"}, receive="pull"),
    Partner("council-x", "council", {"gss_code": "E06000032"}),
]
ROUTES = [{"name": "to-council", "type": "HousingRequest", "to": "council-x"}]


@pytest.mark.hub_world(partners=PARTNERS, routes=ROUTES)
def test_a_world_of_my_partners_and_routes(hub_world, hub_cli):
    assert set(hub_world.tokens) == {"trust-x", "council-x", "ops"}
    assert set(hub_world.sims) == {"council-x"}
    assert hub_world.send("trust-x", housing_request("trust-x")).status_code == 202
    assert hub_world.sims["council-x"].wait_for(lambda s: s.messages("HousingRequest"))
    listed = hub_cli(hub_world.config_dir, "partners", "list")
    assert listed.returncode == 0, listed.stderr
    assert "council-x" in listed.stdout and "trust-a" not in listed.stdout


def test_a_simulator_and_a_token(partner_simulator, hub_token):
    simulator = partner_simulator("somebody")
    answer = requests.post(f"{simulator.url}/in", json={"a": 1}, headers={"Idempotency-Key": "k1"}, timeout=10)
    assert answer.status_code == 200
    assert simulator.messages() == [{"a": 1}]
    assert hub_token.header == {"Authorization": f"Bearer {hub_token.value}"}
    assert hub_token.sha256.startswith("sha256:") and hub_token.value not in hub_token.sha256
"""


def test_a_plugin_authors_suite_runs_against_a_world_of_its_own_partners(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(LOADER)
    pytester.makepyfile(test_author=AUTHOR_SUITE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_the_hub_world_marker_takes_keyword_arguments_only(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(LOADER)
    pytester.makepyfile(
        test_author="""
import pytest

@pytest.mark.hub_world(["trust-a"])
def test_positional(hub_world):
    pass
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the hub_world marker takes keyword arguments only*"])


def test_loading_the_plugin_starts_nothing_and_imports_no_server_code() -> None:
    code = (
        "import sys, threading, hub.testing.pytest_plugin\n"
        "heavy = ('aiohttp', 'requests', 'hub.testing.world', 'hub.testing.simulator')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert threading.active_count() == 1\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


def test_the_hub_distribution_declares_the_plugin_under_pytest11() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"hub": "hub.testing.pytest_plugin"}


def test_write_config_names_the_store_by_url_and_the_older_form_a_caller_gives_still_loads(tmp_path: Path) -> None:
    from hub.config import load_settings
    from hub.testing import write_config

    config = write_config(tmp_path / "new", partners=[], make_keys=False)
    written = tomllib.loads((config / "hub.toml").read_text())["store"]
    assert written == {"url": f"sqlite:///{(config / 'hub.db').resolve()}"}
    settings = load_settings(config)
    assert (settings.store_path, settings.state_dir) == ((config / "hub.db").resolve(), config.resolve())

    older = write_config(tmp_path / "old", partners=[], make_keys=False, settings={"store": {"path": "old.db"}})
    assert tomllib.loads((older / "hub.toml").read_text())["store"] == {"path": "old.db"}  # not mixed with url
    assert load_settings(older).store_path == (older / "old.db").resolve()


def test_build_test_hub_builds_the_hub_in_process_with_a_plugin_of_the_tests_own(tmp_path: Path) -> None:
    import types

    from hub import MessageType, hookimpl
    from hub.testing import build_test_hub, canonical_problems, write_config
    from hub.testing.messages import housing_request

    @hookimpl
    def hub_register_message_types(register):
        register(MessageType("TestOnly", {"$id": "https://hub.invalid/schemas/test-only.schema.json",
                                          "$schema": "https://json-schema.org/draft/2020-12/schema"}))  # fmt: skip

    plugin = types.ModuleType("a_tests_own_plugin")  # as a plugin module of one's own would be
    plugin.hub_register_message_types = hub_register_message_types  # type: ignore[attr-defined]
    config = write_config(tmp_path, partners=[
        {"id": "trust-a", "kind": "nhs_trust", "ods_code": "RWK", "receive": {"mode": "pull"}},
        {"id": "council-luton", "kind": "council", "gss_code": "E06000032", "receive": {"mode": "pull"}},
    ], routes=[{"name": "referral", "type": "HousingRequest", "to": "council-luton"}])  # fmt: skip
    hub = build_test_hub(config, plugins=[plugin])
    try:
        assert "TestOnly" in hub.plugins.vocabulary.message_types
        accepted = hub.intake.submit_now(housing_request(), sender_id="trust-a")
        assert not accepted.duplicate
        assert hub.store.counts()["deliveries_available"] == 1
    finally:
        hub.close()
    assert canonical_problems(housing_request(), "trust-a") == []
    broken = housing_request()
    del broken["payload"]["person"]
    [problem] = canonical_problems(broken, "trust-a")
    assert problem.location == "$.payload" and "person" in problem.message
