"""The hostels plugin's scene of ``hub demo``: an allocation chain with three hostels.

A care coordinator (``demo-coordinator``) refers a person without choosing a provider. Three hostels are linked
to three services of a small directory imported from a file: ``demo-hostel-full`` has no place,
``demo-hostel-decliner`` has three and declines the offer (reason code ``risk``), ``demo-hostel-taker`` has one
and accepts it. The hostels answer with an Acknowledgement of the offered Referral, as a provider's system
would; the coordinator receives a ``ReferralUpdate`` at each step. Every service, organisation and person here
is made up.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from hub import DemoPartner, DemoScene, DemoStage
from hub_hostels.directory.database import database_url, open_directory
from hub_hostels.directory.importer import import_file

COORDINATOR = "demo-coordinator"
HOSTELS = (("demo-hostel-full", "demo-svc-full", 0), ("demo-hostel-taker", "demo-svc-taker", 1),
           ("demo-hostel-decliner", "demo-svc-decliner", 3))  # fmt: skip
"""(partner, service, places), in the order their capacity is recorded: the freshest figure is offered first."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _answer(partner: str, status: str, reason_code: str) -> Any:
    """A hostel's system: it answers each offered Referral with a business Acknowledgement."""

    def respond(message: dict[str, Any]) -> list[dict[str, Any]]:
        if message.get("type") != "Referral" or not message.get("payload", {}).get("offer_id"):
            return []
        now = _iso(datetime.now(UTC))
        payload = {"level": "business", "status": status, "reason_code": reason_code, "at": now}
        return [{"message_id": str(uuid.uuid4()), "type": "Acknowledgement", "schema_version": "1",
                 "created_at": now, "correlation_id": message.get("correlation_id"),
                 "in_reply_to": message["message_id"], "sender": {"org_id": partner}, "payload": payload}]  # fmt: skip

    return respond


def _describe(message: dict[str, Any]) -> str:
    payload = message.get("payload") or {}
    if message.get("type") == "ReferralUpdate":
        detail = payload.get("reason_code") or payload.get("waiting_because")
        return f"{payload.get('step')}{f': {detail}' if detail else ''}"
    if message.get("type") == "Acknowledgement":
        return f"{payload.get('status')}, {payload.get('reason_code')}"
    return "an offer" if payload.get("offer_id") else ""


def _service(service_id: str, name: str) -> dict[str, Any]:
    return {"id": service_id, "name": name, "status": "active", "minimum_age": 18, "maximum_age": 65,
            "organization": {"id": f"org-{service_id}", "name": f"{name} (a made-up charity)"},
            "attributes": [{"id": f"a-{service_id}", "taxonomy_term": {"id": "t-mh", "name": "Mental health"}}],
            "last_modified": "2026-01-01T00:00:00Z"}  # fmt: skip


def _referral() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "message_id": str(uuid.uuid4()), "type": "Referral", "schema_version": "1", "created_at": _iso(now),
        "correlation_id": str(uuid.uuid4()), "sender": {"org_id": COORDINATOR},
        "consent": {"referral": True, "share_contact": True, "method": "oral", "recorded_at": _iso(now),
                    "recorded_by": "Care coordinator"},
        "lawful_basis": "UK GDPR Art 6(1)(e) and Art 9(2)(h)",
        "payload": {
            "referral_id": f"REF-DEMO-{uuid.uuid4().hex[:8].upper()}",
            "person": {"family_name": "Example", "given_name": "Sam", "birth_date": "1988-02-11",
                       "gender": "unknown", "phone": "07700 900456", "no_fixed_abode": True},
            "referrer": {"name": "Care coordinator", "organisation": "Community mental health team",
                         "phone": "01582 700200"},
            "source": "professional",
            "reason": "Leaving a ward with nowhere to stay: supported accommodation needed",
            "risk_summary": "Low risk to others",
            "support_needs": ["mental health"],
            "received_at": _iso(now),
            "assessment_due_at": _iso(now + timedelta(hours=48)),
        },
    }  # fmt: skip


def play(stage: DemoStage) -> bool:
    """Import the directory, record the places, refer the person and follow the chain until a place is accepted."""
    feed = stage.config_dir / "demo-directory.json"
    feed.write_text(json.dumps([_service(sid, f"Demo hostel {sid.rsplit('-', 1)[-1]}") for _p, sid, _n in HOSTELS]))
    directory = open_directory(database_url(stage.settings))
    try:
        report = import_file(directory, feed)
    finally:
        directory.close()
    stage.show("hub", f"directory imported from a file: {report.listed} services ({report.added} new)")
    for partner, service_id, places in HOSTELS:
        answer = requests.put(f"{stage.hub_url}/plugins/hostels/services/{service_id}/capacity",
                              json={"available": places}, timeout=10,
                              headers={"Authorization": f"Bearer {stage.token(partner)}"})  # fmt: skip
        if answer.status_code != 200:
            stage.show(partner, f"capacity refused: {answer.status_code}")
            return False
        stage.show(partner, f"-> records {places} place{'s' if places != 1 else ''} free")
        time.sleep(0.01)  # each figure recorded after the one before: the freshest is offered first
    headers = {"Authorization": f"Bearer {stage.token(COORDINATOR)}"}
    sent = requests.post(f"{stage.hub_url}/v1/messages", json=_referral(), headers=headers, timeout=10)
    if sent.status_code != 202:
        stage.show(COORDINATOR, f"referral refused: {sent.status_code} {sent.text[:400]}")
        return False
    record = sent.json()["id"]
    stage.show(COORDINATOR, "-> sends a Referral naming no provider: the hub matches it")
    while time.monotonic() < stage.deadline:
        view = requests.get(f"{stage.hub_url}/plugins/hostels/referrals/{record}", headers=headers, timeout=10)
        if view.status_code == 200 and view.json()["state"] == "accepted":
            told = ", ".join(s["step"] + (f" ({s['detail']})" if s["detail"] else "") for s in view.json()["told"])
            stage.show("hub", f"allocation chain: {told}")
            return True
        time.sleep(0.2)
    return False


def demo_scene() -> DemoScene:
    """The scene (registered by ``hub_register_demo_scenes`` in ``plugin.py``)."""
    partners = [DemoPartner(COORDINATOR, "referrer", describe=_describe),
                DemoPartner("demo-hostel-full", "hostel", describe=_describe),
                DemoPartner("demo-hostel-decliner", "hostel", _answer("demo-hostel-decliner", "rejected", "risk"),
                            _describe),
                DemoPartner("demo-hostel-taker", "hostel", _answer("demo-hostel-taker", "accepted", "offer_accepted"),
                            _describe)]  # fmt: skip
    links = [{"id": sid, "partner": partner, "unit": "bed", "needs": ["mental_health"]} for partner, sid, _n in HOSTELS]
    return DemoScene("hostels-allocation", "Allocation chain: a referral naming no provider, three hostels",
                     tuple(partners), play, {"plugins": {"hostels": {"service": links}}})  # fmt: skip
