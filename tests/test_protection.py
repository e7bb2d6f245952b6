"""What the hub stores is protected: encrypted at rest, findable only through the blind index,
keys rotatable without downtime, bodies shreddable, every change and read on a tamper-evident log."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from hub.bodies import BodyUnreadable, StoredBody
from hub.crypto.at_rest import AesGcmCodec
from hub.crypto.fingerprint import derive_fingerprint_key, fingerprint, fingerprint_key
from hub.crypto.keyring import SCRYPT_N_FLOOR, TEST_COST_ENV, FileKeyRing, KeyRingError
from hub.testing import RunningHub, run_hub_cli, wait_until, write_config
from hub.testing.messages import discharge_notice, housing_request
from hub.testing.postgres import test_store
from hub.testing.raw_store import raw_store

NHS_NUMBER = "9434765919"
FAMILY_NAME = "Quennevilleworth"
POSTCODE = "LU1 2AA"


hub_cli = run_hub_cli


def recognisable_notice() -> dict:
    notice = discharge_notice()
    person = notice["payload"]["person"]
    person["nhs_number"], person["family_name"] = NHS_NUMBER, FAMILY_NAME
    person["address"] = {"lines": ["1 Example Street", "Luton"], "postcode": POSTCODE}
    return notice


SQLITE_ONLY = pytest.mark.skipif(test_store() != "sqlite",
                                 reason="reads the SQLite store's own files")  # fmt: skip


@SQLITE_ONLY
def test_no_personal_data_in_the_database_its_wal_or_the_logs(world) -> None:
    for _ in range(3):
        assert world.send("trust-a", recognisable_notice()).status_code == 202
    assert world.sims["council-luton"].wait_for(lambda s: len(s.messages("HousingRequest")) == 3)
    # the partner did receive the person's details: the hub carries them, it just never keeps them in clear
    assert world.sims["council-luton"].messages("HousingRequest")[0]["payload"]["person"]["family_name"] == FAMILY_NAME
    files = [p for p in world.config_dir.iterdir() if p.name.startswith("hub.db") or p.suffix == ".log"]
    assert any(p.name == "hub.db-wal" for p in files) and any(p.suffix == ".log" for p in files)
    for path in files:
        raw = path.read_bytes()
        for secret in (NHS_NUMBER, FAMILY_NAME, POSTCODE, "Example Street"):
            assert secret.encode() not in raw, f"{secret} found in clear in {path.name}"


def test_one_persons_messages_are_found_by_nhs_number_without_decrypting(world) -> None:
    record = world.send("trust-a", recognisable_notice()).json()["id"]
    other = discharge_notice()
    other["payload"]["person"]["nhs_number"] = "9434765870"
    world.send("trust-a", other)
    found = world.as_("ops").get(f"{world.url}/v1/messages", params={"nhs_number": "943 476 5919"}).json()["items"]
    ids = {f["id"] for f in found}
    assert record in ids and len(found) == 4  # the notice and the three messages derived from it
    assert {f["type"] for f in found} == {"DischargeNotice", "HousingRequest", "Referral", "IPSReferral"}
    council_view = world.as_("council-luton").get(f"{world.url}/v1/messages", params={"nhs_number": NHS_NUMBER})
    assert [f["type"] for f in council_view.json()["items"]] == ["HousingRequest"]
    assert world.as_("trust-b").get(f"{world.url}/v1/messages", params={"nhs_number": NHS_NUMBER}).json() == {
        "items": []}  # fmt: skip
    cli = hub_cli(world.config_dir, "messages", "find", "--nhs-number", NHS_NUMBER)
    assert cli.returncode == 0 and record in cli.stdout
    raw = raw_store(world).execute("SELECT nhs_index FROM messages").fetchall()
    assert all(NHS_NUMBER not in (r[0] or "") for r in raw)


def test_a_body_or_its_key_moved_to_another_record_does_not_open(tmp_path: Path) -> None:
    ring = FileKeyRing.create(tmp_path / "keys", "a long test passphrase")
    codec = AesGcmCodec(ring)
    a = codec.encode("rec-a", "Referral", "trust-a", b'{"secret": 1}')
    b = codec.encode("rec-b", "Referral", "trust-a", b'{"secret": 2}')
    assert codec.decode("rec-a", "Referral", "trust-a", a) == b'{"secret": 1}'
    for record, message_type, sender, stored in [
        ("rec-b", "Referral", "trust-a", a),  # body and key moved to another record
        ("rec-a", "Referral", "trust-a", StoredBody(a.codec, b.data, a.kek_id, a.wrapped_key)),  # body swapped
        ("rec-a", "Referral", "trust-a", StoredBody(a.codec, a.data, b.kek_id, b.wrapped_key)),  # key swapped
        ("rec-a", "HousingRequest", "trust-a", a),  # type changed
        ("rec-a", "Referral", "trust-b", a),  # sender changed
    ]:
        with pytest.raises(BodyUnreadable):
            codec.decode(record, message_type, sender, stored)


def test_the_key_ring_is_0600_encrypted_and_refuses_a_wrong_passphrase(tmp_path: Path) -> None:
    ring = FileKeyRing.create(tmp_path / "keys", "a long test passphrase")
    assert oct(ring.path.stat().st_mode & 0o777) == "0o600"
    kek = ring.kek(ring.primary_kek_id())
    assert kek not in ring.path.read_bytes() and kek.hex().encode() not in ring.path.read_bytes()
    with pytest.raises(KeyRingError, match="wrong passphrase"):
        FileKeyRing.open(tmp_path / "keys", "not the passphrase")
    os.chmod(ring.path, 0o644)
    with pytest.raises(KeyRingError, match="chmod 600"):
        FileKeyRing.open(tmp_path / "keys", "a long test passphrase")


def test_rotation_without_downtime_then_rewrap_then_retire(world) -> None:
    before = world.send("trust-a", housing_request()).json()["id"]
    assert world.sims["council-luton"].wait_for(lambda s: len(s.messages()) == 1)
    old_key = json.loads((world.config_dir / "keys" / "keyring.json").read_text())["keys"][0]["id"]

    rotated = hub_cli(world.config_dir, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    new_key = rotated.stdout.split()[-1]
    time.sleep(1.1)  # the running hub notices the new ring within a second
    world.sims["council-luton"].fail_next(1)  # the old message is retried, its key wrapped by the old KEK
    after = world.send("trust-a", housing_request()).json()["id"]
    assert world.sims["council-luton"].wait_for(lambda s: len(s.messages()) == 2)
    conn = raw_store(world)
    keks = dict(conn.execute("SELECT id, kek_id FROM messages").fetchall())
    assert keks[before] == old_key and keks[after] == new_key

    refused = hub_cli(world.config_dir, "keys", "retire", old_key)
    assert refused.returncode == 1 and "still wraps 1 data keys" in refused.stderr
    body_before = conn.execute("SELECT body FROM messages WHERE id=?", (before,)).fetchone()[0]
    rewrapped = hub_cli(world.config_dir, "keys", "rewrap")
    assert rewrapped.returncode == 0 and "1 data keys re-wrapped" in rewrapped.stdout
    assert conn.execute("SELECT kek_id, body FROM messages WHERE id=?", (before,)).fetchone() == (new_key, body_before)
    assert hub_cli(world.config_dir, "keys", "retire", old_key).returncode == 0
    listed = hub_cli(world.config_dir, "keys", "list").stdout
    assert f"{old_key}" in listed and "retired" in listed
    shown = hub_cli(world.config_dir, "messages", "show", before, "--body")
    assert shown.returncode == 0 and json.loads(shown.stdout)["body"]["type"] == "HousingRequest"


def test_a_body_under_a_retired_key_is_refused_cleanly(tmp_path: Path) -> None:
    ring = FileKeyRing.create(tmp_path / "keys", "a long test passphrase")
    codec = AesGcmCodec(ring)
    stored = codec.encode("rec", "Referral", "trust-a", b"{}")
    old = ring.primary_kek_id()
    ring.rotate()
    assert codec.decode("rec", "Referral", "trust-a", stored) == b"{}"  # rotation overlap: old key still reads
    ring.retire(old)
    with pytest.raises(BodyUnreadable, match=f"key {old} was retired"):
        codec.decode("rec", "Referral", "trust-a", stored)
    with pytest.raises(KeyRingError, match="primary"):
        ring.retire(ring.primary_kek_id())


def test_retention_shreds_bodies_so_they_cannot_be_read_but_the_audit_trail_stays(make_world) -> None:
    world = make_world({"retention": {"HousingRequest": 0.00001}})  # about one second
    record = world.send("trust-a", housing_request()).json()["id"]
    assert world.sims["council-luton"].wait_for(lambda s: s.messages())
    assert wait_until(lambda: world.view(record)["status"] == "delivered")
    time.sleep(1.2)
    result = hub_cli(world.config_dir, "retention", "run")
    assert result.returncode == 0 and "1 messages shredded" in result.stdout
    columns = "body, data_key, kek_id, nhs_index, fingerprint, type, sender"
    db = raw_store(world)
    row = db.execute(f"SELECT {columns} FROM messages WHERE id=?", (record,)).fetchone()
    assert row[:5] == (None, None, None, None, None) and row[5:] == ("HousingRequest", "trust-a")
    assert db.execute("SELECT count(*) FROM message_index WHERE record_id=?", (record,)).fetchone() == (0,)
    shown = hub_cli(world.config_dir, "messages", "show", record, "--body")
    assert shown.returncode == 1 and "destroyed" in shown.stderr
    events = [e["event"] for e in world.view(record)["timeline"]]
    assert events[0] == "received" and "shredded" in events and events[-1] == "body_read"  # the attempt is audited
    assert hub_cli(world.config_dir, "audit", "verify").returncode == 0


def test_the_audit_log_names_the_first_broken_link_when_a_row_is_changed_or_removed(world) -> None:
    world.send("trust-a", housing_request())
    world.send("trust-b", housing_request(sender="trust-b"))
    requests_refused = world.as_("trust-b").get(f"{world.url}/v1/messages/nope")
    assert requests_refused.status_code == 404
    assert world.sims["council-luton"].wait_for(lambda s: len(s.messages()) == 2)
    time.sleep(0.3)
    ok = hub_cli(world.config_dir, "audit", "verify")
    assert ok.returncode == 0 and "audit log intact" in ok.stdout
    db = raw_store(world)
    kinds = [r[0] for r in db.execute("SELECT kind FROM events ORDER BY seq")]
    assert "request_refused" in kinds and "delivered" in kinds

    world.hub.stop()
    db.execute("UPDATE events SET partner='someone-else' WHERE seq=3")
    db.commit()
    changed = hub_cli(world.config_dir, "audit", "verify")
    assert changed.returncode == 1 and "BROKEN at event 3" in changed.stderr and "changed" in changed.stderr
    db.execute("UPDATE events SET partner=(SELECT partner FROM events WHERE seq=3) WHERE seq=3")  # no-op
    db.execute("DELETE FROM events WHERE seq=3")
    db.commit()
    removed = hub_cli(world.config_dir, "audit", "verify")
    assert removed.returncode == 1 and "BROKEN at event 4" in removed.stderr


def test_a_hostel_never_receives_fields_or_types_outside_its_agreement(make_world, hostel_agreement) -> None:
    world = make_world(agreements={"steps-luton": hostel_agreement})
    notice = recognisable_notice()
    record = world.send("trust-a", notice).json()["id"]
    hostel = world.sims["steps-luton"]
    assert hostel.wait_for(lambda s: s.messages("Referral"))
    referral = hostel.messages("Referral")[0]
    person = referral["payload"]["person"]
    assert person == {"given_name": notice["payload"]["person"]["given_name"], "family_name": FAMILY_NAME,
                      "phone": notice["payload"]["person"]["phone"]}  # fmt: skip
    assert NHS_NUMBER not in json.dumps(referral) and POSTCODE not in json.dumps(referral)
    assert "referrer" not in referral["payload"] and referral["payload"]["service_id"] == "steps-luton"
    assert referral["sender"]["org_id"] == "trust-a"  # the envelope always travels
    stored = json.loads(subprocess.run(
        [sys.executable, "-m", "hub", "messages", "show", record, "--body", "--config", str(world.config_dir)],
        capture_output=True, text=True, timeout=60).stdout)  # fmt: skip
    assert stored["body"]["payload"]["person"]["nhs_number"] == NHS_NUMBER  # the hub keeps it; the hostel never saw it


def test_a_message_type_outside_the_agreement_is_refused_with_the_reason(make_world) -> None:
    world = make_world(agreements={"council-luton": {"types": ["HousingRequest"], "fields": {
        "HousingRequest": ["payload"]}}})  # fmt: skip
    from hub.testing.messages import example

    followup = example("follow-up", sender={"org_id": "trust-a"}, recipient={"org_id": "council-luton"})
    response = world.send("trust-a", followup)
    assert response.status_code == 202
    assert any("agreement with council-luton does not cover FollowUp" in n for n in response.json()["notes"])
    view = world.view(response.json()["id"])
    assert view["deliveries"] == []
    assert any(e["event"] == "refused" and "does not cover FollowUp" in e["detail"]["reason"]
               for e in view["timeline"])  # fmt: skip
    time.sleep(0.3)
    assert world.sims["council-luton"].messages("FollowUp") == []


def _ring(world) -> FileKeyRing:
    return FileKeyRing.open(world.config_dir / "keys", os.environ["HUB_KEY_PASSPHRASE"])


def _unkeyed(message: dict) -> str:
    """The fingerprint the hub stored before item 5 of issue 8: a plain SHA-256 anyone can recompute."""
    return hashlib.sha256(orjson.dumps(message, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _reordered(value):
    """The same JSON with every object's members in reverse order."""
    if isinstance(value, dict):
        return {k: _reordered(v) for k, v in reversed(list(value.items()))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


def test_the_fingerprint_is_keyed_and_still_tells_a_repeat_from_a_reused_id(world) -> None:
    """Item 5 of issue 8: no clear hash of the plaintext, and duplicate detection keeps working."""
    notice = recognisable_notice()
    record = world.send("trust-a", notice).json()["id"]
    stored = raw_store(world).execute(
        "SELECT fingerprint FROM messages WHERE id=?", (record,)).fetchone()[0]  # fmt: skip
    assert stored != _unkeyed(notice)  # a guess of the content can no longer be confirmed from a copy
    key = _ring(world).fingerprint_key()
    assert key is not None and stored == fingerprint(key, notice)
    repeat = world.send("trust-a", _reordered(notice))  # member order is not content
    assert repeat.status_code == 202 and repeat.json() == {"id": record, "status": "accepted", "duplicate": True}
    changed = recognisable_notice()
    changed["message_id"] = notice["message_id"]
    changed["payload"]["person"]["family_name"] = "Other"
    reused = world.send("trust-a", changed)
    assert reused.status_code == 409 and "Other" not in reused.text


def test_a_ring_made_before_fingerprint_keys_derives_one_of_its_own(tmp_path: Path) -> None:
    ring = FileKeyRing.create(tmp_path / "keys", "a long test passphrase")
    assert ring.fingerprint_key() not in (None, ring.index_key())
    assert fingerprint_key(ring) == ring.fingerprint_key()
    doc = json.loads(ring.path.read_text())
    doc["keys"] = [k for k in doc["keys"] if k["purpose"] != "fingerprint"]
    ring.path.write_text(json.dumps(doc))
    older = FileKeyRing.open(tmp_path / "keys", "a long test passphrase")
    assert older.fingerprint_key() is None
    derived = fingerprint_key(older)
    assert derived == derive_fingerprint_key(older.index_key()) and derived != older.index_key()


@SQLITE_ONLY
def test_a_database_from_before_search_entries_and_keyed_fingerprints_is_upgraded(make_world, hostel_agreement) -> None:
    """Items 3 and 5 of issue 8 on an existing database: migration 3 and the upgrade the hub finishes at start."""
    world = make_world(agreements={"steps-luton": hostel_agreement})
    notice = recognisable_notice()
    record = world.send("trust-a", notice).json()["id"]
    assert world.sims["steps-luton"].wait_for(lambda s: s.messages("Referral"))
    assert world.sims["council-luton"].wait_for(lambda s: s.messages("HousingRequest"))
    world.hub.stop()
    # make the file what the previous release left: schema version 2, a clear fingerprint, no search entries
    db = sqlite3.connect(world.config_dir / "hub.db")
    db.executescript("DROP TABLE message_index; DROP TABLE upgrade_pending; "
                     "DELETE FROM schema_migrations WHERE version = 3;")  # fmt: skip
    db.execute("UPDATE messages SET fingerprint=? WHERE id=?", (_unkeyed(notice), record))
    db.commit()

    world.hub = RunningHub(world.config_dir, port=world.hub.port).start()
    stored = db.execute("SELECT fingerprint FROM messages WHERE id=?", (record,)).fetchone()[0]
    key = _ring(world).fingerprint_key()
    assert key is not None and stored == fingerprint(key, notice)
    assert db.execute("SELECT count(*) FROM upgrade_pending").fetchone() == (0,)

    def found(who: str) -> set[str]:
        items = world.as_(who).get(f"{world.url}/v1/messages", params={"nhs_number": NHS_NUMBER}).json()["items"]
        return {f["type"] for f in items}

    assert found("steps-luton") == set()  # its minimised copy had no NHS number
    assert found("council-luton") == {"HousingRequest"}
    assert found("trust-a") == found("ops") == {"DischargeNotice", "HousingRequest", "Referral", "IPSReferral"}
    assert world.send("trust-a", notice).json()["duplicate"] is True
    changed = _reordered(notice)  # a deep copy
    changed["payload"]["person"]["family_name"] = "Other"
    assert world.send("trust-a", changed).status_code == 409


def test_a_new_key_ring_costs_scrypt_2_17_and_an_older_cheaper_ring_is_refused_until_upgraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TEST_COST_ENV, raising=False)  # the production cost and floor
    ring = FileKeyRing.create(tmp_path / "new", "a long test passphrase")
    assert json.loads(ring.path.read_text())["kdf"]["n"] >= 2**17 == SCRYPT_N_FLOOR

    monkeypatch.setenv(TEST_COST_ENV, str(2**15))  # a ring as the hub used to make them
    old = FileKeyRing.create(tmp_path / "old", "a long test passphrase")
    kek_id, kek = old.primary_kek_id(), old.kek(old.primary_kek_id())
    monkeypatch.delenv(TEST_COST_ENV)
    with pytest.raises(KeyRingError, match=r"scrypt N=32768, below the N=131072 .*run 'hub keys rewrap'"):
        FileKeyRing.open(tmp_path / "old", "a long test passphrase")
    upgraded = FileKeyRing.open(tmp_path / "old", "a long test passphrase", upgrade=True)
    assert upgraded.upgraded and json.loads(upgraded.path.read_text())["kdf"]["n"] == 2**17
    reopened = FileKeyRing.open(tmp_path / "old", "a long test passphrase")
    assert reopened.kek(kek_id) == kek and not reopened.upgraded


def test_hub_keys_rewrap_upgrades_a_ring_below_the_floor_that_other_commands_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_COST_ENV, "1024")
    config_dir = write_config(tmp_path / "cfg", partners=[{"id": "trust-a", "kind": "nhs_trust"}])
    monkeypatch.setenv(TEST_COST_ENV, "4096")  # the floor is now above the ring's cost
    refused = hub_cli(config_dir, "keys", "list")
    assert refused.returncode == 1 and "below the N=4096" in refused.stderr and "hub keys rewrap" in refused.stderr
    rewrapped = hub_cli(config_dir, "keys", "rewrap")
    assert rewrapped.returncode == 0, rewrapped.stderr
    assert "re-encrypted at scrypt N=4096" in rewrapped.stdout
    assert json.loads((config_dir / "keys" / "keyring.json").read_text())["kdf"]["n"] == 4096
    assert hub_cli(config_dir, "keys", "list").returncode == 0
