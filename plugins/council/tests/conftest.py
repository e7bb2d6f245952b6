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
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hub_council.geo_import import import_onspd

from hub.testing.running_hub import free_port
from hub.testing.world import HubWorld, Partner, example_routes

TEST_POSTCODES = "pcds,oslaua,country\nOX1 1AA,E10000025,E92000001\nCF10 1AA,W06000015,W92000004\n"


@dataclass
class Mail:
    """One e-mail the test SMTP server accepted."""

    content: bytes
    mail_from: str
    rcpt_tos: list[str]
    tls: bool


@dataclass
class SmtpServer:
    """An aiosmtpd server on loopback that requires STARTTLS, with the CA that signed its certificate."""

    port: int
    ca_file: Path
    mails: list[Mail] = field(default_factory=list)


class _Collect:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.server.mails.append(
            Mail(bytes(envelope.original_content or envelope.content), envelope.mail_from, list(envelope.rcpt_tos),
                 session.ssl is not None)
        )  # fmt: skip
        return "250 Message accepted for delivery"


@pytest.fixture
def council_smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) with STARTTLS required, its certificate made by the test's own CA."""
    try:
        import aiosmtpd.controller as controller_module
    except ImportError:
        if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
            pytest.fail("aiosmtpd is not installed: pip install -e plugins/council")
        pytest.skip("aiosmtpd is not installed: pip install -e plugins/council")
    from hub.testing.certs import TestCA

    ca = TestCA(tmp_path / "smtp-ca", "SMTP Test CA")
    issued = ca.issue("smtp-server", "127.0.0.1", server=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(issued.cert, issued.key)
    server = SmtpServer(free_port(), ca.path)
    controller = controller_module.Controller(
        _Collect(server), hostname="127.0.0.1", port=server.port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


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
