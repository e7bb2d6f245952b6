"""Shared fixtures: a real hub process on loopback with real partner simulators around it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.auth import generate_token, hash_token
from hub.config import load_settings
from hub.crypto.keyring import FileKeyRing
from hub.envelope import dump_jwk, generate_key
from hub.store import open_store
from hub.testing import PartnerSimulator, RunningHub, free_port, write_config
from hub.testing.simulator import SimulatorKeys

REQUIRE_SERVICES = os.environ.get("HUB_REQUIRE_SERVICES") == "1"
# Key rings made by the tests use a cheap scrypt cost (and the floor follows it); the real cost and the
# floor itself are tested in test_protection.py, which clears or raises this.
os.environ.setdefault("HUB_TEST_SCRYPT_N", "1024")

# id, kind, codes, receives by
PARTNERS = [
    ("trust-a", "nhs_trust", {"ods_code": "RWK"}, "push"),
    ("trust-b", "nhs_trust", {"ods_code": "RXY"}, "push"),
    ("council-luton", "council", {"gss_code": "E06000032"}, "push"),
    ("council-beds", "council", {"gss_code": "E06000056"}, "pull"),
    ("steps-luton", "hostel", {}, "push"),
    ("ips-luton", "ips_provider", {}, "push"),
]

FAST_SETTINGS = {
    "delivery": {"lease_seconds": 2.5, "poll_interval_seconds": 0.05, "timeout_seconds": 1.0},
    "retry": {"initial_seconds": 0.1, "multiplier": 2.0, "max_delay_seconds": 0.5, "jitter": 0.2, "max_attempts": 4},
    "server": {"max_body_bytes": 65536},
}


@dataclass
class HubWorld:
    """A running hub, its config directory, the partners' tokens and simulators."""

    hub: RunningHub
    config_dir: Path
    tokens: dict[str, str]
    sims: dict[str, PartnerSimulator]
    sessions: dict[str, requests.Session] = field(default_factory=dict)
    own_keys: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.hub.url

    def as_(self, who: str) -> requests.Session:
        """A session authenticated as partner or operator ``who``."""
        if who not in self.sessions:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {self.tokens[who]}"
            self.sessions[who] = session
        return self.sessions[who]

    def send(self, who: str, message: dict[str, Any], **headers: str) -> requests.Response:
        """POST a canonical message as ``who``."""
        return self.as_(who).post(f"{self.url}/v1/messages", json=message, headers=headers, timeout=10)

    def view(self, record_id: str, who: str = "ops") -> dict[str, Any]:
        """GET /v1/messages/{id} (as the operator by default)."""
        response = self.as_(who).get(f"{self.url}/v1/messages/{record_id}", timeout=10)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def db_count(self, table: str = "messages") -> int:
        """Stored ``messages`` or ``deliveries``, as the hub's store counts them."""
        store = open_store(load_settings(self.config_dir).store_url)
        try:
            counts = store.counts()
        finally:
            store.close()
        if table == "messages":
            return counts["messages"]
        return sum(n for name, n in counts.items() if name.startswith(f"{table}_"))


def build_world(
    tmp_path: Path,
    settings: dict[str, dict[str, Any]] | None = None,
    agreements: dict[str, dict[str, Any]] | None = None,
    sealed: set[str] | frozenset[str] = frozenset(),
    partner_settings: dict[str, dict[str, Any]] | None = None,
) -> HubWorld:
    """Start simulators, write a config pointing at them, start ``hub serve``.

    ``partner_settings`` adds keys to partners' tables in partners.toml, by partner id.
    """
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}"
    tokens = {pid: generate_token() for pid, *_ in PARTNERS}
    tokens["ops"] = generate_token()
    sims: dict[str, PartnerSimulator] = {}
    own_keys: dict[str, tuple[Any, Any]] = {}
    partners = []
    for pid, kind, codes, mode in PARTNERS:
        entry: dict[str, Any] = {"id": pid, "kind": kind, **codes, "token_sha256": hash_token(tokens[pid])}
        if agreements and pid in agreements:
            entry["agreement"] = agreements[pid]
        entry.update((partner_settings or {}).get(pid, {}))
        if pid in sealed:
            own_keys[pid] = (generate_key("sig", "EdDSA"), generate_key("enc", "X25519"))
            key_dir = tmp_path / "config" / "partner-keys"
            key_dir.mkdir(parents=True, exist_ok=True)
            for use, key in zip(("sig", "enc"), own_keys[pid], strict=True):
                (key_dir / f"{pid}.{use}.pub.jwk").write_text(dump_jwk(key))
            entry["keys"] = {"sig": f"partner-keys/{pid}.sig.pub.jwk", "enc": f"partner-keys/{pid}.enc.pub.jwk"}
        if mode == "push":
            sims[pid] = PartnerSimulator(pid, hub_url=hub_url, token=tokens[pid]).start()
            entry["receive"] = {"mode": "push", "transport": "http", "url": f"{sims[pid].url}/inbound"}
        else:
            entry["receive"] = {"mode": "pull"}
        partners.append(entry)
    merged = {k: dict(v) for k, v in FAST_SETTINGS.items()}
    for table, values in (settings or {}).items():
        merged.setdefault(table, {}).update(values)
    config_dir = write_config(
        tmp_path / "config",
        partners=partners,
        operators=[{"id": "ops", "token_sha256": hash_token(tokens["ops"])}],
        settings=merged,
    )
    if own_keys:
        ring = FileKeyRing.open(config_dir / "keys", os.environ["HUB_KEY_PASSPHRASE"])
        hub_sig, hub_enc = ring.envelope_signing_key().public(), ring.envelope_decryption_keys()[0].public()
        for pid, (sig, enc) in own_keys.items():
            if pid in sims:
                sims[pid].keys = SimulatorKeys(sig, enc, hub_sig, hub_enc)
    running = RunningHub(config_dir, port=port)
    try:
        running.start()
    except Exception:
        for sim in sims.values():
            sim.stop()
        raise
    return HubWorld(running, config_dir, tokens, sims, own_keys=own_keys)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[HubWorld]:
    """A fresh hub with the standard partners, stopped after the test."""
    built = build_world(tmp_path)
    try:
        yield built
    finally:
        built.hub.stop()
        for sim in built.sims.values():
            sim.stop()


@pytest.fixture(scope="module")
def module_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubWorld]:
    """One hub with the standard partners for a whole test module, for tests that change nothing another sees."""
    built = build_world(tmp_path_factory.mktemp("module-world"))
    try:
        yield built
    finally:
        built.hub.stop()
        for sim in built.sims.values():
            sim.stop()


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
        built = build_world(tmp_path / f"w{len(made)}", settings, agreements, sealed, partner_settings)
        made.append(built)
        return built

    yield factory
    for built in made:
        built.hub.stop()
        for sim in built.sims.values():
            sim.stop()
