"""Fixtures of the dashboard's browser tests: Debian's chromium driven by Playwright, and a hub with users.

The browser is the system's (``/usr/bin/chromium``, installed by ``make``; Playwright downloads none). Without it,
or without Playwright, the tests are skipped with the reason, or fail when ``HUB_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard.dash_support import PASSWORDS, ROLES

from hub.testing.world import HubWorld, build_world

CHROMIUM = Path(os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium"))


def _unavailable(reason: str) -> None:
    if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
        pytest.fail(f"HUB_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless chromium (the system's), closed after the module: Playwright's synchronous API runs an event loop
    while it is open, and the tests that follow (``asyncio.run``) need none running."""
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is missing: 'make test' installs it (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (the test extras: pip install -e '.[test]')")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


def add_users(world: HubWorld, more: dict[str, tuple[str, str]] | None = None) -> None:
    """Add the test users with ``hub users add`` (the password on stdin), and ``more`` ({name: (role, password)})."""
    users = {name: (ROLES[name], password) for name, password in PASSWORDS.items()} | (more or {})
    for name, (role, password) in users.items():
        done = subprocess.run(
            [sys.executable, "-m", "hub", "users", "add", name, "--role", role, "--password-stdin",
             "--operator", "test-admin", "--config", str(world.config_dir)],
            input=f"{password}\n", capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def dash_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubWorld]:
    """A started hub with the standard partners and the test users, for one test module."""
    world = build_world(tmp_path_factory.mktemp("dashboard") / "config")
    try:
        add_users(world)
        yield world
    finally:
        world.stop()
