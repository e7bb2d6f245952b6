"""A kit for people who test against the hub: partner simulators, a running hub and whole test worlds on loopback.

``build_world`` (``hub.testing.world``) starts partner simulators, makes tokens and envelope keys, writes a
config directory and starts the hub; ``PartnerSimulator`` is a real HTTP server that stands in for a partner;
``RunningHub`` runs ``hub serve`` as a real process. ``hub.testing.pytest_plugin`` offers them as pytest
fixtures. ``hub.testing.conformance`` is the conformance suite a plugin's adapters and transports run (test
classes to inherit), and ``hub.testing.fuzzing`` fuzzes a parser with hypothesis within bounds of time and memory.
Names are imported on first use, so importing this package costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.testing.in_process import build_test_hub, canonical_problems
    from hub.testing.metrics_text import parse_samples, sample
    from hub.testing.running_hub import RunningHub, free_port, run_hub_cli, stop_process, wait_until, write_config
    from hub.testing.simulator import PartnerSimulator, Received
    from hub.testing.world import FAST_SETTINGS, STANDARD_PARTNERS, HubWorld, Partner, build_world

_WHERE = {
    "parse_samples": "metrics_text",
    "sample": "metrics_text",
    "RunningHub": "running_hub",
    "free_port": "running_hub",
    "run_hub_cli": "running_hub",
    "stop_process": "running_hub",
    "wait_until": "running_hub",
    "write_config": "running_hub",
    "PartnerSimulator": "simulator",
    "Received": "simulator",
    "FAST_SETTINGS": "world",
    "STANDARD_PARTNERS": "world",
    "HubWorld": "world",
    "Partner": "world",
    "build_world": "world",
    "build_test_hub": "in_process",
    "canonical_problems": "in_process",
}

__all__ = [
    "FAST_SETTINGS",
    "STANDARD_PARTNERS",
    "HubWorld",
    "Partner",
    "PartnerSimulator",
    "Received",
    "RunningHub",
    "build_test_hub",
    "build_world",
    "canonical_problems",
    "free_port",
    "parse_samples",
    "run_hub_cli",
    "sample",
    "stop_process",
    "wait_until",
    "write_config",
]


def __getattr__(name: str) -> Any:
    """Import ``name`` from the module that defines it, the first time it is asked for."""
    if name not in _WHERE:
        raise AttributeError(f"module 'hub.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(f"hub.testing.{_WHERE[name]}"), name)
