"""Store URLs: which backend holds the hub's data, and where (``[store] url`` in ``hub.toml``).

``sqlite:///relative/path.db`` (resolved against the config directory),
``sqlite:////absolute/path.db``, or ``postgresql://user@host:5432/dbname`` (a libpq URI).
A backend registers its scheme in ``BACKENDS`` as ``module:function`` taking
``(url, codecs, options)`` (``ports.StoreOptions``). This module imports no backend, so the configuration can be
checked without one.
"""

from __future__ import annotations

from pathlib import Path

from hub.plugin_api.problems import ConfigError

SQLITE = "sqlite"
#: scheme -> "module:function" that opens a store for a URL of that scheme
BACKENDS: dict[str, str] = {SQLITE: "hub.store.sqlite:open_sqlite", "postgresql": "hub.store.postgres:open_postgres"}
#: scheme -> module with ``schema_status(url)`` and ``upgrade_schema(url)`` (``hub.store.schema``)
SCHEMAS: dict[str, str] = {SQLITE: "hub.store.sqlite_upgrade", "postgresql": "hub.store.postgres_schema"}
SETTING = "hub.toml: store.url"


def scheme_of(url: str, setting: str = SETTING) -> str:
    """The URL's scheme, checked to be one a backend opens; a ``ConfigError`` naming ``setting`` otherwise.

    The message never repeats the URL (it may hold a password).
    """
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise ConfigError(f"{setting}: not a store URL (write it as sqlite:///path/to/hub.db)")
    if scheme not in BACKENDS:
        raise ConfigError(f"{setting}: {scheme!r} is not a store this hub has ({', '.join(sorted(BACKENDS))})")
    return scheme


def sqlite_url(path: Path) -> str:
    """The URL of the SQLite file at ``path`` (made absolute)."""
    return f"{SQLITE}:///{Path(path).resolve()}"


def sqlite_path(url: str, base: Path | None = None, setting: str = SETTING) -> Path:
    """The file a ``sqlite:///`` URL names; a relative one is resolved against ``base`` (the config directory)."""
    prefix = f"{SQLITE}:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ConfigError(f"{setting}: a SQLite store URL is sqlite:/// followed by the file's path")
    path = Path(url[len(prefix) :])
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    return path.resolve()


def describe(url: str) -> str:
    """Where the store is, for messages: the SQLite file's path, or the URL without user, password and options.

    The options (``?...``) go too, since libpq takes a ``password=`` there as well.
    """
    if url.startswith(f"{SQLITE}:///"):
        return str(sqlite_path(url))
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.partition('?')[0].rpartition('@')[2]}"
