"""The ``[pathway.airflow]`` table of hub.toml, read and checked once when the scheduler opens.

::

    [pathway.airflow]
    url = "https://airflow.example.org"    # Airflow's API server (required)
    hub_url = "https://hub.example.org"    # what the DAG's task calls back (required; passed in each run's conf)
    dag_id = "hub_pathway_timer"           # the DAG `hub airflow dag` ships (default)
    username_env = "HUB_AIRFLOW_USERNAME"  # sign in with a user and password read from these variables,
    password_env = "HUB_AIRFLOW_PASSWORD"  #   re-signing in whenever Airflow answers 401
    # token_env = "HUB_AIRFLOW_TOKEN"      # or: a bearer token read from this variable (re-read on 401)
    timeout_seconds = 10                   # per request to Airflow (default 10)
    ca_file = "/etc/hub/airflow-ca.pem"    # optional: the CA bundle for Airflow's TLS certificate

With neither credentials setting, the hub asks ``GET /auth/token`` for a token, which only Airflow's
simple auth manager with ``simple_auth_manager_all_admins`` answers: for a development Airflow only.
Secrets are never in the file, only the names of the environment variables that hold them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hub import ConfigError

DEFAULT_DAG_ID = "hub_pathway_timer"
DAG_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
KNOWN_KEYS = frozenset({"url", "hub_url", "dag_id", "username_env", "password_env", "token_env", "timeout_seconds",
                        "ca_file"})  # fmt: skip
WHERE = "hub.toml: pathway.airflow"


def where(key: str) -> str:
    """How an error names a key of the table, as the hub names its own (``hub.toml: pathway.airflow.url``)."""
    return f"{WHERE}.{key}"


@dataclass(frozen=True)
class Credentials:
    """How the hub signs in to Airflow: a user and password, a fixed token, or nothing (all-admins development)."""

    kind: str
    """``password``, ``token`` or ``open``."""
    username_env: str | None = None
    password_env: str | None = None
    token_env: str | None = None

    def read(self) -> tuple[str, str] | str | None:
        """The secret now: ``(username, password)``, a token, or None (``open``); ConfigError for an unset variable."""
        if self.kind == "open":
            return None
        keys = ["token_env"] if self.kind == "token" else ["username_env", "password_env"]
        values = []
        for key in keys:
            name = getattr(self, key)
            value = os.environ.get(name)
            if not value:
                raise ConfigError(f"{where(key)}: environment variable {name} is not set")
            values.append(value)
        return values[0] if self.kind == "token" else (values[0], values[1])


@dataclass(frozen=True)
class AirflowSettings:
    """What the Airflow scheduler needs: where Airflow is, which DAG, who the hub is and how it signs in."""

    url: str
    hub_url: str
    dag_id: str = DEFAULT_DAG_ID
    credentials: Credentials = Credentials("open")
    timeout_seconds: float = 10.0
    ca_file: str | None = None


def _http_url(settings: Mapping[str, Any], key: str) -> str:
    value = settings.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where(key)}: required (an http:// or https:// URL)")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{where(key)}: must be an http:// or https:// URL without query, got {value!r}")
    return value.rstrip("/")


def _env_name(settings: Mapping[str, Any], key: str) -> str | None:
    value = settings.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.replace("_", "").isalnum():
        raise ConfigError(f"{where(key)}: must name an environment variable, got {value!r}")
    return value


def read_settings(settings: Mapping[str, Any]) -> AirflowSettings:
    """Check the ``[pathway.airflow]`` table; a ConfigError saying which key is wrong and why."""
    unknown = sorted(set(settings) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{where(unknown[0])}: unknown setting (known: {', '.join(sorted(KNOWN_KEYS))})")
    dag_id = settings.get("dag_id", DEFAULT_DAG_ID)
    if (
        not isinstance(dag_id, str)
        or not dag_id
        or not dag_id.replace("_", "").replace("-", "").replace(".", "").isalnum()
    ):
        raise ConfigError(f"{where('dag_id')}: must be an Airflow DAG id (A-Z a-z 0-9 . _ -), got {dag_id!r}")
    username_env, password_env = _env_name(settings, "username_env"), _env_name(settings, "password_env")
    token_env = _env_name(settings, "token_env")
    if (username_env is None) != (password_env is None):
        raise ConfigError(f"{where('username_env')}: username_env and password_env go together")
    if token_env is not None and username_env is not None:
        raise ConfigError(f"{where('token_env')}: set either token_env or username_env/password_env, not both")
    if token_env is not None:
        credentials = Credentials("token", token_env=token_env)
    elif username_env is not None:
        credentials = Credentials("password", username_env=username_env, password_env=password_env)
    else:
        credentials = Credentials("open")
    timeout = settings.get("timeout_seconds", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 300:
        raise ConfigError(f"{where('timeout_seconds')}: must be a number of seconds in (0, 300], got {timeout!r}")
    ca_file = settings.get("ca_file")
    if ca_file is not None and (not isinstance(ca_file, str) or not os.path.isfile(ca_file)):
        raise ConfigError(f"{where('ca_file')}: {ca_file!r} is not a readable file")
    return AirflowSettings(url=_http_url(settings, "url"), hub_url=_http_url(settings, "hub_url"), dag_id=dag_id,
                           credentials=credentials, timeout_seconds=float(timeout), ca_file=ca_file)  # fmt: skip
