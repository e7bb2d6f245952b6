"""Signing in to Airflow's API: a bearer token, fetched when first needed and again whenever Airflow refuses it.

Airflow 3 hands out JWTs at ``/auth/token``: ``POST`` with ``{"username", "password"}`` for a real user (the
simple auth manager and the FAB one both answer it), or ``GET`` under the simple auth manager with
``simple_auth_manager_all_admins`` (development). A fixed token from the environment is re-read on each
refresh, so rotating it needs no restart.
"""

from __future__ import annotations

import threading

import urllib3

from hub_airflow.settings import AirflowSettings


class SignInFailed(Exception):
    """Airflow did not hand out a token (unreachable, refused, or an answer without one)."""


class TokenSource:
    """The current bearer token for Airflow, thread-safe; ``refresh()`` after a 401."""

    def __init__(self, settings: AirflowSettings, pool: urllib3.PoolManager) -> None:
        self._settings = settings
        self._pool = pool
        self._lock = threading.Lock()
        self._token: str | None = None
        self.sign_ins = 0
        """How many tokens this source has fetched or read (the first, then one per refresh)."""

    def current(self) -> str:
        """The token in use, signing in first if there is none yet."""
        with self._lock:
            if self._token is None:
                self._token = self._sign_in()
            return self._token

    def refresh(self, rejected: str) -> str:
        """A new token after Airflow refused ``rejected`` (another thread may have refreshed it already)."""
        with self._lock:
            if self._token is None or self._token == rejected:
                self._token = self._sign_in()
            return self._token

    def _sign_in(self) -> str:
        secret = self._settings.credentials.read()
        self.sign_ins += 1
        if isinstance(secret, str):
            return secret
        url = f"{self._settings.url}/auth/token"
        timeout = urllib3.Timeout(total=self._settings.timeout_seconds)
        try:
            if secret is None:
                response = self._pool.request("GET", url, timeout=timeout, retries=False)
            else:
                response = self._pool.request("POST", url, json={"username": secret[0], "password": secret[1]},
                                              timeout=timeout, retries=False)  # fmt: skip
        except urllib3.exceptions.HTTPError as error:
            raise SignInFailed(f"Airflow at {self._settings.url} could not be reached to sign in: {error}") from None
        if response.status not in (200, 201):
            how = "with the configured user" if secret is not None else "without credentials (all-admins mode)"
            raise SignInFailed(f"Airflow refused to sign the hub in {how}: {response.status} at {url}")
        try:
            token = response.json()["access_token"]
        except (ValueError, KeyError, TypeError):
            token = None
        if not isinstance(token, str) or not token:
            raise SignInFailed(f"Airflow's answer at {url} carried no access_token")
        return token
