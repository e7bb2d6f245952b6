"""Partners with envelope keys exchange only sealed envelopes; each is verified before it is parsed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import requests
from messages import discharge_notice, housing_request

from hub.config import load_config
from hub.crypto.keyring import FileKeyRing
from hub.envelope import EnvelopeMetadata, dump_jwk, generate_key, seal_envelope
from hub.problems import ConfigError
from hub.testing import write_config

SEALED = {"trust-a", "council-luton"}


def hub_public_keys(world):
    ring = FileKeyRing.open(world.config_dir / "keys", os.environ["HUB_KEY_PASSPHRASE"])
    return ring.envelope_signing_key().public(), ring.envelope_decryption_keys()[0].public()


def post_sealed(world, sealed: bytes, who: str = "trust-a") -> requests.Response:
    return requests.post(f"{world.url}/v1/messages", data=sealed, timeout=10,
                         headers={"Authorization": f"Bearer {world.tokens[who]}",
                                  "Content-Type": "application/jose"})  # fmt: skip


def seal_as(world, message: dict, signing_key, sender: str = "trust-a", recipient: str = "hub") -> bytes:
    _, hub_enc = hub_public_keys(world)
    metadata = EnvelopeMetadata(message["message_id"], message["type"], sender, recipient)
    return seal_envelope(json.dumps(message).encode(), metadata=metadata, signing_key=signing_key,
                         recipient_keys=[hub_enc]).encode()  # fmt: skip


def test_sealed_in_sealed_out_and_plain_for_a_tls_only_partner(make_world) -> None:
    world = make_world(sealed=SEALED)
    trust_sig = world.own_keys["trust-a"][0]
    response = post_sealed(world, seal_as(world, discharge_notice(), trust_sig))
    assert response.status_code == 202, response.text
    council, hostel = world.sims["council-luton"], world.sims["steps-luton"]
    assert council.wait_for(lambda s: s.messages("HousingRequest"))
    assert council.received[0].sealed and council.received[0].content_type == "application/jose"
    assert council.messages("HousingRequest")[0]["payload"]["target_authority_gss"] == "E06000032"
    assert hostel.wait_for(lambda s: s.messages("Referral"))
    assert not hostel.received[0].sealed  # steps-luton is tls_only
    assert council.refused == []


def test_a_sealing_partner_may_not_send_unsealed(make_world) -> None:
    world = make_world(sealed=SEALED)
    response = world.send("trust-a", housing_request())
    assert response.status_code == 403 and "only sealed envelopes" in response.json()["detail"]
    assert world.db_count() == 0


def test_an_envelope_signed_with_someone_elses_key_is_refused_before_anything_is_parsed(make_world) -> None:
    world = make_world(sealed=SEALED)
    impostor = generate_key("sig", "EdDSA")
    for signing_key, sender, recipient in [
        (impostor, "trust-a", "hub"),  # right names, wrong key
        (world.own_keys["council-luton"][0], "council-luton", "hub"),  # another partner's genuine envelope
        (world.own_keys["trust-a"][0], "trust-a", "council-luton"),  # sealed for someone else
    ]:
        response = post_sealed(world, seal_as(world, housing_request(), signing_key, sender, recipient))
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["location"] == "envelope"
    assert world.db_count() == 0


def test_an_envelope_naming_another_message_is_refused(make_world) -> None:
    world = make_world(sealed=SEALED)
    message = housing_request()
    _, hub_enc = hub_public_keys(world)
    metadata = EnvelopeMetadata("11111111-2222-4333-8444-555555555555", "HousingRequest", "trust-a", "hub")
    sealed = seal_envelope(json.dumps(message).encode(), metadata=metadata, signing_key=world.own_keys["trust-a"][0],
                           recipient_keys=[hub_enc]).encode()  # fmt: skip
    response = post_sealed(world, sealed)
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "$.message_id"
    assert world.db_count() == 0


def test_a_flipped_byte_anywhere_in_an_inbound_envelope_is_refused(make_world) -> None:
    world = make_world(sealed=SEALED)
    sealed = seal_as(world, housing_request(), world.own_keys["trust-a"][0]).decode()
    for position in range(0, len(sealed), max(1, len(sealed) // 40)):
        flipped = sealed[:position] + ("A" if sealed[position] != "A" else "B") + sealed[position + 1 :]
        assert post_sealed(world, flipped.encode()).status_code == 400
    assert world.db_count() == 0
    assert post_sealed(world, sealed.encode()).status_code == 202


def test_a_partner_needs_keys_or_an_explicit_tls_only(tmp_path: Path) -> None:
    write_config(tmp_path / "a", default_tls_only=False, partners=[
        {"id": "trust-a", "kind": "nhs_trust", "receive": {"mode": "pull"}}])  # fmt: skip
    with pytest.raises(ConfigError, match="tls_only = true"):
        load_config(tmp_path / "a")
    private = generate_key("sig", "EdDSA")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "k.jwk").write_text(dump_jwk(private, private=True))
    write_config(tmp_path / "b", partners=[{"id": "trust-a", "kind": "nhs_trust", "receive": {"mode": "pull"},
                                            "keys": {"sig": "k.jwk", "enc": "k.jwk"}}])  # fmt: skip
    with pytest.raises(ConfigError, match="PRIVATE key"):
        load_config(tmp_path / "b")


def test_the_hub_warns_at_start_up_about_every_tls_only_partner(make_world) -> None:
    world = make_world(sealed=SEALED)
    log = world.hub.log_path.read_text()
    assert "partner steps-luton is tls_only" in log and "partner trust-a is tls_only" not in log


def test_a_sealing_partner_may_not_use_the_unsealed_batch_endpoint(make_world) -> None:
    world = make_world(sealed=SEALED)
    response = world.as_("trust-a").post(f"{world.url}/v1/messages:batch", data=json.dumps(housing_request()),
                                         headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
    assert response.status_code == 403
    assert world.db_count() == 0
