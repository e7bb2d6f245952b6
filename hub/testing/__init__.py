"""A kit for people who test against the hub: partner simulators and a running hub on loopback.

``PartnerSimulator`` is a real HTTP server that stands in for a partner;
``RunningHub`` starts ``hub serve`` as a real process for end-to-end tests.
"""

from hub.testing.running_hub import RunningHub, free_port, run_hub_cli, stop_process, wait_until, write_config
from hub.testing.simulator import PartnerSimulator, Received

__all__ = [
    "PartnerSimulator",
    "Received",
    "RunningHub",
    "free_port",
    "run_hub_cli",
    "stop_process",
    "wait_until",
    "write_config",
]
