"""The ``hub`` command: help everywhere, clear errors, and the operator's everyday commands."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hub.testing.messages import EXAMPLES, housing_request

COMMANDS = [
    [], ["init"], ["serve"], ["worker"], ["demo"], ["send"], ["messages"], ["messages", "list"],
    ["messages", "show"], ["dlq"], ["dlq", "list"], ["replay"], ["plugins"], ["plugins", "list"],
    ["validate"], ["partners"], ["partners", "list"], ["partners", "token"], ["db"], ["db", "status"],
    ["db", "upgrade"],
]  # fmt: skip


@pytest.fixture(autouse=True)
def passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command here runs with a key ring passphrase, as an operator's shell would have."""
    monkeypatch.setenv("HUB_KEY_PASSPHRASE", "a passphrase for the cli tests")


def hub(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, env={**os.environ, **(env or {})})  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "hub")
def test_every_command_has_help(command: list[str]) -> None:
    result = hub(*command, "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout


def test_init_makes_a_config_with_tokens_shown_once_and_only_digests_kept(tmp_path: Path) -> None:
    config = tmp_path / "config"
    result = hub("init", "--config", str(config))
    assert result.returncode == 0, result.stderr
    tokens = [line.split()[-1] for line in result.stdout.splitlines() if line.strip().startswith(("trust-", "ops"))]
    assert tokens and all(t.startswith("hub_") for t in tokens)
    partners = (config / "partners.toml").read_text()
    assert 'token_sha256 = "sha256:' in partners
    assert not any(token in partners for token in tokens)
    assert stat.S_IMODE((config / "partners.toml").stat().st_mode) == 0o600
    assert (tmp_path / "var" / "hub.db").exists()
    listed = hub("partners", "list", "--config", str(config))
    assert "council-luton" in listed.stdout and "NO TOKEN" not in listed.stdout


def test_validate_lists_every_problem_and_exits_non_zero(tmp_path: Path) -> None:
    bad = housing_request()
    bad["payload"]["target_authority_gss"] = "E10000015"
    bad["payload"]["person"]["nhs_number"] = "1234567890"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    result = hub("validate", str(EXAMPLES / "referral.json"), str(path))
    assert result.returncode == 1
    assert "referral.json: valid Referral" in result.stdout
    assert "$.payload.target_authority_gss" in result.stderr and "$.payload.person.nhs_number" in result.stderr


def test_send_messages_show_and_list_work_on_the_local_store(tmp_path: Path) -> None:
    config = tmp_path / "config"
    hub("init", "--config", str(config))
    files = []
    for n in range(12):
        path = tmp_path / f"m{n}.json"
        path.write_text(json.dumps(housing_request(sender="trust-elft")))
        files.append(str(path))
    sent = hub("send", *files, "--as", "trust-elft", "--config", str(config))
    assert sent.returncode == 0, sent.stderr
    assert "12 accepted, 0 refused" in sent.stderr
    assert "sending" in sent.stderr  # the progress bar, shown for many messages
    listed = hub("messages", "list", "--config", str(config), "--json")
    rows = json.loads(listed.stdout)
    assert len(rows) == 12 and {r["type"] for r in rows} == {"HousingRequest"}
    shown = json.loads(hub("messages", "show", rows[0]["id"], "--config", str(config)).stdout)
    assert shown["deliveries"][0]["partner"] == "council-luton"
    assert "payload" not in shown  # bodies are never printed


def test_errors_are_one_sentence_on_stderr_with_a_non_zero_exit(tmp_path: Path) -> None:
    missing = hub("messages", "list", "--config", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no such config directory" in missing.stderr
    assert "Traceback" not in missing.stderr
    config = tmp_path / "config"
    hub("init", "--config", str(config))
    unknown = hub("messages", "show", "nope", "--config", str(config))
    assert unknown.returncode == 1 and "no message nope" in unknown.stderr
    nothing = hub("replay", "--config", str(config))
    assert nothing.returncode == 2 and "--all-dead" in nothing.stderr


def test_partners_token_prints_a_token_and_its_digest_line() -> None:
    from hub.auth import hash_token

    out = hub("partners", "token", "council-luton").stdout
    token = out.split("): ")[1].split()[0]
    assert f'token_sha256 = "{hash_token(token)}"' in out


def test_serve_names_an_unknown_listener_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config"
    env = {"HUB_KEY_PASSPHRASE": "a passphrase for this test"}
    hub("init", "--config", str(config), env=env)
    (config / "hub.toml").write_text((config / "hub.toml").read_text() + "\n[listeners.pigeon]\nport = 1\n")
    result = hub("serve", "--config", str(config), "--port", "0", env=env)
    assert result.returncode == 2 and "[listeners.pigeon]" in result.stderr and "Traceback" not in result.stderr


def store_config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "config"
    config.mkdir()
    (config / "hub.toml").write_text(f'[store]\nurl = "{url}"\n')
    return config


def test_db_status_and_upgrade_on_a_sqlite_store(tmp_path: Path) -> None:
    config = store_config(tmp_path, "sqlite:///../var/hub.db")
    status = hub("db", "status", "--config", str(config))
    assert status.returncode == 1 and "schema version 0, this hub needs" in status.stdout
    assert not (tmp_path / "var" / "hub.db").exists()  # status changes nothing
    upgraded = hub("db", "upgrade", "--config", str(config))
    assert upgraded.returncode == 0 and "schema upgraded from version 0 to" in upgraded.stdout
    assert str(tmp_path / "var" / "hub.db") in upgraded.stdout
    status = hub("db", "status", "--config", str(config))
    assert status.returncode == 0 and "(up to date)" in status.stdout
    assert "nothing to upgrade" in hub("db", "upgrade", "--config", str(config)).stdout


def test_db_status_and_upgrade_on_a_postgresql_store(tmp_path: Path) -> None:
    from hub.store.postgres_schema import LATEST
    from hub.testing.postgres import drop_postgres_database, fresh_postgres_database

    url = fresh_postgres_database()
    try:
        config = store_config(tmp_path, url)
        status = hub("db", "status", "--config", str(config))
        assert status.returncode == 1 and f"schema version 0, this hub needs {LATEST}" in status.stdout
        upgraded = hub("db", "upgrade", "--config", str(config))
        assert upgraded.returncode == 0 and f"schema upgraded from version 0 to {LATEST}" in upgraded.stdout
        status = hub("db", "status", "--config", str(config))
        assert status.returncode == 0 and f"schema version {LATEST} (up to date)" in status.stdout
    finally:
        drop_postgres_database(url)


def test_a_postgresql_store_that_cannot_be_opened_is_named_without_its_password(tmp_path: Path) -> None:
    from hub.testing.postgres import POSTGRES_URL

    server = POSTGRES_URL.partition("://")[2].partition("?")[0].rpartition("@")[2].partition("/")[0]
    config = store_config(tmp_path, f"postgresql://someone:Pa55-w0rd-x@{server}/hubtest_pg_no_such_database")
    for command in (["db", "status"], ["db", "upgrade"]):
        result = hub(*command, "--config", str(config))
        assert result.returncode == 2, result.stderr
        assert "Pa55-w0rd-x" not in result.stderr + result.stdout
        assert f"cannot open the PostgreSQL store at postgresql://{server}/hubtest_pg_no_such_database" in result.stderr
