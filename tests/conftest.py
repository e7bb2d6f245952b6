"""The hub's own test world: a real hub process on loopback with the standard partners' simulators around it.

``world``, ``module_world`` and ``make_world`` build it with ``hub.testing.world.build_world`` (the same
builder the pytest fixtures, the demo and the benchmark use).

``HUB_TEST_STORE=postgresql`` puts every world's store (unless a test names its own ``store.url``) in a fresh
PostgreSQL database on ``HUB_TEST_POSTGRES_URL`` (``hub.testing.postgres``), dropped when the run ends: the
running-hub suites then run against that backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hub.testing.world import STANDARD_PARTNERS, HubWorld, build_world


def standard_world(
    directory: Path,
    settings: dict[str, dict[str, Any]] | None = None,
    agreements: dict[str, dict[str, Any]] | None = None,
    sealed: set[str] | frozenset[str] = frozenset(),
    partner_settings: dict[str, dict[str, Any]] | None = None,
) -> HubWorld:
    """The standard partners (some with data-sharing ``agreements``, some ``sealed``) around a started hub.

    ``partner_settings`` adds keys to partners' tables in partners.toml, by partner id.
    """
    partners = [
        replace(p, sealed=p.id in sealed, settings={
            **p.settings,
            **({"agreement": agreements[p.id]} if agreements and p.id in agreements else {}),
            **((partner_settings or {}).get(p.id) or {}),
        })
        for p in STANDARD_PARTNERS
    ]  # fmt: skip
    return build_world(directory / "config", partners, settings=settings)


@pytest.fixture
def hostel_agreement() -> dict[str, Any]:
    """A data-sharing agreement for steps-luton: Referrals only, and of them only the fields a hostel needs."""
    return {
        "types": ["Referral"],
        "fields": {"Referral": ["payload.referral_id", "payload.service_id", "payload.person.given_name",
                               "payload.person.family_name", "payload.person.phone", "payload.support_needs",
                               "payload.risk_summary", "payload.assessment_due_at"]},
    }  # fmt: skip


@pytest.fixture
def world(tmp_path: Path) -> Iterator[HubWorld]:
    """A fresh hub with the standard partners, stopped after the test."""
    with standard_world(tmp_path) as built:
        yield built


@pytest.fixture(scope="module")
def module_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubWorld]:
    """One hub with the standard partners for a whole test module, for tests that change nothing another sees."""
    with standard_world(tmp_path_factory.mktemp("module-world")) as built:
        yield built


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Any]:
    """A factory for a hub with extra settings; everything it starts is stopped after the test."""
    made: list[HubWorld] = []

    def factory(
        settings: dict[str, dict[str, Any]] | None = None,
        agreements: dict[str, dict[str, Any]] | None = None,
        sealed: set[str] | frozenset[str] = frozenset(),
        partner_settings: dict[str, dict[str, Any]] | None = None,
    ) -> HubWorld:
        built = standard_world(tmp_path / f"w{len(made)}", settings, agreements, sealed, partner_settings)
        made.append(built)
        return built

    yield factory
    for built in made:
        built.stop()
