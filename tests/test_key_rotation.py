"""The hub's own keys rotate while it runs: envelope signing and encryption keys, and the blind-index key.

Each test walks one rotation as docs/operators.md tells an operator to do it, with messages flowing
before, during and after: a real hub on loopback, sealing partners simulated by ``hub.testing``'s
partner simulators, the key commands run as child processes (``hub keys ...``) beside the running
hub, and the envelopes checked with jwcrypto, an implementation independent of ours.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import requests
from jwcrypto import jwe as jc_jwe
from jwcrypto import jwk as jc_jwk
from jwcrypto import jws as jc_jws

from hub.envelope import EnvelopeMetadata, dump_jwk, load_jwk, load_jwk_set, seal_envelope
from hub.testing.messages import housing_request
from hub.testing.raw_store import raw_store

SEALED = {"trust-a", "council-luton"}
ROUTING = ("iat", "hub.mid", "hub.typ", "hub.snd", "hub.rcp")


def cli(world, *args: str) -> str:
    """Run ``hub ARGS`` (as the operator ``ops`` when it changes keys); fail the test unless it succeeds."""
    done = world.cli(*args, *(() if args[-1] in ("list", "verify") else ("--operator", "ops")))
    assert done.returncode == 0, done.stdout + done.stderr
    return str(done.stdout)


def export(world, out: Path) -> dict:
    """``hub keys export`` into ``out``: the key set partners load, by use."""
    cli(world, "keys", "export", "--out", str(out))
    key_set = json.loads((out / "hub.jwks.json").read_text())
    return {use: [key for key in load_jwk_set(key_set) if key.use == use] for use in ("sig", "enc")}


def ring_ids(world) -> dict[str, dict[str, str]]:
    """``{purpose: {key id: status}}`` from ``hub keys list``."""
    out: dict[str, dict[str, str]] = {}
    for line in cli(world, "keys", "list").splitlines():
        if line.startswith(("kek-", "idx-", "fpr-", "sig-", "enc-")):
            key_id, purpose, status = line.split()[:3]
            out.setdefault(purpose, {})[key_id] = status
    return out


def post_sealed(world, sealed: bytes | str) -> requests.Response:
    data = sealed.encode() if isinstance(sealed, str) else sealed
    return requests.post(f"{world.url}/v1/messages", data=data, timeout=10,
                         headers={"Authorization": f"Bearer {world.tokens['trust-a']}",
                                  "Content-Type": "application/jose"})  # fmt: skip


def seal_for_hub(world, message: dict, hub_enc) -> bytes:
    """``message`` sealed by trust-a, with our library, to the hub encryption key ``hub_enc``."""
    metadata = EnvelopeMetadata(message["message_id"], message["type"], "trust-a", "hub")
    return seal_envelope(json.dumps(message).encode(), metadata=metadata, signing_key=world.own_keys["trust-a"][0],
                         recipient_keys=[hub_enc]).encode()  # fmt: skip


def jwcrypto_seal_for_hub(world, message: dict, hub_enc) -> str:
    """``message`` sealed by trust-a with jwcrypto alone (compact), to the hub encryption key ``hub_enc``."""
    signing = world.own_keys["trust-a"][0]
    routing = {"iat": int(time.time()), "hub.mid": message["message_id"], "hub.typ": message["type"],
               "hub.snd": "trust-a", "hub.rcp": "hub"}  # fmt: skip
    inner = jc_jws.JWS(json.dumps(message).encode())
    inner.add_signature(jc_jwk.JWK(**signing.to_dict(private=True)), None,
                        json.dumps({"alg": "EdDSA", "kid": signing.kid, **routing}))  # fmt: skip
    protected = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "cty": "JOSE", **routing, "kid": hub_enc.kid}
    outer = jc_jwe.JWE(inner.serialize(compact=True).encode("ascii"), protected=json.dumps(protected))
    outer.add_recipient(jc_jwk.JWK(**hub_enc.to_dict()))
    sealed: str = outer.serialize(compact=True)  # jwcrypto has no types
    return sealed


def jwcrypto_signer_kid(envelope: bytes, decryption_key, hub_signing_keys) -> str:
    """Open a delivered envelope with jwcrypto alone against the hub's published signing keys; the signer's kid."""
    outer = jc_jwe.JWE()
    outer.allowed_algs = ["ECDH-ES+A256KW", "A256GCM"]
    outer.deserialize(envelope.decode("ascii"), key=jc_jwk.JWK(**decryption_key.to_dict(private=True)))
    inner = jc_jws.JWS()
    inner.allowed_algs = ["EdDSA", "ES256"]
    inner.deserialize(outer.payload.decode("ascii"))
    kid = inner.jose_header["kid"]
    signer = next(key for key in hub_signing_keys if key.kid == kid)  # the kid names a published key
    inner.verify(jc_jwk.JWK(**signer.to_dict()))
    assert all(outer.jose_header[name] == inner.jose_header[name] for name in ROUTING)
    return str(kid)


def hub_cli_popen(world, *args: str) -> subprocess.Popen[str]:
    """Start ``hub ARGS`` as the operator ``ops`` beside the running hub, its output piped."""
    command = [sys.executable, "-m", "hub", *args, "--operator", "ops", "--config", str(world.config_dir)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def metric(world, name: str) -> float:
    """The value of an unlabelled metric on the hub's ``/metrics``."""
    response = world.get("ops", "/metrics")
    assert response.status_code == 200, response.text
    line = next(line for line in response.text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


def key_events(world) -> list[tuple[str, str, dict]]:
    """The key operations on the audit chain: (kind, actor, detail), oldest first."""
    conn = raw_store(world)
    try:
        rows = conn.execute("SELECT kind, actor, detail FROM events WHERE record_id = '' AND kind != 'searched' "
                            "ORDER BY seq").fetchall()  # fmt: skip
    finally:
        conn.close() if hasattr(conn, "close") else conn.conn.close()
    return [(kind, actor, json.loads(detail) if detail else {}) for kind, actor, detail in rows]


def test_a_new_signing_key_is_published_before_it_signs_and_envelopes_verify_throughout(make_world, tmp_path) -> None:
    world = make_world(sealed=SEALED)
    council = world.sims["council-luton"]
    council_key = world.own_keys["council-luton"][1]
    hub_enc = world.hub_encryption_key()
    sent: list[str] = []

    def send(count: int) -> list:
        ids = []
        for _ in range(count):
            message = housing_request()
            response = post_sealed(world, seal_for_hub(world, message, hub_enc))
            assert response.status_code == 202, response.text
            ids.append(message["message_id"])
        sent.extend(ids)
        assert council.wait_for(lambda s: set(ids) <= {m["message_id"] for m in s.messages()}, timeout=30)
        return [r for r in council.received if not r.duplicate and r.message["message_id"] in ids]

    # before: one signing key, published; the council verifies with the key set
    published = export(world, tmp_path / "before")
    (old_sig,) = published["sig"]
    council.keys = replace(council.keys, hub_signing=published["sig"])
    for item in send(2):
        assert jwcrypto_signer_kid(item.envelope, council_key, published["sig"]) == old_sig.kid

    # during: a next key is made; it may not sign before partners hold it
    out = cli(world, "keys", "add", "sig")
    new_id = out.split()[3]
    refused = world.cli("keys", "activate", new_id)
    assert refused.returncode == 1 and "never published" in refused.stderr
    for item in send(2):  # still signed by the old key
        assert jwcrypto_signer_kid(item.envelope, council_key, published["sig"]) == old_sig.kid
    published = export(world, tmp_path / "during")
    assert {key.kid for key in published["sig"]} >= {old_sig.kid} and len(published["sig"]) == 2
    (new_sig,) = [key for key in published["sig"] if key.kid != old_sig.kid]
    council.keys = replace(council.keys, hub_signing=published["sig"])  # the council loads the new key set
    cli(world, "keys", "activate", new_id)
    time.sleep(1.2)  # the running hub re-reads the ring within a second
    for item in send(3):
        assert jwcrypto_signer_kid(item.envelope, council_key, published["sig"]) == new_sig.kid
    # the command line opens it with the key set as it was exported
    (tmp_path / "envelope").write_bytes(item.envelope)
    private = tmp_path / "council.jwk"
    private.write_text(dump_jwk(council_key, private=True))
    private.chmod(0o600)
    opened = subprocess.run([sys.executable, "-m", "hub", "envelope", "open", "--key", str(private), "--from",
                             str(tmp_path / "during" / "hub.jwks.json"), "--sender", "hub", str(tmp_path / "envelope")],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    assert json.loads(opened.stdout) == item.message

    # after: the previous signing key stays published until retired, then leaves the key set
    statuses = ring_ids(world)["sig"]
    old_id = next(key_id for key_id, status in statuses.items() if status == "previous")
    assert statuses[new_id] == "active"
    cli(world, "keys", "retire", old_id)
    published = export(world, tmp_path / "after")
    assert [key.kid for key in published["sig"]] == [new_sig.kid]
    council.keys = replace(council.keys, hub_signing=published["sig"])
    for item in send(2):
        assert jwcrypto_signer_kid(item.envelope, council_key, published["sig"]) == new_sig.kid
    assert council.refused == []

    assert cli(world, "audit", "verify")
    kinds = [(kind, actor, detail.get("purpose")) for kind, actor, detail in key_events(world)]
    assert ("key_rotated", "ops", "sig") in kinds and ("key_activated", "ops", "sig") in kinds
    assert ("key_retired", "ops", "sig") in kinds and ("key_published", "ops", None) in kinds


def test_envelopes_sealed_to_the_old_encryption_key_open_during_the_overlap_and_are_refused_once_it_is_retired(
    make_world, tmp_path
) -> None:
    world = make_world(sealed=SEALED)
    council = world.sims["council-luton"]
    (old_enc,) = export(world, tmp_path / "before")["enc"]
    delivered: list[str] = []

    def accepted(seal, hub_enc) -> None:
        message = housing_request()
        response = post_sealed(world, seal(world, message, hub_enc))
        assert response.status_code == 202, response.text
        delivered.append(message["message_id"])

    # before
    accepted(seal_for_hub, old_enc)
    accepted(jwcrypto_seal_for_hub, old_enc)

    # during: a next key opens at once; once active it is what partners are given; the old one still opens
    new_id = cli(world, "keys", "add", "enc", "--alg", "P-256").split()[3]
    time.sleep(1.2)
    published = export(world, tmp_path / "during")["enc"]
    (new_enc,) = [key for key in published if key.kid != old_enc.kid]
    assert new_enc.crv == "P-256"
    accepted(jwcrypto_seal_for_hub, new_enc)
    accepted(seal_for_hub, old_enc)
    cli(world, "keys", "activate", new_id)
    time.sleep(1.2)
    assert load_jwk((tmp_path / "during" / "hub.enc.pub.jwk").read_text()).kid == old_enc.kid  # exported before
    after_activation = export(world, tmp_path / "active")
    assert [key.kid for key in after_activation["enc"]] == [new_enc.kid]  # the previous key is no longer offered
    assert load_jwk((tmp_path / "active" / "hub.enc.pub.jwk").read_text()).kid == new_enc.kid
    accepted(seal_for_hub, old_enc)  # a partner still on the old key: the overlap
    accepted(jwcrypto_seal_for_hub, new_enc)

    # after: retired, the old key's envelopes are refused saying which key and what to do
    old_id = next(k for k, status in ring_ids(world)["enc"].items() if status == "previous")
    cli(world, "keys", "retire", old_id)
    time.sleep(1.2)
    refused = post_sealed(world, seal_for_hub(world, housing_request(), old_enc))
    assert refused.status_code == 400
    (problem,) = refused.json()["errors"]
    assert problem["location"] == "envelope"
    assert old_enc.kid in problem["detail"] and "retired" in problem["detail"]
    assert "hub keys export" in problem["detail"]
    accepted(seal_for_hub, new_enc)
    accepted(jwcrypto_seal_for_hub, new_enc)

    assert council.wait_for(lambda s: set(delivered) <= {m["message_id"] for m in s.messages()}, timeout=30)
    assert len(delivered) == 8
    kinds = [(kind, detail.get("purpose")) for kind, _, detail in key_events(world)]
    assert ("key_rotated", "enc") in kinds and ("key_activated", "enc") in kinds and ("key_retired", "enc") in kinds


def test_the_blind_index_is_rebuilt_under_a_new_key_while_searches_keep_finding_everything(make_world) -> None:
    world = make_world()
    number = housing_request()["payload"]["person"]["nhs_number"]
    sent: list[str] = []

    def send(count: int) -> None:
        for _ in range(count):
            message = housing_request()
            response = world.send("trust-a", message)
            assert response.status_code == 202, response.text
            sent.append(message["message_id"])

    def search(who: str = "ops") -> list[str]:
        response = world.get(who, f"/v1/messages?nhs_number={number}")
        assert response.status_code == 200, response.text
        ids = [item["message_id"] for item in response.json()["items"]]
        assert len(ids) == len(set(ids))  # each message once, whichever key it is under
        return ids

    # before
    send(5)
    assert sorted(search()) == sorted(sent) and sorted(search("trust-a")) == sorted(sent)
    old_index = next(iter(ring_ids(world)["index"]))

    # during: rotated; new messages go under the new key while the old ones wait for the rebuild
    out = cli(world, "keys", "rotate-index", "--no-rebuild")
    assert "5 messages to re-index" in out
    time.sleep(1.2)
    send(3)
    assert sorted(search()) == sorted(sent) and sorted(search("trust-a")) == sorted(sent)
    listed = cli(world, "keys", "list")
    assert "blind index rebuild: scan: 0 of 5" in listed
    assert metric(world, "hub_index_rebuild_remaining") == 5
    statuses = ring_ids(world)["index"]
    assert statuses[old_index] == "active" and "primary" in statuses.values()

    # the rebuild runs beside the hub, in small batches; killed after its first batch, it resumes where it was
    first = hub_cli_popen(world, "keys", "rebuild-index", "--batch-size", "1", "--settle-seconds", "600")
    assert first.stderr is not None and "scan: 1 of 5" in first.stderr.readline()
    for _ in range(3):  # the scan goes on (and then waits for hubs to settle) while messages come and are found
        send(1)
        assert sorted(search()) == sorted(sent)
    assert first.poll() is None
    first.kill()
    first.communicate()
    assert "blind index rebuild: " in cli(world, "keys", "list")  # the hub resumes it (test_index_rebuild_resume)
    assert sorted(search()) == sorted(sent)
    rebuild = hub_cli_popen(world, "keys", "rebuild-index", "--batch-size", "2", "--settle-seconds", "2")
    while rebuild.poll() is None:  # messages keep coming and searches keep answering
        send(1)
        assert sorted(search()) == sorted(sent)
        time.sleep(0.2)
    stdout, stderr = rebuild.communicate()
    assert rebuild.returncode == 0, stdout + stderr
    assert "finished" in stdout and f"{old_index} retired" in stdout

    # after: one key, everything found under it, by the operator and by the sender
    send(2)
    assert sorted(search()) == sorted(sent) and sorted(search("trust-a")) == sorted(sent)
    statuses = ring_ids(world)["index"]
    assert statuses[old_index] == "retired" and list(statuses.values()).count("primary") == 1
    assert "blind index rebuild: finished" in cli(world, "keys", "list")
    assert metric(world, "hub_index_rebuild_remaining") == 0
    again = world.cli("keys", "rotate-index", "--no-rebuild")  # and it may rotate again
    assert again.returncode == 0, again.stderr
    cli(world, "keys", "rotate", "--rewrap")  # the KEK's rotation is on the chain as well
    kinds = [(kind, detail.get("purpose")) for kind, _, detail in key_events(world)]
    assert kinds.count(("key_rotated", "index")) == 2 and ("key_retired", "index") in kinds
    assert ("index_rebuilt", None) in kinds and ("key_rotated", "kek") in kinds and ("rewrapped", None) in kinds
    assert cli(world, "audit", "verify")
