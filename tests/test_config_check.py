"""``hub config check``: every file checked against the loaded plugins, every problem listed with a suggestion."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub import ConfigCheck, ConfigProblem, DestinationResolver, hookimpl
from hub.cli.checks import Finding, from_error, registered_checks
from hub.shipped import copy_example_config

ENV = {**os.environ, "HUB_KEY_PASSPHRASE": "a passphrase for the tests"}


def hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub", *args], capture_output=True, text=True, timeout=120, env=ENV)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    copy_example_config(directory)
    return directory


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path.name}"
    path.write_text(text.replace(old, new, count))


def test_the_example_deployment_is_consistent(config: Path) -> None:
    result = hub("config", "check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "consistent" in result.stdout and result.stderr == ""


def test_every_problem_of_every_file_is_listed_with_file_entry_and_nearest_name(config: Path) -> None:
    edit(config / "hub.toml", "[server]", "[servr]")
    edit(config / "hub.toml", "concurrency = 64", 'concurrency = "many"')
    edit(config / "hub.toml", "jitter = 0.5", "jitter = 2")
    edit(config / "hub.toml", "max_attempts = 30", "max_attempts = 30\nmax_attempt = 3")
    edit(config / "hub.toml", "Referral = 90", "Referal = 90")
    edit(config / "hub.toml", 'provider = "file"', 'provider = "fil"')
    (config / "hub.toml").write_text((config / "hub.toml").read_text() + "\n[listeners.mlp]\nport = 2575\n")
    edit(config / "partners.toml", 'kind = "council"', 'kind = "councel"\nnmae = "Luton"')  # two in one entry
    edit(config / "partners.toml", 'id = "steps-luton"', 'id = "steps-luton"\nadapter = "councel-xml"')
    edit(
        config / "partners.toml",
        'transport = "http", url = "http://127.0.0.1:9104/ips"',
        'transport = "htp", url = "http://127.0.0.1:9104/ips"',
    )
    edit(config / "routes.toml", 'transform = "duty-to-refer"', 'transform = "duty-to-refr"')
    edit(config / "routes.toml", 'type = "FollowUp"', 'type = "FollowUpp"')
    odd = '\n[[route]]\nname = "odd"\ntype = "Referral"\ntransform = "ips-referral"\nto = "ips-luton"\n'
    (config / "routes.toml").write_text((config / "routes.toml").read_text() + odd)
    result = hub("config", "check", "--config", str(config))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    expected = [
        "hub.toml: [servr]: unknown table (did you mean 'server'?)",
        "hub.toml: retention.Referal: not a message type a loaded plugin registers (did you mean 'Referral'?)",
        "hub.toml: keys.provider: 'fil' is not a key provider a loaded plugin registers (did you mean 'file'?)",
        "hub.toml: listeners.mlp: no loaded plugin registers a listener of this name (did you mean 'mllp'?)",
        "hub.toml: delivery.concurrency: expected int, got 'many'",
        "hub.toml: retry.jitter: must be between 0 and 1, got 2",
        "hub.toml: retry.max_attempt: unknown setting (known: ",
        "partners.toml: partner[1].kind: 'councel' is not one of",
        "partners.toml: partner[1].nmae: unknown setting (known: ",
        "partners.toml: partner[3].adapter: 'councel-xml' is not an adapter a loaded plugin registers "
        "(did you mean 'council-xml'?)",
        "partners.toml: partner[4].receive.transport: 'htp' is not a transport a loaded plugin registers "
        "(did you mean 'http'?)",
        "routes.toml: route[0].transform: 'duty-to-refr' is not a transform a loaded plugin registers "
        "(did you mean 'duty-to-refer'?)",
        "routes.toml: route[6].type: 'FollowUpp' is not one of",
        "routes.toml: route[10].transform: 'ips-referral' derives from DischargeNotice, but this route takes Referral",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in lines), f"{start!r} not in:\n{result.stderr}"
    assert next(line for line in lines if "'councel' is not" in line).endswith("(did you mean 'council'?)")
    assert next(line for line in lines if "partner[1].nmae:" in line).endswith("(did you mean 'name'?)")
    assert next(line for line in lines if "retry.max_attempt:" in line).endswith("(did you mean 'max_attempts'?)")
    assert lines[-1].endswith(f"{len(lines) - 1} problems"), lines[-1]


def test_a_route_sending_a_partner_a_type_its_agreement_leaves_out_is_reported(config: Path) -> None:
    edit(config / "partners.toml", 'id = "ips-luton"', 'id = "ips-luton"\nagreement = { types = ["Referral"], '
                                   'fields = { Referral = ["payload"] } }')  # fmt: skip
    (config / "routes.toml").write_text((config / "routes.toml").read_text() + '\n[[route]]\nname = "ips-direct"\n'
                                        'type = "IPSReferral"\nto = "ips-luton"\n')  # fmt: skip
    result = hub("config", "check", "--config", str(config))
    assert result.returncode == 1
    assert (
        "partners.toml: partner 'ips-luton' agreement.types: route 'ips-direct' sends it IPSReferral, which its "
        "agreement does not allow (it allows Referral) (add 'IPSReferral' to its agreement.types"
    ) in result.stderr


def test_a_route_naming_a_partner_whose_entry_is_wrong_says_so(config: Path) -> None:
    edit(config / "partners.toml", 'id = "ips-luton"', 'id = "ips-luton"\nkind_of = "x"')
    (config / "routes.toml").write_text((config / "routes.toml").read_text() + '\n[[route]]\nname = "ips-direct"\n'
                                        'type = "IPSReferral"\nto = "ips-luton"\n')  # fmt: skip
    result = hub("config", "check", "--config", str(config))
    assert "partners.toml: partner[4].kind_of: unknown setting" in result.stderr
    assert "names partner 'ips-luton', whose entry in partners.toml has a problem" in result.stderr


def test_a_missing_file_and_bad_toml_are_findings_not_crashes(config: Path) -> None:
    (config / "routes.toml").unlink()
    (config / "partners.toml").write_text("[[partner]\nid = ")
    result = hub("config", "check", "--config", str(config))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "partners.toml: not valid TOML" in result.stderr
    assert "routes.toml: file not found (run 'hub init' to create a configuration)" in result.stderr


def test_no_config_directory_is_an_error(tmp_path: Path) -> None:
    result = hub("config", "check", "--config", str(tmp_path / "nowhere"))
    assert result.returncode == 1 and "no such config directory" in result.stderr


def test_hub_init_ends_by_checking_and_fails_on_a_problem(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    result = hub("init", "--config", str(fresh))
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("loaded plugins"), result.stdout
    broken = tmp_path / "broken"
    shutil.copytree(fresh, broken)
    edit(broken / "partners.toml", 'id = "steps-luton"', 'id = "steps-luton"\nadapter = "councel-xml"')
    edit(broken / "routes.toml", 'transform = "duty-to-refer"', 'transform = "duty-to-refr"')
    result = hub("init", "--config", str(broken))
    assert result.returncode == 1
    assert "partner[3].adapter: 'councel-xml'" in result.stderr and "'duty-to-refr'" in result.stderr
    edit(broken / "partners.toml", 'kind = "council"', 'kind = "councel"')  # one the loader itself refuses
    result = hub("init", "--config", str(broken))
    assert result.returncode == 1 and "nothing else was prepared" in result.stderr
    assert "'councel' is not one of" in result.stderr and "'duty-to-refr'" in result.stderr


def test_each_file_has_its_own_registered_checker_in_order() -> None:
    files = [(c.file, c.order) for c in registered_checks()]
    assert files[:4] == [("hub.toml", 10), ("partners.toml", 20), ("routes.toml", 30), ("agreements", 40)]


class _BuggyDestinations:
    """A plugin whose destination resolver's option check has a bug (a KeyError, not the ValueError the hub
    expects), and whose own config check notes that it ran."""

    @hookimpl
    def hub_register_destinations(self, register: Callable[[DestinationResolver], None]) -> None:
        def check(options: dict[str, Any], setup: Any) -> None:
            raise KeyError("oops")

        register(DestinationResolver("buggy", lambda message, options, context: "trust-elft", check=check))

    @hookimpl
    def hub_register_config_checks(self, register: Callable[[ConfigCheck], None]) -> None:
        register(ConfigCheck("buggy-ran", lambda context: [ConfigProblem("hub.toml", "plugins.buggy", "checked",
                                                                         warning=True)]))  # fmt: skip


def test_a_checker_that_crashes_is_a_finding_and_the_others_still_run(config: Path) -> None:
    from hub.cli.checks import run_checks
    from hub.plugins import load_plugins

    with (config / "routes.toml").open("a") as routes:
        routes.write('\n[[route]]\nname = "buggy"\ntype = "Referral"\nto = { kind = "buggy" }\n')
    findings = run_checks(config, load_plugins(extra_plugins=[_BuggyDestinations()]))
    assert [f.line() for f in findings] == [
        "routes.toml: the checker failed: KeyError: 'oops'",
        "hub.toml: plugins.buggy: warning: checked",  # the plugins' checks, which run last, still ran
    ]


def test_a_sentence_from_the_loaders_becomes_file_entry_problem_and_suggestion() -> None:
    finding = from_error("hub.toml: delivery.timeout_secs: unknown setting (known: concurrency, timeout_seconds)",
                         "hub.toml")  # fmt: skip
    assert finding == Finding("hub.toml", "delivery.timeout_secs", "unknown setting (known: concurrency, "
                              "timeout_seconds)", "did you mean 'timeout_seconds'?")  # fmt: skip
