"""The ``hostels-directory`` config check: every problem of the service links in one ``hub config check`` run,
warnings for linked services the imported directory lacks (SQLite and PostgreSQL, read only), and ``hub serve``
refusing to start on a bad link."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostels_feed import synthetic_service
from hub_hostels.directory.database import open_directory
from hub_hostels.directory.importer import import_file

from hub.testing.postgres import drop_postgres_database, fresh_postgres_database, postgres_server
from hub.testing.running_hub import EXAMPLE_CONFIG

ENV = {**os.environ, "HUB_KEY_PASSPHRASE": "a passphrase for the tests"}

BAD_LINKS = """
[plugins.hostels]
needs_from_terms = { "mental health" = "mental_helth" }
directory_database = "mysql://db/hub"

[[plugins.hostels.service]]
id = "svc-000001"
partner = "steps-lutn"
minimum_age = 65
maximum_age = 18
genders = ["femail", "male"]
needs = ["mental_helth", "pets", "alcohl"]
areas = ["E10000025", "LU1 3JU", "LU2", "nowhere"]
unti = "bed"

[[plugins.hostels.service]]
id = "svc-000002"
partner = "council-luton"

[[plugins.hostels.service]]
id = "svc-000002"
partner = "steps-luton"

[[plugins.hostels.service]]
id = "svc-000003"
partner = "gp-charity"

