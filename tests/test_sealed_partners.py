"""Partners with envelope keys exchange only sealed envelopes; each is verified before it is parsed."""

from __future__ import annotations

import json
import os
import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from joserfc import jwe as rfc_jwe
from joserfc import jws as rfc_jws
from joserfc.jwk import JWKRegistry
from joserfc.registry import HeaderParameter
from jwcrypto import jwe as jc_jwe
from jwcrypto import jwk as jc_jwk
from jwcrypto import jws as jc_jws

from hub.config import load_config, load_settings
from hub.crypto.keyring import FileKeyRing
from hub.envelope import EnvelopeError, EnvelopeMetadata, dump_jwk, generate_key, open_envelope, seal_envelope
from hub.envelope.cli import envelope as envelope_cli
from hub.plugin_api.problems import ConfigError
from hub.store import open_store
from hub.testing import write_config
from hub.testing.messages import discharge_notice, housing_request

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


# -- key rotation, as docs/envelopes.md tells a partner to do it ---------------------------------------
ROUTING = ("iat", "hub.mid", "hub.typ", "hub.snd", "hub.rcp")


def register_keys(world, partner: str, use: str, keys: list) -> None:
    """Write ``keys`` (public) as the partner's ``use`` key set in the hub's config, as an operator would."""
    path = world.config_dir / "partner-keys" / f"{partner}.{use}.pub.jwk"
    path.write_text(json.dumps({"keys": [key.public().to_dict() for key in keys]}))


def restart(world) -> None:
    world.hub.stop()
    world.hub.start()


def jwcrypto_opens(envelope: bytes, key, hub_sig) -> bytes:
    """Open a hub envelope with jwcrypto alone, checking the layers' routing is equal; return the body."""
    outer = jc_jwe.JWE()
    outer.allowed_algs = ["ECDH-ES+A256KW", "A256GCM"]
    outer.deserialize(envelope.decode("ascii"), key=jc_jwk.JWK(**key.to_dict(private=True)))
    inner = jc_jws.JWS()
    inner.allowed_algs = ["EdDSA", "ES256"]
    inner.deserialize(outer.payload.decode("ascii"))
    inner.verify(jc_jwk.JWK(**hub_sig.to_dict()))
    headers = outer.jose_header if isinstance(outer.jose_header, list) else [outer.jose_header]
    for header in headers:
        assert all(header[name] == inner.jose_header[name] for name in ROUTING)
    body: bytes = inner.payload  # jwcrypto has no types
    return body


def joserfc_opens(envelope: bytes, key, hub_sig) -> bytes:
    """Open a hub envelope with joserfc alone (JSON form: our recipient entry only, as the guide says)."""
    headers = {name: HeaderParameter(name, "str") for name in ("hub.mid", "hub.typ", "hub.snd", "hub.rcp")}
    headers["iat"] = HeaderParameter("issued at", "int")
    jwe_registry = rfc_jwe.JWERegistry(header_registry=headers, algorithms=["ECDH-ES+A256KW", "A256GCM"])
    private = JWKRegistry.import_key(key.to_dict(private=True))
    outer: rfc_jwe.CompactEncryption | rfc_jwe.GeneralJSONEncryption | rfc_jwe.FlattenedJSONEncryption
    if envelope.startswith(b"{"):
        document = json.loads(envelope)
        document["recipients"] = [entry for entry in document["recipients"] if entry["header"]["kid"] == key.kid]
        outer = rfc_jwe.decrypt_json(document, private, registry=jwe_registry)
    else:
        outer = rfc_jwe.decrypt_compact(envelope.decode("ascii"), private, registry=jwe_registry)
    assert outer.plaintext is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc flags EdDSA as superseded by Ed25519 (RFC 9864)
        inner = rfc_jws.deserialize_compact(
            outer.plaintext,
            JWKRegistry.import_key(hub_sig.to_dict()),
            registry=rfc_jws.JWSRegistry(header_registry=headers, algorithms=["EdDSA", "ES256"]),
        )
    assert all(inner.protected[name] == outer.protected[name] for name in ROUTING)
    return inner.payload


