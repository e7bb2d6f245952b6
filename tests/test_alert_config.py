"""``[alerts]`` in ``hub.toml``: refused at start with the file and the entry, and every problem listed by
``hub config check`` with a suggestion."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.alert_settings import parse_alerts
from hub.config import load_config
from hub.plugin_api.problems import ConfigError
from hub.shipped import copy_example_config

ENV = {**os.environ, "HUB_KEY_PASSPHRASE": "a passphrase for the tests"}
GOOD = """
[alerts]
interval_seconds = 5
min_interval_seconds = 600

[[alerts.webhooks]]
name = "ops"
url = "https://alerts.example/hub"

[alerts.smtp]
host = "smtp.example"
from = "hub@trust.example"
to = ["ops@trust.example"]

[[alerts.thresholds]]
measure = "dead"
above = 1
below = 0

[[alerts.thresholds]]
measure = "pending"
partner = "council-luton"
above = 500
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    copy_example_config(directory)
    return directory


def with_alerts(config: Path, text: str) -> None:
    (config / "hub.toml").write_text((config / "hub.toml").read_text() + text)


def check(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub", "config", "check", "--config", str(config)],
                          capture_output=True, text=True, timeout=120, env=ENV)  # fmt: skip


def test_a_good_alerts_table_loads_with_its_defaults(config: Path) -> None:
    with_alerts(config, GOOD)
    alerts = load_config(config).settings.alerts
    assert alerts.enabled and alerts.channels == ("webhook:ops", "email")
    assert (alerts.interval_seconds, alerts.min_interval_seconds, alerts.max_attempts) == (5.0, 600.0, 12)
    assert alerts.smtp is not None and (alerts.smtp.port, alerts.smtp.starttls) == (587, True)
    dead, pending = alerts.thresholds
    assert (dead.measure, dead.above, dead.below, dead.partner) == ("dead", 1, 0, None)
    assert (pending.above, pending.below, pending.partner) == (500, 400, "council-luton")  # below: 80 % by default
    assert check(config).returncode == 0


def test_without_an_alerts_table_nothing_is_sent() -> None:
    assert not parse_alerts("hub.toml", {}).enabled


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ({"webhooks": [{"name": "ops", "url": "ftp://x"}]}, "hub.toml: alerts.webhooks[0].url: give an http://"),
        ({"webhooks": [{"name": "ops", "url": "https://u:pw@x/"}]}, "alerts.webhooks[0].url: a URL with a password"),
        ({"webhooks": [{"name": "ops", "url": "https://x/", "secret_env": "HUB_TEST_NO_SUCH_VARIABLE"}]},
         "alerts.webhooks[0].secret_env: the environment variable HUB_TEST_NO_SUCH_VARIABLE is not set"),
        ({"webhooks": [{"name": "a", "url": "https://x/"}, {"name": "a", "url": "https://y/"}]},
         "alerts.webhooks[1].name: 'a' is used by another webhook"),
        ({"smtp": {"host": "h", "from": "hub@x", "to": "nobody"}}, "alerts.smtp.to: give one address or a list"),
        ({"smtp": {"host": "h", "from": "hub@x", "to": "a@x", "username": "u"}},
         "alerts.smtp.password_env: give both username and password_env"),
        ({"webhooks": [{"name": "a", "url": "https://x/"}], "thresholds": [{"measure": "queued", "above": 3}]},
         "alerts.thresholds[0].measure: 'queued' is not one of pending, retrying, dead"),
        ({"webhooks": [{"name": "a", "url": "https://x/"}], "thresholds": [{"measure": "dead", "above": 3,
                                                                            "below": 3}]},
         "alerts.thresholds[0].below: must be 0 or more and under above (3), got 3"),
        ({"thresholds": [{"measure": "dead", "above": 3}]}, "thresholds are set but no webhook or smtp"),
        ({"intervl_seconds": 3}, "alerts.intervl_seconds: unknown setting"),
        ({"min_interval_seconds": -1}, "alerts.min_interval_seconds: must be 0 or more"),
    ],
)  # fmt: skip
def test_a_bad_value_is_refused_naming_the_file_and_the_entry(table: dict[str, object], error: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_alerts("hub.toml", table)
    assert error in str(refused.value)


def test_a_threshold_naming_no_partner_stops_the_hub_from_starting(config: Path) -> None:
    with_alerts(config, GOOD.replace('partner = "council-luton"', 'partner = "council-lutn"'))
    with pytest.raises(ConfigError, match=r"hub.toml: alerts.thresholds\[1\].partner: 'council-lutn' is not a partner"):
        load_config(config)


def test_config_check_lists_every_problem_of_alerts_with_a_suggestion(config: Path) -> None:
    bad = (GOOD.replace('partner = "council-luton"', 'partner = "council-lutn"')
           .replace('measure = "dead"', 'measure = "deaf"')
           .replace('url = "https://alerts.example/hub"', 'url = "https://alerts.example/hub"\ntimeout_secs = 3')
           .replace('host = "smtp.example"', 'host = "smtp.example"\nstarttls = "yes"'))  # fmt: skip
    with_alerts(config, bad)
    result = check(config)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    for expected in (
        "hub.toml: alerts.thresholds[1].partner: 'council-lutn' is not a partner of partners.toml "
        "(did you mean 'council-luton'?)",
        "hub.toml: alerts.thresholds[0].measure: 'deaf' is not one of pending, retrying, dead (did you mean 'dead'?)",
        "hub.toml: alerts.webhooks[0].timeout_secs: unknown setting",
        "hub.toml: alerts.smtp.starttls: expected bool, got 'yes'",
    ):
        assert any(line.startswith(expected) for line in lines), f"{expected!r} not in:\n{result.stderr}"
    assert "4 problems" in result.stderr