[listeners.directory-refresh]
feeds = ["https://directory.example.org/api"]
every_minutes = 0
workers = 100
"""

NO_REFERRALS_CHARITY = """
[[partner]]
id = "gp-charity"
name = "A charity that receives only follow-ups"
kind = "charity"
receive = { mode = "pull" }
tls_only = true
agreement = { types = ["FollowUp"], fields = { FollowUp = ["payload"] } }
"""


def hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub", *args], capture_output=True, text=True, timeout=120, env=ENV)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, directory)
    return directory


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_every_problem_of_the_service_links_is_listed_in_one_run_with_suggestions(config: Path) -> None:
    append(config / "hub.toml", BAD_LINKS)
    append(config / "partners.toml", NO_REFERRALS_CHARITY)
    result = hub("config", "check", "--config", str(config))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    where = "hub.toml: plugins.hostels"
    expected = {
        f"{where}.needs_from_terms.mental health: 'mental_helth' is not a need": "(did you mean 'mental_health'?)",
        f"{where}.directory_database: must be a URL": "(e.g. 'sqlite:///var/directory.db' or 'postgresql://hub@db/hub')",
        f"{where}.service[0].unti: not a key of a service link": "(did you mean 'unit'?)",
        f"{where}.service[0].minimum_age: is above maximum_age": "(swap minimum_age and maximum_age)",
        f"{where}.service[0].genders: 'femail' is not one of": "(did you mean 'female'?)",
        f"{where}.service[0].needs: 'alcohl' is not one of": "(did you mean 'alcohol'?)",
        f"{where}.service[0].needs: 'mental_helth' is not one of": "(did you mean 'mental_health'?)",
        f"{where}.service[0].areas: 'E10000025' is neither": "a county (E10) is not: name its districts)",
        f"{where}.service[0].areas: 'LU1 3JU' is neither": "(a postcode's district: did you mean 'LU1'?)",
        f"{where}.service[0].areas: 'NOWHERE' is neither": "(a GSS code such as E06000032, or a postcode district "
        "such as LU1)",
        f"{where}.service[0].partner: 'steps-lutn' is not a partner of partners.toml": "(did you mean 'steps-luton'?)",
        f"{where}.service[1].partner: 'council-luton' is a partner of kind 'council', which does not take referrals":
        "(link the service to one of: steps-luton)",
        f"{where}.service[2].id: 'svc-000002' is linked twice": "(keep one link per service)",
        f"{where}.service[3].partner: the agreement of 'gp-charity' does not allow Referral":
        "(add 'Referral' to its agreement.types in partners.toml)",
        "hub.toml: listeners.directory-refresh.every_minutes: a number of minutes above 0": "",
        "hub.toml: listeners.directory-refresh.workers: a whole number from 1 to 64": "",
    }  # fmt: skip
    for start, suggestion in expected.items():
        found = [line for line in lines if line.startswith(start)]
        assert len(found) == 1, (start, result.stderr)
        assert found[0].endswith(suggestion), found[0]
    assert lines[-1].endswith(f": {len(expected)} problems"), result.stderr


def test_the_example_configuration_with_good_links_and_no_directory_yet_passes_with_a_warning(config: Path) -> None:
    append(config / "hub.toml", '\n[plugins.hostels]\ndirectory_database = "sqlite:///../var/directory.db"\n\n'
           '[[plugins.hostels.service]]\nid = "svc-000001"\npartner = "steps-luton"\nneeds = ["mental_health"]\n'
           'areas = ["E06000032", "LU1"]\n')  # fmt: skip
    result = hub("config", "check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "hub.toml: plugins.hostels.service: warning: 1 services are linked, but no directory has been imported yet "
        "(run 'hub directory import FEED')\n"
    )
    assert result.stdout.strip().endswith("loaded plugins, 1 warning")
    assert not (config.parent / "var" / "directory.db").exists()  # a check creates nothing


@pytest.fixture(params=["sqlite", "postgresql"])
def directory_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A directory holding svc-000001 (active) and svc-000002 (withdrawn by its feed), on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'directory.db'}"
    else:
        postgres_server()
        url = fresh_postgres_database()
    services = [synthetic_service(1), {**synthetic_service(2), "status": "inactive"}]
    (tmp_path / "feed.json").write_text(json.dumps(services))
    database = open_directory(url)
    try:
        import_file(database, tmp_path / "feed.json")
    finally:
        database.close()
    yield url
    if request.param == "postgresql":
        drop_postgres_database(url)


def test_linked_services_absent_from_or_withdrawn_in_the_directory_are_warnings(config: Path,
                                                                               directory_url: str) -> None:  # fmt: skip
    links = "".join(f'\n[[plugins.hostels.service]]\nid = "{ident}"\npartner = "steps-luton"\n'
                    for ident in ("svc-000001", "svc-000002", "svc-000009"))  # fmt: skip
    append(config / "hub.toml", f'\n[plugins.hostels]\ndirectory_database = "{directory_url}"\n{links}')
    result = hub("config", "check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "hub.toml: plugins.hostels.service[1].id: warning: 'svc-000002' is withdrawn from the directory: it is never "
        "offered (remove the link, or check the feed)",
        "hub.toml: plugins.hostels.service[2].id: warning: 'svc-000009' is not a service of the imported directory "
        "(did you mean 'svc-000001'?)",
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_hub_serve_refuses_to_start_on_a_bad_link(tmp_path: Path) -> None:
    config = tmp_path / "config"
    assert hub("init", "--config", str(config)).returncode == 0
    append(config / "hub.toml", '\n[[plugins.hostels.service]]\nid = "svc-000001"\npartner = "steps-lutn"\n'
           'needs = ["pet"]\n')  # fmt: skip
    result = hub("serve", "--config", str(config), "--port", str(_free_port()), "--no-worker", "--no-listeners")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert "hub: hub.toml: plugins.hostels.service[0].needs: 'pet' is not one of" in result.stderr
    assert any(line.endswith("(did you mean 'pets'?)") for line in lines), result.stderr
    assert ("hub: hub.toml: plugins.hostels.service[0].partner: 'steps-lutn' is not a partner of partners.toml "
            "(did you mean 'steps-luton'?)") in lines  # fmt: skip
    assert lines[-1] == ("hub: 2 problems in the plugins' configuration (above; 'hub config check' lists every "
                         "problem); nothing was started")  # fmt: skip


def test_offer_settings_and_the_offer_window_milestone_are_checked(config: Path) -> None:
    link = '\n[[plugins.hostels.service]]\nid = "svc-000001"\npartner = "steps-luton"\n'
    append(config / "hub.toml", f"\n[plugins.hostels.offers]\nat_once = 0\n{link}")
    result = hub("config", "check", "--config", str(config))
    assert result.returncode == 1
    assert "hub.toml: plugins.hostels.offers.at_once: must be a number above 0" in result.stderr, result.stderr
    # a window milestone that pathways.toml does not declare: offers would never lapse (a warning)
    text = (config / "hub.toml").read_text().replace("at_once = 0", 'window_milestone = "offer-windw"')
    (config / "hub.toml").write_text(text)
    result = hub("config", "check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert ("pathways.toml: milestone (offer-windw): warning: no milestone 'offer-windw': offers made to linked "
            "services never lapse") in result.stderr, result.stderr  # fmt: skip
