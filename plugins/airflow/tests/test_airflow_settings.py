"""``[pathway.airflow]`` is checked when the scheduler opens: a bad table is refused naming the key and why."""

from __future__ import annotations

from typing import Any

import pytest
from hub_airflow.settings import read_settings

from hub import ConfigError

GOOD = {"url": "https://airflow.example.org/", "hub_url": "https://hub.example.org"}


def test_a_minimal_table_reads_with_defaults() -> None:
    settings = read_settings(GOOD)
    assert settings.url == "https://airflow.example.org"
    assert settings.dag_id == "hub_pathway_timer"
    assert settings.credentials.kind == "open"
    assert settings.timeout_seconds == 10.0


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"url": None}, "url: required"),
        ({"url": "ftp://airflow"}, "url: must be an http"),
        ({"hub_url": "hub.example.org"}, "hub_url: must be an http"),
        ({"dag_id": "has space"}, "dag_id: must be an Airflow DAG id"),
        ({"username_env": "HUB_AF_USER"}, "username_env: username_env and password_env go together"),
        ({"token_env": "T", "username_env": "U", "password_env": "P"}, "token_env: set either token_env or"),
        ({"token_env": "not a name"}, "token_env: must name an environment variable"),
        ({"timeout_seconds": 0}, r"timeout_seconds: must be a number of seconds in \(0, 300\]"),
        ({"timeout_seconds": True}, "timeout_seconds"),
        ({"ca_file": "/nonexistent/ca.pem"}, "ca_file: '/nonexistent/ca.pem' is not a readable file"),
        ({"password": "hunter2"}, "password: unknown setting"),
    ],
)
def test_a_bad_table_is_refused_naming_the_key(change: dict[str, Any], said: str) -> None:
    table = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(ConfigError, match=rf"hub.toml: pathway\.airflow\.{said}"):
        read_settings(table)


def test_credentials_are_read_from_the_environment_when_used(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = read_settings({**GOOD, "username_env": "HUB_AF_USER", "password_env": "HUB_AF_PASSWORD"})
    monkeypatch.delenv("HUB_AF_USER", raising=False)
    with pytest.raises(
        ConfigError, match=r"pathway\.airflow\.username_env: environment variable HUB_AF_USER is not set"
    ):
        settings.credentials.read()
    monkeypatch.setenv("HUB_AF_USER", "hub")
    monkeypatch.setenv("HUB_AF_PASSWORD", "pw")
    assert settings.credentials.read() == ("hub", "pw")
