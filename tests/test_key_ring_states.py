"""The key ring's states for the keys that rotate beside the KEK: envelope keys and the blind-index key.

A wrong step is refused with a reason naming the key and what to do, and leaves the ring file as it was.
(Each rotation walked on a running hub is in ``test_key_rotation.py``.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.crypto.fingerprint import derive_fingerprint_key
from hub.crypto.keyring import FileKeyRing, KeyRingError

PASSPHRASE = "a passphrase of the tests"


@pytest.fixture
def ring(tmp_path: Path) -> FileKeyRing:
    return FileKeyRing.create(tmp_path / "keys", PASSPHRASE)


def statuses(ring: FileKeyRing, purpose: str) -> dict[str, str]:
    return {info.id: info.status for info in ring.infos() if info.purpose == purpose}


def refused(ring: FileKeyRing, step, match: str) -> None:
    """``step()`` raises ``KeyRingError`` matching ``match`` and the file is unchanged."""
    before = ring.path.read_bytes()
    with pytest.raises(KeyRingError, match=match):
        step()
    assert ring.path.read_bytes() == before


def test_a_next_signing_key_signs_only_once_published_and_activated(ring: FileKeyRing) -> None:
    (old,) = statuses(ring, "sig")
    old_kid = ring.envelope_signing_key().kid
    new = ring.add_envelope_key("sig", "ES256")
    assert statuses(ring, "sig") == {old: "active", new: "next"}
    assert ring.envelope_signing_key().kid == old_kid
    refused(ring, lambda: ring.add_envelope_key("sig", "EdDSA"), f"{new} is already the next sig key")
    refused(ring, lambda: ring.activate(new), "never published: run 'hub keys export'")
    published = ring.published_envelope_keys()
    assert [key_id for key_id, _ in published] == [old, new, *statuses(ring, "enc")]
    assert all(not key.is_private for _, key in published)
    ring.mark_published([key_id for key_id, _ in published])
    assert ring.activate(new) == old
    assert statuses(ring, "sig") == {old: "previous", new: "active"}
    new_kid = ring.envelope_signing_key().kid
    assert new_kid != old_kid and ring.envelope_signing_key().crv == "P-256"
    assert {key.kid for _, key in ring.published_envelope_keys() if key.use == "sig"} == {old_kid, new_kid}
    refused(ring, lambda: ring.retire(new), "is the active sig key")
    refused(ring, lambda: ring.activate(old), "is previous; only a next key is activated")
    ring.retire(old)
    assert {key.kid for _, key in ring.published_envelope_keys() if key.use == "sig"} == {new_kid}
    refused(ring, lambda: ring.retire(old), "already retired")
    # what another process reads from the file
    again = FileKeyRing.open(ring.directory, PASSPHRASE)
    assert again.envelope_signing_key().kid == new_kid
    assert next(i for i in again.infos() if i.id == old).kid == old_kid


def test_an_encryption_key_opens_from_next_to_previous_and_its_kid_outlives_it(ring: FileKeyRing) -> None:
    (old,) = statuses(ring, "enc")
    old_kid = ring.envelope_decryption_keys()[0].kid
    new = ring.add_envelope_key("enc", "P-256")
    new_kid = next(i.kid for i in ring.infos() if i.id == new)
    assert [key.kid for key in ring.envelope_decryption_keys()] == [old_kid, new_kid]  # the next one opens already
    ring.mark_published([new])
    ring.activate(new)
    assert [key.kid for key in ring.envelope_decryption_keys()] == [new_kid, old_kid]  # active first, previous too
    assert [key.kid for _, key in ring.published_envelope_keys() if key.use == "enc"] == [new_kid]
    assert ring.retired_envelope_key(old_kid) is None
    ring.retire(old)
    assert [key.kid for key in ring.envelope_decryption_keys()] == [new_kid]
    assert ring.retired_envelope_key(old_kid) is not None
    stored = json.loads(ring.path.read_text())
    entry = next(e for e in stored["keys"] if e["id"] == old)
    assert "material" not in entry and entry["kid"] == old_kid


def test_a_next_key_never_activated_can_be_retired_and_an_unknown_alg_is_refused(ring: FileKeyRing) -> None:
    new = ring.add_envelope_key("enc", "X25519")
    ring.retire(new)
    refused(
        ring, lambda: ring.add_envelope_key("sig", "RS256"), "a signing \\(sig\\) key is EdDSA or ES256, not 'RS256'"
    )
    refused(ring, lambda: ring.add_envelope_key("enc", "EdDSA"), "an encryption \\(enc\\) key is X25519 or P-256")


def test_the_index_key_rotates_once_at_a_time_and_the_old_one_retires_only_when_replaced(ring: FileKeyRing) -> None:
    (old,) = statuses(ring, "index")
    old_key = ring.index_key()
    refused(ring, lambda: ring.retire(old), "is the index key in use")
    rotated = ring.rotate_index()
    new = ring.index_key_ids()[0]
    assert rotated == (old, new)
    assert statuses(ring, "index") == {old: "active", new: "primary"}
    assert ring.index_keys() == [ring.key_material(new), old_key]
    assert ring.index_key() != old_key
    refused(ring, ring.rotate_index, "still being rebuilt")
    refused(ring, lambda: ring.retire(new), "is the index key in use")
    refused(ring, lambda: ring.retire(next(iter(statuses(ring, "fingerprint")))), "fingerprint key")
    ring.retire(old)
    assert ring.index_keys() == [ring.key_material(new)]
    refused(ring, lambda: ring.key_material(old), f"key {old} was retired")


def test_a_ring_without_a_fingerprint_key_keeps_its_fingerprints_across_an_index_rotation(ring: FileKeyRing) -> None:
    doc = json.loads(ring.path.read_text())  # a ring from before fingerprint keys: none in it
    doc["keys"] = [e for e in doc["keys"] if e["purpose"] != "fingerprint"]
    ring.path.write_text(json.dumps(doc))
    old = FileKeyRing.open(ring.directory, PASSPHRASE)
    assert old.fingerprint_key() is None
    derived = derive_fingerprint_key(old.index_key())
    old.rotate_index()
    assert old.fingerprint_key() == derived  # pinned: duplicate detection does not change with the index key


def test_a_command_holding_an_old_copy_of_the_ring_does_not_undo_another_commands_change(ring: FileKeyRing) -> None:
    long_running = FileKeyRing.open(ring.directory, PASSPHRASE)  # e.g. a rebuild of the blind index
    old_index, new_index = long_running.rotate_index()
    meanwhile = FileKeyRing.open(ring.directory, PASSPHRASE)  # an operator adds a signing key meanwhile
    next_sig = meanwhile.add_envelope_key("sig", "EdDSA")
    long_running.retire(old_index)  # the rebuild ends
    final = FileKeyRing.open(ring.directory, PASSPHRASE)
    assert statuses(final, "sig")[next_sig] == "next"
    assert statuses(final, "index") == {old_index: "retired", new_index: "primary"}