def test_a_partner_rotates_its_keys_as_documented_and_every_message_is_delivered(make_world) -> None:
    # retries never run out here, so a delivery waiting across a restart cannot be dead-lettered for want of time
    world = make_world(sealed=SEALED, settings={"retry": {"max_attempts": 10_000}})
    council = world.sims["council-luton"]
    hub_sig, hub_enc = hub_public_keys(world)
    trust_old, council_old = world.own_keys["trust-a"][0], world.own_keys["council-luton"][1]
    trust_new, council_new = generate_key("sig", "ES256"), generate_key("enc", "P-256")
    sent: list[str] = []

    def send(count: int, signing_key) -> list[str]:
        ids = []
        for _ in range(count):
            message = housing_request()
            metadata = EnvelopeMetadata(message["message_id"], message["type"], "trust-a", "hub")
            sealed = seal_envelope(json.dumps(message).encode(), metadata=metadata, signing_key=signing_key,
                                   recipient_keys=hub_enc).encode()  # fmt: skip
            response = post_sealed(world, sealed)
            assert response.status_code == 202, response.text
            ids.append(message["message_id"])
        sent.extend(ids)
        return ids

    def delivered(ids: list[str]) -> list:
        assert council.wait_for(lambda s: set(ids) <= {m["message_id"] for m in s.messages()}, timeout=30)
        return [r for r in council.received if not r.duplicate and r.message["message_id"] in ids]

    # before: one key each; compact envelopes that the council's key opens
    for item in delivered(send(3, trust_old)):
        assert item.content_type == "application/jose"
        assert open_envelope(item.envelope, sender_keys=hub_sig, recipient_keys=council_old, expected_sender="hub",
                             expected_recipient="council-luton").payload == item.body  # fmt: skip

    # during: the new public keys registered next to the old, the hub restarted
    register_keys(world, "trust-a", "sig", [trust_old, trust_new])
    register_keys(world, "council-luton", "enc", [council_old, council_new])
    restart(world)
    during = send(3, trust_old)  # the trust has not switched yet; the council's instance still has the old key
    delivered(during)
    council.keys = replace(council.keys, decryption=council_new)  # now an instance with the new key only
    during += send(3, trust_new)  # the trust signs with its new key
    for item in delivered(during):
        assert item.content_type == "application/jose+json"
        assert len(json.loads(item.envelope)["recipients"]) == 2
        for key in (council_old, council_new):  # every library opens it with either private key
            opened = open_envelope(item.envelope, sender_keys=hub_sig, recipient_keys=key, expected_sender="hub",
                                   expected_recipient="council-luton")  # fmt: skip
            assert opened.payload == item.body and opened.recipient_kid == key.kid
            assert jwcrypto_opens(item.envelope, key, hub_sig) == item.body
            assert joserfc_opens(item.envelope, key, hub_sig) == item.body

    # after: the old keys removed; a delivery accepted while the council was down goes out under the new key only
    council.down = True
    waiting = send(2, trust_new)
    register_keys(world, "trust-a", "sig", [trust_new])
    register_keys(world, "council-luton", "enc", [council_new])
    restart(world)
    council.down = False
    for item in delivered(waiting + send(3, trust_new)):
        assert item.content_type == "application/jose"
        assert open_envelope(item.envelope, sender_keys=hub_sig, recipient_keys=council_new, expected_sender="hub",
                             expected_recipient="council-luton").payload == item.body  # fmt: skip
        with pytest.raises(EnvelopeError, match="not addressed to any of our keys"):
            open_envelope(item.envelope, sender_keys=hub_sig, recipient_keys=council_old, expected_sender="hub",
                          expected_recipient="council-luton")  # fmt: skip
    refused = post_sealed(world, seal_as(world, housing_request(), trust_old))
    assert refused.status_code == 400 and refused.json()["errors"][0]["location"] == "envelope"

    store = open_store(load_settings(world.config_dir).store_url)
    try:
        states = Counter(
            d["state"]
            for m in store.list_messages(limit=1_000_000, partner="council-luton")
            for d in (store.message_view(m["id"]) or {"deliveries": []})["deliveries"]
            if d["partner"] == "council-luton" and d["message"] == m["id"]
        )
        assert dict(states) == {"delivered": len(sent)} == {"delivered": 14}
    finally:
        store.close()
    assert {m["message_id"] for m in council.messages()} == set(sent)
    assert council.refused == []


