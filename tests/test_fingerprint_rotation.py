"""The fingerprint key (duplicate detection at intake) rotates while the hub runs, and a repeat stays a repeat.

A real hub on loopback (``hub serve --no-worker``) with two ``hub worker`` processes beside it, on one store
(SQLite, or PostgreSQL under ``HUB_TEST_STORE=postgresql``). The operator rotates the fingerprint key, every
process picks it up without a restart, the operator's ``hub keys rebuild-fingerprints`` is killed with SIGKILL
after its first batch, and the workers finish the re-keying and retire the old key. Messages flow before,
during and after; a repeat of a message accepted before the rotation is answered as a repeat at every stage,
and a reuse of its id for other content is refused at every stage. The stored fingerprints are checked with
an HMAC-SHA256 computed here from the documented definition (docs/security.md), not with the hub's code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from rekeying_kit import hub_without_worker, query, start_worker

from hub.crypto.keyring import FileKeyRing, KeyRingError
from hub.testing import stop_process, wait_until
from hub.testing.messages import housing_request
from hub.testing.world import HubWorld

SETTLE_SECONDS = 4.0
"""``[keys] index_settle_seconds``: how long the re-keying waits after the rotation before its scan."""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[HubWorld]:
    """The standard partners and ``hub serve --no-worker`` (delivery and rebuilds are left to the workers)."""
    with hub_without_worker(tmp_path, SETTLE_SECONDS) as built:
        yield built


def ring(world: HubWorld) -> FileKeyRing:
    return FileKeyRing.open(world.config_dir / "keys", os.environ[world.passphrase_env])


def statuses(world: HubWorld) -> dict[str, str]:
    """The fingerprint keys' statuses in the key ring."""
    return {info.id: info.status for info in ring(world).infos() if info.purpose == "fingerprint"}


def hmac_of(key: bytes, message: dict[str, Any]) -> str:
    """The documented fingerprint: HMAC-SHA256 over the message serialised with sorted keys."""
    return hmac.new(key, orjson.dumps(message, option=orjson.OPT_SORT_KEYS), hashlib.sha256).hexdigest()


def rekeying_row(world: HubWorld) -> tuple[str, str | None]:
    """(phase, runner) of the latest re-keying of the fingerprints."""
    ((phase, runner),) = query(world, "SELECT phase, runner FROM index_rebuild WHERE purpose = 'fingerprint' "
                                      "ORDER BY started_at DESC LIMIT 1")  # fmt: skip
    return str(phase), runner


