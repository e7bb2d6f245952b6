"""A scheduled delivery from the operator's side (issue 11 item 2): ``hub messages show`` and ``list`` show it
scheduled, ``hub messages cancel`` cancels it once, and refuses, saying why, one that is not scheduled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from hub.runtime import build_hub
from hub.store.records import Intake, NewDelivery, NewMessage
from hub.testing.messages import housing_request


@pytest.fixture(autouse=True)
def passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_KEY_PASSPHRASE", "a passphrase for the scheduled delivery tests")


def hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub", *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ))  # fmt: skip


def stored(config: Path, not_before: float | None) -> tuple[str, str]:
    """A HousingRequest stored with one push delivery to council-luton (due at ``not_before``); its ids."""
    record, delivery = str(uuid.uuid4()), str(uuid.uuid4())
    message = housing_request(sender="trust-elft")
    now = time.time()
    intake = Intake([NewMessage(record, message["message_id"], "trust-elft", "HousingRequest",
                                json.dumps(message).encode(), now)])  # fmt: skip
    intake.deliveries.append(NewDelivery(delivery, record, "council-luton", "later", "push", not_before=not_before))
    store = build_hub(config).store  # with the key ring: bodies are stored encrypted
    try:
        store.accept_now(intake)
    finally:
        store.close()
    return record, delivery


def test_an_operator_sees_a_scheduled_delivery_and_cancels_it_once(tmp_path: Path) -> None:
    config = tmp_path / "config"
    assert hub("init", "--config", str(config)).returncode == 0
    record, delivery = stored(config, not_before=time.time() + 3600)
    shown = json.loads(hub("messages", "show", record, "--config", str(config)).stdout)
    [scheduled] = shown["deliveries"]
    assert scheduled["id"] == delivery and scheduled["state"] == "pending" and scheduled["attempts"] == 0
    assert scheduled["scheduled_until"] is not None and scheduled["outcome"] == "waiting"
    listed = json.loads(hub("messages", "list", "--config", str(config), "--json").stdout)
    assert [(r["id"], r["status"]) for r in listed] == [(record, "in_progress")]
    cancelled = hub("messages", "cancel", delivery, "--operator", "alice", "--config", str(config))
    assert cancelled.returncode == 0 and f"delivery {delivery} cancelled" in cancelled.stdout, cancelled.stderr
    after = json.loads(hub("messages", "show", record, "--config", str(config)).stdout)
    assert after["status"] == "cancelled" and after["deliveries"][0]["state"] == "cancelled"
    event = next(e for e in after["timeline"] if e["event"] == "cancelled")
    assert event["delivery_id"] == delivery
    again = hub("messages", "cancel", delivery, "--config", str(config))
    assert again.returncode == 1 and "is not a scheduled delivery" in again.stderr
    assert "Traceback" not in again.stderr
    verified = hub("audit", "verify", "--config", str(config))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_delivery_due_now_is_not_scheduled_and_cannot_be_cancelled(tmp_path: Path) -> None:
    config = tmp_path / "config"
    assert hub("init", "--config", str(config)).returncode == 0
    record, delivery = stored(config, not_before=None)
    shown = json.loads(hub("messages", "show", record, "--config", str(config)).stdout)
    assert shown["deliveries"][0]["scheduled_until"] is None
    refused = hub("messages", "cancel", delivery, "--config", str(config))
    assert refused.returncode == 1 and "is not a scheduled delivery" in refused.stderr
    assert json.loads(hub("messages", "show", record, "--config", str(config)).stdout)["status"] == "in_progress"