def test_a_pull_partner_with_two_encryption_keys_opens_its_inbox_with_either_and_with_the_command(
    make_world, tmp_path: Path
) -> None:
    world = make_world(sealed={"trust-a", "council-beds"})
    old, new = world.own_keys["council-beds"][1], generate_key("enc", "X25519")
    register_keys(world, "council-beds", "enc", [old, new])
    restart(world)
    message = housing_request(target="E06000056")
    assert post_sealed(world, seal_as(world, message, world.own_keys["trust-a"][0])).status_code == 202
    items = world.as_("council-beds").get(f"{world.url}/v1/inbox", timeout=10).json()["items"]
    assert [item["content_type"] for item in items] == ["application/jose+json"]
    envelope = json.dumps(items[0]["body"])  # a JSON-typed body is a JSON value; the envelope is that object
    hub_sig, _ = hub_public_keys(world)
    (tmp_path / "hub.sig.pub.jwk").write_text(dump_jwk(hub_sig))
    (tmp_path / "inbox.json").write_text(envelope)
    for number, key in enumerate((old, new)):
        (tmp_path / f"k{number}.jwk").write_text(dump_jwk(key, private=True))
        (tmp_path / f"k{number}.jwk").chmod(0o600)
        arguments = ["--key", str(tmp_path / f"k{number}.jwk"), "--from", str(tmp_path / "hub.sig.pub.jwk")]
        arguments += ["--sender", "hub", "--recipient", "council-beds", "--metadata", str(tmp_path / "inbox.json")]
        result = CliRunner().invoke(envelope_cli, ["open", *arguments])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout_bytes)["message_id"] == message["message_id"]
        assert json.loads(result.stderr)["recipient_kid"] == key.kid


def write_keyed_partner(directory: Path, enc: object) -> None:
    (directory / "sig.pub.jwk").parent.mkdir(parents=True, exist_ok=True)
    (directory / "sig.pub.jwk").write_text(dump_jwk(generate_key("sig", "EdDSA")))
    (directory / "enc.pub.jwk").write_text(json.dumps(enc))
    write_config(directory, make_keys=False, partners=[{"id": "council-luton", "kind": "council",
                 "receive": {"mode": "pull"}, "keys": {"sig": "sig.pub.jwk", "enc": "enc.pub.jwk"}}])  # fmt: skip


@pytest.mark.parametrize(
    ("count", "repeat", "refusal"),
    [
        (0, False, "holds no key"),
        (2, True, "holds the same key twice"),
        (9, False, "9 encryption keys; at most 8"),
    ],
)
def test_an_encryption_key_set_is_refused_when_no_envelope_could_carry_it(
    tmp_path: Path, count: int, repeat: bool, refusal: str
) -> None:
    keys = [generate_key("enc", "X25519").public().to_dict() for _ in range(count)]
    if repeat:
        keys[1] = keys[0]
    write_keyed_partner(tmp_path, {"keys": keys})
    with pytest.raises(ConfigError, match=refusal) as caught:
        load_config(tmp_path)
    assert "partner[0].keys.enc" in str(caught.value)
    assert not any(key["x"] in str(caught.value) for key in keys)  # names the place, never echoes a key


def test_eight_encryption_keys_are_accepted(tmp_path: Path) -> None:
    write_keyed_partner(tmp_path, {"keys": [generate_key("enc", "P-256").public().to_dict() for _ in range(8)]})
    partner = load_config(tmp_path).partners.get("council-luton")
    assert partner is not None and len(partner.enc_keys) == 8
