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
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from hub_council.geo_import import import_onspd

from hub.auth import generate_token, hash_token
from hub.crypto.keyring import FileKeyRing
from hub.envelope import dump_jwk, generate_key
from hub.testing import PartnerSimulator, RunningHub, free_port, write_config

ROOT = Path(__file__).resolve().parents[2]
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
            pytest.fail("aiosmtpd is not installed: pip install -e 'plugins/council[test]'")
        pytest.skip("aiosmtpd is not installed: pip install -e 'plugins/council[test]'")
    from certs import TestCA  # tests/certs.py

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


@dataclass
class CouncilWorld:
    """The running hub, its config, tokens, simulators and the sealed council's private keys."""

    hub: RunningHub
    config_dir: Path
    tokens: dict[str, str]
    sims: dict[str, PartnerSimulator]
    smtp: SmtpServer
    council_keys: tuple[Any, Any]

    @property
    def url(self) -> str:
        return self.hub.url

    def post(self, who: str, body: bytes | dict[str, Any], content_type: str = "application/json") -> requests.Response:
        """POST one message to /v1/messages as ``who``."""
        data = body if isinstance(body, bytes) else __import__("orjson").dumps(body)
        headers = {"Authorization": f"Bearer {self.tokens[who]}", "Content-Type": content_type}
        return requests.post(f"{self.url}/v1/messages", data=data, headers=headers, timeout=10)

    def get(self, who: str, path: str) -> requests.Response:
        """GET a hub path as ``who``."""
        return requests.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {self.tokens[who]}"}, timeout=10)

    def hub_signing_key(self) -> Any:
        """The hub's public envelope signing key (what a council verifies the attachment with)."""
        ring = FileKeyRing.open(self.config_dir / "keys", os.environ["HUB_KEY_PASSPHRASE"])
        return ring.envelope_signing_key().public()


FAST = {
    "delivery": {"lease_seconds": 2.5, "poll_interval_seconds": 0.05, "timeout_seconds": 1.0},
    "retry": {"initial_seconds": 0.1, "multiplier": 2.0, "max_delay_seconds": 0.5, "jitter": 0.2, "max_attempts": 3},
    "server": {"max_body_bytes": 1048576},
}


def _routes(geo_db: Path) -> list[dict[str, Any]]:
    routes = tomllib.loads((ROOT / "config" / "routes.toml").read_text())["route"]
    for route in routes:
        if route["name"] == "duty-to-refer":
            route["options"] = {"geo_db": str(geo_db)}
    return routes


@pytest.fixture
def council_world(tmp_path: Path, council_smtp: SmtpServer) -> Iterator[CouncilWorld]:
    """A hub with a council on each channel (see module docstring); everything is stopped after the test."""
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}"
    ids = ["trust-a", "council-luton", "council-beds", "council-bristol", "council-swindon", "ops"]
    tokens = {pid: generate_token() for pid in ids}
    sims = {pid: PartnerSimulator(pid, hub_url=hub_url, token=tokens[pid]).start()
            for pid in ("trust-a", "council-luton", "council-bristol")}  # fmt: skip
    config_dir = tmp_path / "config"
    key_dir = config_dir / "partner-keys"
    key_dir.mkdir(parents=True)
    council_keys = (generate_key("sig", "EdDSA"), generate_key("enc", "X25519"))
    for use, key in zip(("sig", "enc"), council_keys, strict=True):
        (key_dir / f"council-swindon.{use}.pub.jwk").write_text(dump_jwk(key))

    def push(pid: str) -> dict[str, Any]:
        return {"mode": "push", "transport": "http", "url": f"{sims[pid].url}/inbound"}

    partners = [
        {"id": "trust-a", "kind": "nhs_trust", "ods_code": "RWK", "receive": push("trust-a")},
        {"id": "council-luton", "kind": "council", "gss_code": "E06000032", "receive": push("council-luton")},
        {"id": "council-beds", "kind": "council", "gss_code": "E06000056", "receive": {"mode": "pull"}},
        {"id": "council-bristol", "kind": "council", "gss_code": "E06000023", "adapter": "council-xml",
         "receive": push("council-bristol")},
        {"id": "council-swindon", "kind": "council", "gss_code": "E06000030", "adapter": "council-xml",
         "keys": {"sig": "partner-keys/council-swindon.sig.pub.jwk", "enc": "partner-keys/council-swindon.enc.pub.jwk"},
         "receive": {"mode": "push", "transport": "smtp", "options": {
             "host": "127.0.0.1", "port": council_smtp.port, "from": "hub@trust.example",
             "to": "dtr@swindon.example", "starttls": True, "ca_file": str(council_smtp.ca_file)}}},
    ]  # fmt: skip
    for partner in partners:
        partner["token_sha256"] = hash_token(tokens[partner["id"]])
    geo_source = tmp_path / "onspd-test.csv"
    geo_source.write_text(TEST_POSTCODES)
    geo_db = tmp_path / "geo.db"
    import_onspd(geo_source, geo_db)
    write_config(config_dir, partners=partners, operators=[{"id": "ops", "token_sha256": hash_token(tokens["ops"])}],
                 settings=FAST, routes=_routes(geo_db))  # fmt: skip
    running = RunningHub(config_dir, port=port)
    try:
        running.start()
        yield CouncilWorld(running, config_dir, tokens, sims, council_smtp, council_keys)
    finally:
        running.stop()
        for sim in sims.values():
            sim.stop()


def run(coro: Any) -> Any:
    """Run a coroutine to completion (for transport tests without a hub)."""
    return asyncio.run(coro)
