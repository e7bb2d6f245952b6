"""Fixtures for the council plugin's tests: a real hub with councils on every channel, and a real SMTP server.

``council_world`` starts, on loopback:

- ``trust-a``: a trust simulator (HTTP push, canonical JSON);
- ``council-luton`` (E06000032): JSON API push;
- ``council-beds`` (E06000056): pull from ``GET /v1/inbox``;
- ``council-bristol`` (E06000023): council XML pushed over HTTP;
- ``council-swindon`` (E06000030): council XML, sealed, by e-mail to an aiosmtpd server with STARTTLS;

and a hub whose duty-to-refer route reads a test postcode directory (``geo.db``)
with a county (E10) and a Welsh postcode in it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hub_council.geo_import import import_onspd

from hub.testing.smtp_server import SmtpServer, smtp_server
from hub.testing.world import HubWorld, Partner, example_routes

TEST_POSTCODES = "pcds,oslaua,country\nOX1 1AA,E10000025,E92000001\nCF10 1AA,W06000015,W92000004\n"


@pytest.fixture
def council_smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) with STARTTLS required, its certificate made by the test's own CA."""
    try:
        import aiosmtpd.controller  # noqa: F401  (checked here to say how to install it)
    except ImportError:
        if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
            pytest.fail("aiosmtpd is not installed: pip install -e plugins/council")
        pytest.skip("aiosmtpd is not installed: pip install -e plugins/council")
    with smtp_server(tmp_path) as server:
        yield server


COUNCIL_SETTINGS = {"retry": {"max_attempts": 3}, "server": {"max_body_bytes": 1048576}}


def _routes(geo_db: Path) -> list[dict[str, Any]]:
    routes = example_routes()
    for route in routes:
        if route["name"] == "duty-to-refer":
            route["options"] = {"geo_db": str(geo_db)}
    return routes


@pytest.fixture
def council_world(tmp_path: Path, council_smtp: SmtpServer, hub_world_factory: Callable[..., HubWorld]) -> HubWorld:
    """A hub with a council on each channel (see module docstring); everything is stopped after the test."""
    geo_source = tmp_path / "onspd-test.csv"
    geo_source.write_text(TEST_POSTCODES)
    geo_db = tmp_path / "geo.db"
    import_onspd(geo_source, geo_db)
    smtp = {"mode": "push", "transport": "smtp", "options": {
        "host": "127.0.0.1", "port": council_smtp.port, "from": "hub@trust.example", "to": "dtr@swindon.example",
        "starttls": True, "ca_file": str(council_smtp.ca_file)}}  # fmt: skip
    partners = [
        Partner("trust-a", "nhs_trust", {"ods_code": "RWK"}),
        Partner("council-luton", "council", {"gss_code": "E06000032"}),
        Partner("council-beds", "council", {"gss_code": "E06000056"}, receive="pull"),
        Partner("council-bristol", "council", {"gss_code": "E06000023"}, adapter="council-xml"),
        Partner("council-swindon", "council", {"gss_code": "E06000030"}, adapter="council-xml", sealed=True,
                receive=smtp),
    ]  # fmt: skip
    return hub_world_factory(partners, routes=_routes(geo_db), settings=COUNCIL_SETTINGS)


def run(coro: Any) -> Any:
    """Run a coroutine to completion (for transport tests without a hub)."""
    return asyncio.run(coro)
