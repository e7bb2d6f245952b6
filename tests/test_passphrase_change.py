"""The key ring's passphrase changes while the hub runs: processes on the old one keep working until restarted.

First the key ring alone (``FileKeyRing``: both passphrases open it during the change, nothing new is sealed
under only one), then a real hub on loopback walking the procedure of docs/operators.md with messages
accepted, delivered and found by NHS number before, during and after: ``hub keys passphrase --new-env``
beside the running hub, a second ``hub serve`` started with the new passphrase, the first stopped, then
``hub keys passphrase --finish``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.crypto.keyring import FileKeyRing, KeyRingError
from hub.testing.messages import housing_request
from hub.testing.raw_store import raw_store
from hub.testing.running_hub import RunningHub

OLD, NEW = "the-old-passphrase-0", "the-new-passphrase-1"


def test_both_passphrases_open_the_ring_during_the_change_and_only_the_new_one_after(tmp_path: Path) -> None:
    ring = FileKeyRing.create(tmp_path / "keys", OLD)
    kek, index_key = ring.kek(ring.primary_kek_id()), ring.index_key()
    with pytest.raises(KeyRingError, match="at least 12"):
        ring.begin_passphrase_change("short")
    with pytest.raises(KeyRingError, match="is the current one"):
        ring.begin_passphrase_change(OLD)
    with pytest.raises(KeyRingError, match="no passphrase change"):
        ring.finish_passphrase_change()

    ring.begin_passphrase_change(NEW)
    old, new = FileKeyRing.open(tmp_path / "keys", OLD), FileKeyRing.open(tmp_path / "keys", NEW)
    assert (old.on_previous_passphrase, new.on_previous_passphrase) == (True, False)
    for opened in (old, new):  # the same keys, whichever passphrase opened them
        assert opened.kek(opened.primary_kek_id()) == kek and opened.index_key() == index_key
    with pytest.raises(KeyRingError, match="wrong passphrase"):
        FileKeyRing.open(tmp_path / "keys", "a-third-passphrase-2")
    for opened in (old, new):  # nothing is sealed under one passphrase only
        with pytest.raises(KeyRingError, match="passphrase is being changed"):
            opened.rotate()
        with pytest.raises(KeyRingError, match="passphrase is being changed"):
            opened.add_envelope_key("sig", "EdDSA")
    with pytest.raises(KeyRingError, match="finish it"):
        new.begin_passphrase_change("yet-another-passphrase-3")
    # status changes need no sealing: made by a process on the old passphrase, seen by one on the new
    sig = next(info.id for info in old.infos() if info.purpose == "sig")
    old.mark_published([sig])
    new.load()
    assert next(info for info in new.infos() if info.id == sig).published_at is not None
    with pytest.raises(KeyRingError, match="given the passphrase being replaced"):
        old.finish_passphrase_change()

    assert new.finish_passphrase_change()
    with pytest.raises(KeyRingError, match="wrong passphrase"):
        FileKeyRing.open(tmp_path / "keys", OLD)
    after = FileKeyRing.open(tmp_path / "keys", NEW)
    assert after.kek(after.primary_kek_id()) == kek and after.passphrase_change_begun() is None
    assert "previous" not in (tmp_path / "keys" / "keyring.json").read_text()
    after.rotate()  # keys are added again once it is over


def hub_cli(world, passphrase: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``hub ARGS`` with ``passphrase`` in the ring's variable (and the new one in HUB_NEW_PASSPHRASE)."""
    env = {**os.environ, world.passphrase_env: passphrase, "HUB_NEW_PASSPHRASE": NEW}
    return subprocess.run([sys.executable, "-m", "hub", *args, "--config", str(world.config_dir)], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_the_passphrase_changes_while_messages_flow_and_hubs_are_restarted_one_at_a_time(
    make_world, monkeypatch
) -> None:
    monkeypatch.setenv("HUB_KEY_PASSPHRASE", OLD)  # the world's ring is made under it (and the hub runs with it)
    world = make_world()
    assert world.passphrase_env == "HUB_KEY_PASSPHRASE"
    council = world.sims["council-luton"]
    number = housing_request()["payload"]["person"]["nhs_number"]
    sent: list[str] = []

    def send(url: str, count: int = 2) -> None:
        for _ in range(count):
            message = housing_request()
            response = world.as_("trust-a").post(f"{url}/v1/messages", json=message, timeout=10)
            assert response.status_code == 202, response.text
            sent.append(message["message_id"])
        assert council.wait_for(lambda s: set(sent) <= {m["message_id"] for m in s.messages()}, timeout=60)
        found = world.as_("ops").get(f"{url}/v1/messages?nhs_number={number}", timeout=10)
        assert found.status_code == 200, found.text
        assert sorted(item["message_id"] for item in found.json()["items"]) == sorted(sent)

    first = world.hub
    send(first.url)  # before

    # during: begun beside the running hub, which goes on with the old passphrase
    begun = hub_cli(world, OLD, "keys", "passphrase", "--new-env", "HUB_NEW_PASSPHRASE", "--operator", "ops")
    assert begun.returncode == 0, begun.stderr
    send(first.url)
    refused = hub_cli(world, NEW, "keys", "rotate", "--operator", "ops")
    assert refused.returncode == 1 and "passphrase is being changed" in refused.stderr
    listed = hub_cli(world, OLD, "keys", "list")
    assert listed.returncode == 0 and "passphrase change begun" in listed.stdout
    monkeypatch.setenv("HUB_KEY_PASSPHRASE", NEW)  # what the next process is given
    second = RunningHub(world.config_dir).start(
        timeout=60
    )  # the hub restarted with the new one, beside the old process
    try:
        send(second.url)
        send(first.url)
        first.stop()
        finished = hub_cli(world, OLD, "keys", "passphrase", "--finish", "--operator", "ops")
        assert finished.returncode == 1 and "given the passphrase being replaced" in finished.stderr
        finished = hub_cli(world, NEW, "keys", "passphrase", "--finish", "--operator", "ops")
        assert finished.returncode == 0, finished.stderr

        # after: only the new passphrase opens the ring; stored bodies still read (the keys never changed)
        send(second.url)
        old_refused = hub_cli(world, OLD, "keys", "list")
        assert old_refused.returncode == 1 and "wrong passphrase" in old_refused.stderr
        first_stored = world.as_("ops").get(f"{second.url}/v1/messages?nhs_number={number}", timeout=10)
        shown = hub_cli(world, NEW, "messages", "show", first_stored.json()["items"][0]["id"], "--body",
                        "--operator", "ops")  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["body"]["message_id"] == sent[0]
        conn = raw_store(world)
        try:
            rows = conn.execute("SELECT kind, actor, detail FROM events WHERE record_id = '' AND kind != 'searched' "
                                "ORDER BY seq").fetchall()  # fmt: skip
        finally:
            conn.close() if hasattr(conn, "close") else conn.conn.close()
        steps = [(kind, actor, json.loads(detail or "{}").get("step")) for kind, actor, detail in rows
                 if json.loads(detail or "{}").get("purpose") == "passphrase"]  # fmt: skip
        assert steps == [("key_rotated", "ops", "begun"), ("key_retired", "ops", None)]
        verified = hub_cli(world, NEW, "audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        second.stop()