def test_a_repeat_stays_a_repeat_before_during_and_after_the_fingerprint_key_rotates(world: HubWorld) -> None:
    accepted: dict[str, tuple[dict[str, Any], str]] = {}  # message_id -> (message, record id)

    def send(count: int = 1) -> None:
        for _ in range(count):
            message = housing_request()
            response = world.send("trust-a", message)
            assert response.status_code == 202 and response.json()["duplicate"] is False, response.text
            accepted[message["message_id"]] = (message, response.json()["id"])

    def repeats_are_recognised(*message_ids: str) -> None:
        for message_id in message_ids:
            message, record = accepted[message_id]
            repeat = world.send("trust-a", dict(reversed(message.items())))  # member order is not content
            assert repeat.status_code == 202, repeat.text
            assert repeat.json() == {"id": record, "status": "accepted", "duplicate": True}
            changed = json.loads(json.dumps(message))
            changed["payload"]["person"]["family_name"] = "Otherwise"
            reused = world.send("trust-a", changed)
            assert reused.status_code == 409, reused.text

    workers = [start_worker(world, n) for n in range(2)]
    try:
        # before
        send(5)
        before = list(accepted)
        repeats_are_recognised(*before)
        (old_key,) = statuses(world)
        old_material = ring(world).key_material(old_key)
        assert all(query(world, "SELECT fingerprint FROM messages WHERE message_id = ?", mid)
                   == [(hmac_of(old_material, accepted[mid][0]),)] for mid in before)  # fmt: skip

        # rotated without the re-keying: the running processes fingerprint new messages under the new key
        # (without a restart) and recognise repeats under either
        done = world.cli("keys", "rotate-fingerprint", "--no-rebuild", "--operator", "ops")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "5 fingerprints to re-key" in done.stdout
        new_key = next(key for key, status in statuses(world).items() if status == "primary")
        assert statuses(world)[old_key] == "active"
        new_material = ring(world).key_material(new_key)

        def fingerprinted_under_the_new_key() -> bool:
            send()
            ((value,),) = query(world, "SELECT fingerprint FROM messages WHERE message_id = ?", list(accepted)[-1])
            return bool(value == hmac_of(new_material, accepted[list(accepted)[-1]][0]))

        assert wait_until(fingerprinted_under_the_new_key, timeout=30)
        repeats_are_recognised(*before, list(accepted)[-1])
        assert rekeying_row(world) == ("scan", None)
        assert "fingerprint re-keying: scan: 0 of 5" in world.cli("keys", "list").stdout

        # the operator's re-keying is killed after its first batch: rows are under both keys now
        command = [
            sys.executable,
            "-m",
            "hub",
            "keys",
            "rebuild-fingerprints",
            "--batch-size",
            "1",
            "--settle-seconds",
            str(SETTLE_SECONDS),
            "--operator",
            "ops",
            "--config",
            str(world.config_dir),
        ]
        operator = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert operator.stderr is not None

        def moved() -> list[str]:
            return [mid for mid in before if query(world, "SELECT fingerprint FROM messages WHERE message_id = ?", mid)
                    == [(hmac_of(new_material, accepted[mid][0]),)]]  # fmt: skip

        # killed after the first batch that moved one of them (a batch may take a message that a running process
        # already fingerprinted under the new key: the scan covers the minute before the rotation)
        while not ("scan: " in (line := operator.stderr.readline()) and moved()):
            assert line, "the re-keying ended before a batch moved one of the messages from before"
        operator.send_signal(signal.SIGKILL)
        operator.communicate(timeout=30)
        send(2)
        repeats_are_recognised(*before)

        # a worker finishes it and only then retires the old key; repeats are recognised all the while
        def finished() -> bool:
            send()
            repeats_are_recognised(before[0], before[-1])
            return rekeying_row(world)[0] == "finished" and statuses(world)[old_key] == "retired"

        assert wait_until(finished, timeout=120, interval=0.5)
        runner = rekeying_row(world)[1] or ""
        match = re.fullmatch(r"hub on .+ \(pid (\d+)\)", runner)
        assert match and int(match.group(1)) in {w.pid for w in workers}, runner

        # after: every stored fingerprint under the new key; repeats of messages from before, during and after
        send(2)
        repeats_are_recognised(*accepted)
        for message_id, (message, _) in accepted.items():
            assert query(world, "SELECT fingerprint FROM messages WHERE message_id = ?", message_id) == [
                (hmac_of(new_material, message),)
            ]
        with pytest.raises(KeyRingError, match="retired"):
            ring(world).key_material(old_key)
        council = world.sims["council-luton"]
        assert council.wait_for(lambda s: set(accepted) <= {m["message_id"] for m in s.messages()}, timeout=60)

        # each step on the audit chain once, and the chain verifies
        rows = query(world, "SELECT kind, actor, detail FROM events WHERE record_id = '' ORDER BY seq")
        steps = [(kind, actor, json.loads(detail or "{}")) for kind, actor, detail in rows]
        assert [(a, d["to"]) for k, a, d in steps if k == "key_rotated"] == [("ops", new_key)]
        assert [d["replaced"] for k, _, d in steps if k == "fingerprints_rekeyed"] == [old_key]
        assert [(a, d["key"]) for k, a, d in steps if k == "key_retired" and d["purpose"] == "fingerprint"] == [
            ("hub", old_key)
        ]
        logs = [(world.config_dir / f"worker-{n}.log").read_text() for n in range(2)]
        assert sum(log.count("fingerprint re-keying resumed here and finished") for log in logs) == 1
        verified = world.cli("audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        for process in workers:
            stop_process(process)


def test_the_fingerprint_key_s_rotation_is_refused_while_one_is_unfinished_and_the_key_in_use_never_retires(
    tmp_path: Path,
) -> None:
    passphrase = "a long test passphrase"
    ring = FileKeyRing.create(tmp_path / "keys", passphrase)
    (first,) = ring.fingerprint_key_ids()
    with pytest.raises(KeyRingError, match="in use"):
        ring.retire(first)
    old, new = ring.rotate_fingerprint()
    assert (old, ring.fingerprint_key_ids()) == (first, [new, first])
    assert ring.fingerprint_key() == ring.fingerprint_keys()[0] != ring.fingerprint_keys()[1]
    before = ring.path.read_bytes()
    with pytest.raises(KeyRingError, match="still being re-keyed"):
        ring.rotate_fingerprint()
    with pytest.raises(KeyRingError, match="in use"):
        ring.retire(new)
    assert ring.path.read_bytes() == before  # a refusal changes nothing
    ring.retire(first)
    assert ring.fingerprint_key_ids() == [new]


def test_a_ring_without_a_fingerprint_key_rotates_from_the_key_it_derived(tmp_path: Path) -> None:
    from hub.crypto.fingerprint import derive_fingerprint_key, fingerprint_key

    ring = FileKeyRing.create(tmp_path / "keys", "a long test passphrase")
    doc = json.loads(ring.path.read_text())
    doc["keys"] = [k for k in doc["keys"] if k["purpose"] != "fingerprint"]
    ring.path.write_text(json.dumps(doc))
    older = FileKeyRing.open(tmp_path / "keys", "a long test passphrase")
    derived = fingerprint_key(older)
    old, new = older.rotate_fingerprint()
    assert older.key_material(old) == derived == derive_fingerprint_key(older.index_key())
    assert older.fingerprint_keys() == [older.key_material(new), derived]
