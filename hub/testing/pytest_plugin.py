"""pytest fixtures for testing a hub plugin against a real hub on loopback (entry point ``pytest11``: ``hub``).

Installing ``partner-hub`` makes these fixtures available in every pytest run; nothing runs and nothing
heavy is imported until a test asks for one. Their names all start with ``hub_`` or ``partner_`` so they
do not shadow a project's own fixtures (a project's ``conftest.py`` fixture of the same name wins anyway).

- ``hub_world``: a started ``HubWorld`` (``hub.testing.world``): simulators, tokens, keys, config and
  ``hub serve``; the standard partners and the example routes unless the test's ``hub_world`` marker
  says otherwise, e.g. ``@pytest.mark.hub_world(partners=[...], routes=[...], settings={...})``
  (the marker takes ``build_world``'s keyword arguments);
- ``hub_world_factory``: ``build_world`` as a function, for a test that needs several worlds or builds
  its partners at run time; ``factory(partners=..., routes=..., ...)``;
- ``partner_simulator``: a function starting a ``PartnerSimulator`` (same arguments);
- ``hub_token``: a fresh bearer token and the digest to write in ``partners.toml``;
- ``hub_cli``: runs ``hub ARGS --config DIR`` in a child process, returning the ``CompletedProcess``.

Everything a fixture starts is stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import subprocess

    from hub.testing.simulator import PartnerSimulator
    from hub.testing.world import HubWorld

MARKER = "hub_world"


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``hub_world`` marker."""
    config.addinivalue_line(
        "markers", f"{MARKER}(**kwargs): what the hub_world fixture builds (hub.testing.world.build_world arguments)"
    )


@pytest.fixture
def hub_world_factory(tmp_path: Path) -> Iterator[Callable[..., HubWorld]]:
    """``build_world`` in a fresh folder under ``tmp_path`` each call; every world made is stopped afterwards."""
    from hub.testing.world import build_world

    made: list[HubWorld] = []

    def factory(*args: Any, **kwargs: Any) -> HubWorld:
        world = build_world(tmp_path / f"hub-world-{len(made)}", *args, **kwargs)
        made.append(world)
        return world

    yield factory
    for world in made:
        world.stop()


@pytest.fixture
def hub_world(request: pytest.FixtureRequest, hub_world_factory: Callable[..., HubWorld]) -> HubWorld:
    """A started hub world built from the test's ``hub_world`` marker (the standard partners by default)."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None and marker.args:
        raise pytest.UsageError(f"the {MARKER} marker takes keyword arguments only (those of build_world)")
    return hub_world_factory(**(marker.kwargs if marker is not None else {}))


@pytest.fixture
def partner_simulator() -> Iterator[Callable[..., PartnerSimulator]]:
    """Start ``PartnerSimulator(name, ...)``; every simulator started is stopped afterwards."""
    from hub.testing.simulator import PartnerSimulator

    started: list[PartnerSimulator] = []

    def start(name: str, **kwargs: Any) -> PartnerSimulator:
        simulator = PartnerSimulator(name, **kwargs).start()
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        simulator.stop()


@dataclass(frozen=True)
class HubToken:
    """A bearer token for a partner or operator, and what the hub's config keeps of it."""

    value: str
    sha256: str
    """The digest for ``token_sha256`` in ``partners.toml``."""

    @property
    def header(self) -> dict[str, str]:
        """The ``Authorization`` header that presents the token."""
        return {"Authorization": f"Bearer {self.value}"}


@pytest.fixture
def hub_token() -> HubToken:
    """A fresh bearer token."""
    from hub.auth import generate_token, hash_token

    value = generate_token()
    return HubToken(value, hash_token(value))


@pytest.fixture
def hub_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run(config_dir, *args, timeout=60)``: ``hub ARGS --config CONFIG_DIR`` in a child process, output captured."""
    from hub.testing.running_hub import run_hub_cli

    return run_hub_cli
