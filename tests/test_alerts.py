"""Alerts over real loopback servers: ``hub serve`` in a child process, partner simulators, a webhook receiver (a
real HTTP server) and an SMTP server (aiosmtpd, STARTTLS required, its certificate from the test's own CA)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from pathway.kit import milestone_toml, wait_until, write_pathway_settings

from hub.auth import hash_token
from hub.testing.messages import discharge_notice
from hub.testing.running_hub import free_port
from hub.testing.simulator import PartnerSimulator, Received
from hub.testing.smtp_server import SmtpServer, smtp_server
from hub.testing.world import HubWorld, build_world

SECRET_ENV = "HUB_TEST_ALERT_WEBHOOK_SECRET"
SECRET = "alert-signing-secret-for-the-test"
STEADY_RETRY = {"initial_seconds": 0.2, "multiplier": 1.0, "max_delay_seconds": 0.2, "jitter": 0.0,
                "max_attempts": 1_000_000}  # fmt: skip
"""A delivery that fails is tried again every 0.2 s, without end."""
ALERT_KEYS = {"id", "hub", "alert", "state", "key", "partner", "since", "at", "summary", "detail"}


class Mailbox:
    """The test's SMTP server (``hub.testing.smtp_server``), read as alerts."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self.port = server.port
        self.ca_file = server.ca_file

    @property
    def mails(self) -> list[EmailMessage]:
        """Every mail received, parsed."""
        return [m.message() for m in self.server.received()]

    def alerts(self, key: str) -> list[dict[str, Any]]:
        """The alerts of ``key`` the mails carried (their JSON part), in the order received."""
        mails = self.server.received()
        assert all(m.tls for m in mails), "an alert was mailed without STARTTLS"
        texts = [m.message().get_content() for m in mails]
        found = [json.loads(text[text.index("{") :]) for text in texts]
        return [a for a in found if a["key"] == key]


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[Mailbox]:
    """A real SMTP server on loopback that requires STARTTLS."""
    with smtp_server(tmp_path, "Alerts SMTP Test CA") as server:
        yield Mailbox(server)


@pytest.fixture
def receiver() -> Iterator[PartnerSimulator]:
    """The operators' webhook receiver: a real HTTP server that records each POST."""
    with PartnerSimulator("alerts-receiver") as sim:
        yield sim


def webhook_alerts(receiver: PartnerSimulator, key: str) -> list[dict[str, Any]]:
    """The alerts of ``key`` the receiver took, in the order received."""
    return [a for a in (json.loads(r.body) for r in list(receiver.received)) if a["key"] == key]


def alert_settings(webhook_url: str, box: Mailbox, **more: Any) -> dict[str, Any]:
    """An ``[alerts]`` table: one signed webhook and e-mail over STARTTLS, quick rounds and retries."""
    return {"interval_seconds": 0.2, "min_interval_seconds": 0, "retry_initial_seconds": 0.2,
            "retry_max_delay_seconds": 1.0,
            "webhooks": [{"name": "ops", "url": webhook_url, "secret_env": SECRET_ENV}],
            "smtp": {"host": "127.0.0.1", "port": box.port, "from": "hub@hub.example", "to": ["ops@hub.example"],
                     "ca_file": str(box.ca_file)}, **more}  # fmt: skip


@pytest.fixture
def alert_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., HubWorld]]:
    """Build a hub with the standard partners and these ``hub.toml`` tables; stopped after the test."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    built: list[HubWorld] = []

    def make(settings: dict[str, Any], pathways: str | None = None) -> HubWorld:
        world = build_world(tmp_path / f"w{len(built)}", settings=settings, start=pathways is None)
        built.append(world)
        if pathways is not None:
            write_pathway_settings(world.config_dir, "embedded", {}, hash_token("unused"))
            (world.config_dir / "pathways.toml").write_text(pathways)
            world.start()
        return world

    yield make
    for world in built:
        world.stop()


def refuse_counting(sim: PartnerSimulator) -> list[int]:
    """Make ``sim`` answer 503 to everything, counting the requests; returns the counter (one item per request)."""
    refused: list[int] = []

    def refuse(received: Received) -> int:
        refused.append(1)
        return 503

    sim.refuse_when = refuse
    return refused


def personal_values(message: dict[str, Any]) -> set[str]:
    """The person's values in a canonical message (names, NHS number, phone, address...): what no alert may hold."""
    out: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and len(value) >= 4 and not (value.isalpha() and value.islower()):
            out.add(value)  # not the codes (``male``, ``phone``): names, numbers, dates, addresses

    walk(message["payload"].get("person") or message["payload"].get("patient") or message["payload"])
    return out


