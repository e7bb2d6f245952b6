"""Intake and the router unit-tested on a real temporary store, without starting a hub process.

How to: take the ``store`` fixture (a fresh store of each backend) or call ``stores.open_test_store(tmp_path)``,
and wire ``Router`` and ``IntakeService`` around it with a loaded configuration and the loaded plugins.
"""

from __future__ import annotations

from pathlib import Path

from hub.canonical import CanonicalValidator
from hub.config import load_config
from hub.metrics import open_metrics
from hub.plugins import load_plugins
from hub.router import Router
from hub.services.intake import IntakeService
from hub.store import DeliveryState, Store
from hub.testing import write_config
from hub.testing.messages import housing_request

PARTNERS = [
    {"id": "trust-a", "kind": "nhs_trust", "receive": {"mode": "pull"}},
    {"id": "council-luton", "kind": "council", "gss_code": "E06000032", "receive": {"mode": "pull"}},
]


def intake_on(store: Store, config_dir: Path) -> IntakeService:
    """An ``IntakeService`` for the configuration in ``config_dir``, committing to ``store``."""
    config = load_config(write_config(config_dir, partners=PARTNERS, make_keys=False))
    plugins = load_plugins(env={})
    validator = CanonicalValidator(plugins)
    router = Router(config.routes, config.partners, plugins, validator, fingerprinter=lambda m: m["message_id"])
    return IntakeService(plugins, validator, router, store, open_metrics(config_dir / "metrics"))


def test_a_housing_request_is_routed_to_the_council_s_inbox_and_a_repeat_is_a_duplicate(
    store: Store, tmp_path: Path
) -> None:
    intake = intake_on(store, tmp_path / "config")
    message = housing_request()
    accepted = intake.submit_now(message, sender_id="trust-a")
    assert accepted.duplicate is False
    [waiting] = store.inbox("council-luton", 10)
    assert (waiting.record_id, waiting.type) == (accepted.id, "HousingRequest")
    view = store.message_view(accepted.id)
    assert view is not None and [d["state"] for d in view["deliveries"]] == [DeliveryState.AVAILABLE]
    again = intake.submit_now(message, sender_id="trust-a")
    assert (again.id, again.duplicate) == (accepted.id, True)
    assert store.counts()["messages"] == 1
