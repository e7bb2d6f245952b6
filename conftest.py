"""What every suite of this repository shares (tests/ and each built-in plugin's tests/).

The hub's pytest fixtures (``hub.testing.pytest_plugin``) load through the ``pytest11`` entry point once
the hub is installed; from a source checkout on ``PYTHONPATH`` they are registered here instead.
"""

from __future__ import annotations

import importlib
import os

import pytest

pytest_plugins = ["pytester"]  # tests/test_testing_kit.py runs a plugin author's suite against the fixtures

# Key rings made by the tests use a cheap scrypt cost (and the floor follows it); the real cost and the
# floor itself are tested in tests/test_protection.py, which clears or raises this.
os.environ.setdefault("HUB_TEST_SCRYPT_N", "1024")


def pytest_configure(config: pytest.Config) -> None:
    """Register the hub's fixtures when the entry point did not (the hub is not installed, or autoload is off)."""
    plugin = importlib.import_module("hub.testing.pytest_plugin")
    if not config.pluginmanager.is_registered(plugin) and config.pluginmanager.get_plugin("hub") is None:
        config.pluginmanager.register(plugin, "hub")