def check_signed(received: Received) -> None:
    expected = "sha256=" + hmac.new(SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    assert received.headers.get("X-Hub-Signature-256") == expected
    assert received.headers.get("X-Hub-Alert-Id") == json.loads(received.body)["id"]


def test_a_partner_failing_a_thousand_times_gives_one_alert_and_then_one_recovery(
    alert_world: Callable[..., HubWorld], receiver: PartnerSimulator, mailbox: Mailbox
) -> None:
    retry = {"initial_seconds": 0.001, "multiplier": 1.0, "max_delay_seconds": 0.001, "jitter": 0.0,
             "max_attempts": 1_000_000}  # fmt: skip
    world = alert_world({"alerts": alert_settings(f"{receiver.url}/alerts", mailbox), "retry": retry})
    council = world.sims["council-luton"]
    refused = refuse_counting(council)
    messages = [discharge_notice() for _ in range(20)]
    for message in messages:
        assert world.send("trust-a", message).status_code == 202
    key = "partner:council-luton"
    assert wait_until(lambda: len(refused) >= 1000, timeout=180), f"only {len(refused)} attempts failed"
    assert wait_until(lambda: webhook_alerts(receiver, key), timeout=30)

    council.refuse_when = None
    assert council.wait_for(lambda s: len(s.messages("HousingRequest")) == len(messages), timeout=60)
    recovered = wait_until(lambda: len(webhook_alerts(receiver, key)) >= 2 and len(mailbox.alerts(key)) >= 2, 30)
    assert recovered, (webhook_alerts(receiver, key), mailbox.alerts(key))

    sent = webhook_alerts(receiver, key)
    assert [a["alert"] for a in sent] == ["partner_failing", "partner_recovered"]
    assert [a["id"] for a in sent] == [f"{key}#1", f"{key}#2"]
    assert sent[1]["detail"]["failed_attempts"] >= 1000 and sent[1]["partner"] == "council-luton"
    assert [a["id"] for a in mailbox.alerts(key)] == [a["id"] for a in sent]  # the same alerts by e-mail
    for received in receiver.received:
        check_signed(received)
        assert set(json.loads(received.body)) == ALERT_KEYS
    text = b"".join(r.body for r in receiver.received).decode() + "".join(str(m) for m in mailbox.mails)
    for message in messages:
        leaked = [value for value in personal_values(message) if value in text]
        assert not leaked, f"personal data in an alert: {leaked}"
    # the other partners took everything at once: no alert of theirs
    assert {json.loads(r.body)["key"] for r in receiver.received} == {key}


def test_a_queue_threshold_fires_when_reached_and_resolves_at_its_lower_line(
    alert_world: Callable[..., HubWorld], receiver: PartnerSimulator, mailbox: Mailbox
) -> None:
    thresholds = [{"measure": "pending", "partner": "*", "above": 5, "below": 1},
                  {"measure": "retrying", "above": 5}]  # fmt: skip
    settings = alert_settings(f"{receiver.url}/alerts", mailbox, thresholds=thresholds, partner_failures=False)
    world = alert_world({"alerts": settings, "retry": STEADY_RETRY})
    council = world.sims["council-luton"]
    refuse_counting(council)
    for _ in range(6):
        assert world.send("trust-a", discharge_notice()).status_code == 202
    pending, retrying = "queue:pending>=5:council-luton", "queue:retrying>=5:all"
    assert wait_until(lambda: webhook_alerts(receiver, pending) and webhook_alerts(receiver, retrying), timeout=30)
    first = webhook_alerts(receiver, pending)[0]
    assert (first["alert"], first["partner"], first["detail"]["measure"]) == ("queue_above", "council-luton", "pending")
    assert first["detail"]["value"] >= 5 and (first["detail"]["above"], first["detail"]["below"]) == (5, 1)

    council.refuse_when = None
    assert wait_until(lambda: len(webhook_alerts(receiver, pending)) >= 2 and len(webhook_alerts(receiver, retrying))
                      >= 2, timeout=30)  # fmt: skip
    for key in (pending, retrying):
        alerts = webhook_alerts(receiver, key)
        assert [a["alert"] for a in alerts] == ["queue_above", "queue_below"], alerts
        assert alerts[1]["detail"]["value"] <= alerts[1]["detail"]["below"]
    assert not any(json.loads(r.body)["alert"].startswith("partner_") for r in receiver.received)


def test_a_milestone_breach_is_alerted_with_the_partner_and_the_milestone_only(
    alert_world: Callable[..., HubWorld], receiver: PartnerSimulator, mailbox: Mailbox
) -> None:
    world = alert_world({"alerts": alert_settings(f"{receiver.url}/alerts", mailbox)}, pathways=milestone_toml(1))
    message = discharge_notice()
    assert world.send("trust-a", message).status_code == 202
    key = "milestone:trust-a:follow-up"
    assert wait_until(lambda: webhook_alerts(receiver, key) and mailbox.alerts(key), timeout=30)
    (alert,) = webhook_alerts(receiver, key)
    assert (alert["alert"], alert["partner"], alert["detail"]) == (
        "milestone_breached",
        "trust-a",
        {"milestone": "follow-up", "breaches": 1},
    )
    assert alert["summary"].startswith("1 follow-up milestone of partner trust-a breached since")
    assert mailbox.alerts(key)[0]["id"] == alert["id"] == f"{key}#1"
    body = json.dumps(alert)
    assert not [value for value in personal_values(message) if value in body]


def test_an_alert_is_not_sent_again_after_a_restart(
    alert_world: Callable[..., HubWorld], receiver: PartnerSimulator, mailbox: Mailbox
) -> None:
    world = alert_world({"alerts": alert_settings(f"{receiver.url}/alerts", mailbox), "retry": STEADY_RETRY})
    council = world.sims["council-luton"]
    refused = refuse_counting(council)
    assert world.send("trust-a", discharge_notice()).status_code == 202
    key = "partner:council-luton"
    assert wait_until(lambda: webhook_alerts(receiver, key) and mailbox.alerts(key), timeout=30)

    status = json.loads(world.cli("alerts", "status", "--json").stdout)
    firing = next(r for r in status if r["key"] == key)
    assert (firing["state"], firing["kind"], firing["partner"], firing["last_alerted"]) == (
        "firing", "partner", "council-luton", "firing")  # fmt: skip
    world.hub.stop()
    failed_before = len(refused)
    world.hub.start()  # the same store: the state, the cursor and the outbox are where they were
    assert wait_until(lambda: len(refused) > failed_before, timeout=30)  # the new process retries the delivery
    council.refuse_when = None
    assert wait_until(lambda: len(webhook_alerts(receiver, key)) >= 2 and len(mailbox.alerts(key)) >= 2, timeout=30)
    assert [a["alert"] for a in webhook_alerts(receiver, key)] == ["partner_failing", "partner_recovered"]
    assert [a["alert"] for a in mailbox.alerts(key)] == ["partner_failing", "partner_recovered"]
    listed = json.loads(world.cli("alerts", "list", "--json").stdout)
    assert sorted((r["id"], r["channel"], r["state"]) for r in listed) == [
        (f"{key}#1", "email", "sent"), (f"{key}#1", "webhook:ops", "sent"),
        (f"{key}#2", "email", "sent"), (f"{key}#2", "webhook:ops", "sent")]  # fmt: skip


def test_a_webhook_receiver_that_is_down_is_retried_until_it_takes_the_alert(
    alert_world: Callable[..., HubWorld], mailbox: Mailbox
) -> None:
    port = free_port()  # nothing listens here yet: the receiver is down
    world = alert_world({"alerts": alert_settings(f"http://127.0.0.1:{port}/alerts", mailbox), "retry": STEADY_RETRY})
    refuse_counting(world.sims["council-luton"])
    assert world.send("trust-a", discharge_notice()).status_code == 202
    key = "partner:council-luton"

    def webhook_row() -> dict[str, Any] | None:
        listed = json.loads(world.cli("alerts", "list", "--json").stdout)
        return next((r for r in listed if r["channel"] == "webhook:ops" and r["attempts"] >= 2), None)

    row = wait_until(webhook_row, timeout=30)
    assert row is not None and row["state"] == "pending" and "could not be reached" in row["last_error"]
    assert mailbox.alerts(key)  # e-mail is not held up by the webhook
    with PartnerSimulator("alerts-receiver", port=port) as receiver:
        assert wait_until(lambda: webhook_alerts(receiver, key), timeout=30)
        (alert,) = webhook_alerts(receiver, key)
        assert alert["id"] == f"{key}#1" and alert["alert"] == "partner_failing"
        check_signed(receiver.received[0])

        def webhook_sent() -> dict[str, Any] | None:
            listed = json.loads(world.cli("alerts", "list", "--json").stdout)
            return next((r for r in listed if r["channel"] == "webhook:ops" and r["state"] == "sent"), None)

        sent = wait_until(webhook_sent, timeout=30)
        assert sent is not None and sent["attempts"] >= 3
