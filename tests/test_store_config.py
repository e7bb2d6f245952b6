"""`[store] url` picks the backend and its place, `[store] state_dir` the state directory; old keys still work."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import Settings, load_settings
from hub.plugin_api.problems import ConfigError
from hub.store import open_store
from hub.store.url import describe, sqlite_url


def settings_with(tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("HUB_DB", raising=False)
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "hub.toml").write_text(f"[store]\n{store}\n")
    return load_settings(config)


def test_a_relative_sqlite_url_is_resolved_against_the_config_directory(tmp_path, monkeypatch) -> None:
    settings = settings_with(tmp_path, 'url = "sqlite:///../data/hub.db"', monkeypatch)
    assert settings.store_url == sqlite_url(tmp_path / "data" / "hub.db")
    assert settings.store_path == (tmp_path / "data" / "hub.db").resolve()
    assert settings.state_dir == (tmp_path / "data").resolve()  # beside the SQLite file unless set
    store = open_store(settings.store_url)
    store.close()
    assert (tmp_path / "data" / "hub.db").exists()


def test_an_absolute_sqlite_url_and_a_state_dir_of_its_own(tmp_path, monkeypatch) -> None:
    settings = settings_with(tmp_path, f'url = "sqlite:///{tmp_path}/db/hub.db"\nstate_dir = "../state"', monkeypatch)
    assert settings.store_path == (tmp_path / "db" / "hub.db").resolve()
    assert settings.state_dir == (tmp_path / "state").resolve()


def test_the_older_backend_and_path_and_hub_db_keep_working(tmp_path, monkeypatch) -> None:
    settings = settings_with(tmp_path, 'backend = "sqlite"\npath = "old.db"', monkeypatch)
    assert settings.store_url == sqlite_url(tmp_path / "config" / "old.db")
    assert settings_with(tmp_path, "", monkeypatch).store_url == sqlite_url(tmp_path / "var" / "hub.db")
    monkeypatch.setenv("HUB_DB", "env.db")
    (tmp_path / "config" / "hub.toml").write_text('[store]\nurl = "sqlite:///other.db"\n')
    assert load_settings(tmp_path / "config").store_url == sqlite_url(tmp_path / "config" / "env.db")


@pytest.mark.parametrize(
    ("store", "says"),
    [
        ('url = "mongodb://admin:s3cret@db.example/hub"', "hub.toml: store.url: 'mongodb' is not a store this hub has"),
        ('url = "hub.db"', "hub.toml: store.url: not a store URL"),
        ('url = "sqlite:///"', "hub.toml: store.url: a SQLite store URL is sqlite:/// followed by"),
        ('url = "sqlite:///a.db"\npath = "b.db"', "hub.toml: store.path: give either store.url or"),
        ('backend = "oracle"', "hub.toml: store.backend: 'oracle' is not a store this hub has"),
    ],
)
def test_a_store_setting_the_hub_cannot_use_is_refused_naming_the_setting(tmp_path, monkeypatch, store, says) -> None:
    with pytest.raises(ConfigError) as refused:
        settings_with(tmp_path, store, monkeypatch)
    assert str(refused.value).startswith(says)
    assert "s3cret" not in str(refused.value)


def test_open_store_refuses_a_scheme_it_has_no_backend_for(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"^hub.toml: store.url: 'mysql' is not a store this hub has \(postgresql, "):
        open_store("mysql://hub@localhost/hub")


def test_a_postgresql_url_is_taken_as_it_is_and_state_stays_beside_the_config(tmp_path, monkeypatch) -> None:
    url = "postgresql://hub:s3cret@db.example:5432/hub?sslmode=require"
    settings = settings_with(tmp_path, f'url = "{url}"', monkeypatch)
    assert settings.store_url == url and settings.store_path is None
    assert settings.state_dir == (tmp_path / "var").resolve()
    assert describe(url) == "postgresql://db.example:5432/hub"  # no user, password or options in messages
