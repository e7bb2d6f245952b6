"""Fixtures of the pathway's behavioural suite: each test runs once per scheduler backend (``pathway.kit``).

To add a backend, add it to ``pathway.kit.BACKENDS`` (a ``module:callable`` path); ``pathway.kit`` says what a
backend object gives.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pathway.kit import BACKENDS, PathwayWorld, write_pathway_settings

from hub.auth import generate_token, hash_token
from hub.testing.world import HubWorld, build_world, standard_partners


@pytest.fixture(params=sorted(BACKENDS))
def scheduler_backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    """One scheduler backend (see ``BACKENDS``), closed after the test."""
    module_name, _, attribute = BACKENDS[request.param].partition(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    backend = factory(request)
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def make_pathway_world(tmp_path: Path, scheduler_backend: Any) -> Iterator[Callable[..., PathwayWorld]]:
    """Build a hub whose ``pathways.toml`` is the given text, on ``scheduler_backend``, with more ``partners.toml``
    keys for some partners (``standard_partners``); stopped after the test."""
    built: list[HubWorld] = []

    def make(pathways: str, partner_settings: dict[str, dict[str, Any]] | None = None) -> PathwayWorld:
        token = getattr(scheduler_backend, "scheduler_token", None) or generate_token()
        world = build_world(tmp_path / f"config{len(built)}", partners=standard_partners(partner_settings),
                            start=False)  # fmt: skip
        built.append(world)
        hub_settings = scheduler_backend.hub_settings(world.hub.url, token)
        write_pathway_settings(world.config_dir, scheduler_backend.name, hub_settings, hash_token(token),
                               getattr(scheduler_backend, "pathway_settings", None))  # fmt: skip
        (world.config_dir / "pathways.toml").write_text(pathways)
        world.start(timeout=90)  # a loaded machine (and Airflow starting beside it) can take that long
        return PathwayWorld(world, scheduler_backend, token)

    yield make
    for world in built:
        world.stop()
