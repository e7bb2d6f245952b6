"""A key-provider plugin (a KMS or HSM in real life) supplies the keys instead of the key ring file."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from hub import KeyProviderSpec, hookimpl
from hub.config import load_config
from hub.envelope import generate_key
from hub.plugins import load_plugins
from hub.runtime import build_hub
from hub.testing import write_config
from hub.testing.messages import housing_request


class FakeKms:
    """Stands in for a remote KMS, which cannot run here: keys derived in memory, never written to disk."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self._sig, self._enc = generate_key("sig", "EdDSA"), generate_key("enc", "X25519")

    def primary_kek_id(self) -> str:
        return "kms-kek-1"

    def kek(self, key_id: str) -> bytes:
        self.asked.append(key_id)
        return hashlib.sha256(b"kms:" + key_id.encode()).digest()

    def index_key(self) -> bytes:
        return hashlib.sha256(b"kms:index").digest()

    def envelope_signing_key(self):
        return self._sig

    def envelope_decryption_keys(self):
        return [self._enc]


def test_a_key_provider_plugin_supplies_the_keys_that_protect_stored_bodies(tmp_path: Path) -> None:
    kms = FakeKms()

    class KmsPlugin:
        @hookimpl
        def hub_register_key_providers(self, register):
            register(KeyProviderSpec("test-kms", lambda settings: kms))

    config_dir = write_config(tmp_path / "config", make_keys=False, partners=[
        {"id": "trust-a", "kind": "nhs_trust", "receive": {"mode": "pull"}},
        {"id": "council-luton", "kind": "council", "gss_code": "E06000032", "receive": {"mode": "pull"}},
    ], settings={"keys": {"provider": "test-kms"}})  # fmt: skip
    hub = build_hub(load_config(config_dir), plugins=load_plugins(env={}, extra_plugins=[KmsPlugin()]))
    try:
        message = housing_request()
        accepted = hub.intake.submit_now(message, sender_id="trust-a")
        assert "kms-kek-1" in kms.asked
        assert not (config_dir / "keys" / "keyring.json").exists()
        row = (
            sqlite3.connect(config_dir / "hub.db")
            .execute("SELECT kek_id, body FROM messages WHERE id=?", (accepted.id,))
            .fetchone()
        )
        assert row[0] == "kms-kek-1"
        assert message["payload"]["person"]["family_name"].encode() not in row[1]
        assert b'"HousingRequest"' in (hub.store.read_body(accepted.id) or b"")
    finally:
        hub.close()
