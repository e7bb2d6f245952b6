"""``hub demo``: the discharge pathway end to end on loopback, on the embedded default store.

Starts the hub (SQLite in a temporary directory, the example routes) and four
partner simulators that are real HTTP servers: a trust, a council, a hostel and
an IPS service. The trust sends a discharge notice for a person of no fixed
abode who consents to a Duty to Refer and wants work. The demo shows, as it
happens, the HousingRequest reaching the council, the council's appointment
coming back to the trust, the referral reaching the hostel and the IPS referral
reaching the IPS service, each acknowledged, then prints the timeline.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import requests

from hub.config import load_config
from hub.demo_scenes import Stage, play_scenes, scene_partners, scene_settings
from hub.partners import PartnerDirectory
from hub.shipped import copy_example_config
from hub.store.url import describe
from hub.testing.simulator import PartnerSimulator, Received
from hub.testing.world import Partner, build_world, example_routes, merge_settings

DEMO_PASSPHRASE_ENV = "HUB_DEMO_KEY_PASSPHRASE"
DEMO_TIME_SCALE = 36000.0
"""The demo's compressed pathway clock: an hour of the pathway passes in a tenth of a second."""
ROLES = {"trust": "nhs_trust", "council": "council", "hostel": "hostel", "ips": "ips_provider"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def acknowledgement(message: dict[str, Any], sender: dict[str, str], status: str = "accepted") -> dict[str, Any]:
    """A business acknowledgement of ``message`` from ``sender``."""
    return {
        "message_id": str(uuid.uuid4()),
        "type": "Acknowledgement",
        "schema_version": "1",
        "created_at": _now(),
        "correlation_id": message.get("correlation_id"),
        "in_reply_to": message["message_id"],
        "sender": sender,
        "payload": {
            "level": "business",
            "status": status,
            "receiver_ref": f"REF-{message['message_id'][:8]}",
            "at": _now(),
        },
    }


def housing_appointment(request: dict[str, Any], sender: dict[str, str]) -> dict[str, Any]:
    """The council's first appointment for a HousingRequest."""
    start = (datetime.now(UTC) + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    return {
        "message_id": str(uuid.uuid4()),
        "type": "HousingAppointment",
        "schema_version": "1",
        "created_at": _now(),
        "correlation_id": request.get("correlation_id"),
        "in_reply_to": request["message_id"],
        "sender": sender,
        "payload": {
            "authority_gss": request["payload"]["target_authority_gss"],
            "case_ref": f"HRA-{request['payload']['referral_id'][:8].upper()}",
            "status": "offered",
            "start": start.isoformat().replace("+00:00", "Z"),
            "mode": "phone",
            "officer": {"name": "Housing Options Officer", "phone": "01582 546000"},
        },
    }


def discharge_notice(trust: dict[str, str], council_gss: str, hostel: str, ips: str) -> dict[str, Any]:
    """The demo's discharge notice: a fictional person of no fixed abode who consents and wants work."""
    now = datetime.now(UTC)
    return {
        "message_id": str(uuid.uuid4()),
        "type": "DischargeNotice",
        "schema_version": "1",
        "created_at": _now(),
        "sender": trust,
        "consent": {
            "referral": True,
            "share_contact": True,
            "method": "written",
            "recorded_at": _now(),
            "recorded_by": "Ward manager",
        },
        "lawful_basis": "UK GDPR Art 6(1)(e), 9(2)(h); Homelessness Reduction Act 2017 s.213B",
        "payload": {
            "person": {
                "nhs_number": "9434765919",
                "nhs_number_status": "01",
                "family_name": "Example",
                "given_name": "Alex",
                "birth_date": "1990-05-17",
                "gender": "unknown",
                "phone": "07700 900123",
                "preferred_contact": "phone",
                "no_fixed_abode": True,
            },
            "discharging_org": {"ods_code": trust.get("ods_code", "RWK")},
            "ward": "Willow Ward",
            "admission_date": (now - timedelta(days=40)).date().isoformat(),
            "discharge": {
                "date_time": (now + timedelta(days=3)).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "planned": True,
                "method": "1",
                "destination": "19",
            },
            "contact": {
                "name": "Discharge liaison nurse",
                "organisation": "Mental health trust",
                "phone": "01582 700100",
                "email": "discharge.liaison@example.org",
            },
            "housing": {
                "situation": "no_fixed_abode",
                "chosen_authority_gss": council_gss,
                "support_needs": ["Support to manage a tenancy"],
                "urgent": True,
            },
            "support": {
                "needs": ["Support to manage a tenancy", "Medication support"],
                "risk_summary": "Low risk to others",
                "provider_id": hostel,
            },
            "employment": {
                "wants_work": True,
                "consent": True,
                "goal": "Warehouse work",
                "current_status": "unemployed",
                "benefits_advice_needed": True,
                "provider_id": ips,
            },
        },
    }


class _Show:
    """Prints what happens, with the time since the demo started."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self, who: str, text: str) -> None:
        with self.lock:
            click.echo(f"  +{time.monotonic() - self.t0:6.3f}s  {who:14} {text}")


def _pick(directory: PartnerDirectory, kind: str) -> str:
    for partner in directory.partners.values():
        if partner.kind == kind and partner.receive.mode == "push":
            return partner.id
    raise click.ClickException(f"the example partners.toml has no {kind} that receives by push")


def run_demo(timeout: float = 25.0, keep: Path | None = None) -> int:
    """Run the demo; return the exit status (0 when every step happened in time)."""
    import uvicorn

    from hub.api import create_app
    from hub.plugins import load_plugins
    from hub.runtime import build_hub

    started = time.monotonic()
    workdir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="hub-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    example = workdir / "example"
    copy_example_config(example)  # the example deployment, from the hub's package data
    config = load_config(example)
    partners = config.partners
    ids = {role: _pick(partners, kind) for role, kind in ROLES.items()}
    show = _Show()
    plugins = load_plugins()
    scenes = list(plugins.demo_scenes.values())

    def on_receive(role: str) -> Any:
        def note(item: Received) -> None:
            message = item.message
            extra = ""
            if message.get("type") == "Acknowledgement":
                extra = f" ({message['payload']['status']})"
            elif message.get("type") == "HousingAppointment":
                extra = f" ({message['payload']['status']}, {message['payload'].get('mode')})"
            elif message.get("type") == "PathwayNotice":
                extra = f" ({message['payload']['notice']}: {message['payload']['milestone']})"
            show(ids[role], f"<- received {message.get('type')}{extra}{', sealed' if item.sealed else ''}")

        return note

    def parties(role: str) -> dict[str, str]:
        return partners.partners[ids[role]].party()

    referrals: list[dict[str, Any]] = []

    def hostel_assesses(message: dict[str, Any]) -> list[dict[str, Any]]:
        """The hostel assesses when the hub reminds it, and then accepts the referral (meeting the milestone)."""
        if message["type"] == "Referral":
            referrals.append(message)
        elif message["type"] == "PathwayNotice" and message["payload"]["notice"] == "reminder" and referrals:
            return [acknowledgement(referrals[0], parties("hostel"))]
        return []

    responders = {
        "council": lambda m: [acknowledgement(m, parties("council")), housing_appointment(m, parties("council"))]
        if m["type"] == "HousingRequest" else [],
        "hostel": hostel_assesses,
        "ips": lambda m: [acknowledgement(m, parties("ips"))] if m["type"] == "IPSReferral" else [],
        "trust": lambda m: [acknowledgement(m, parties("trust"))] if m["type"] == "HousingAppointment" else [],
    }  # fmt: skip
    # the demo makes its own key ring; its passphrase lives only in this process's environment
    os.environ[DEMO_PASSPHRASE_ENV] = secrets.token_urlsafe(24)
    shutil.rmtree(workdir / "keys", ignore_errors=True)  # a kept directory from an earlier demo run
    for old in workdir.glob("hub.db*"):
        old.unlink()
    # every partner seals: each gets its own key pairs and knows the hub's public keys
    demo_partners = [
        Partner(ids[role], kind, partners.partners[ids[role]].codes, path="/hub", sealed=True,
                responder=responders[role], on_receive=on_receive(role))
        for role, kind in ROLES.items()
    ]  # fmt: skip
    demo_partners += scene_partners(scenes, show)
    world = build_world(workdir, demo_partners, routes=example_routes(example), fast=False, start=False,
                        operators=("demo-operator",), passphrase_env=DEMO_PASSPHRASE_ENV,
                        settings=merge_settings({"retry": {"initial_seconds": 0.2, "max_delay_seconds": 2.0},
                                                 "pathway": {"time_scale": DEMO_TIME_SCALE}},
                                                scene_settings(scenes)))  # fmt: skip
    copy_example_config(world.config_dir, ("pathways.toml",))  # the seeds' milestones
    sims = {role: world.sims[ids[role]] for role in ROLES}
    tokens = {role: world.tokens[ids[role]] for role in ROLES}
    operator_token = world.tokens["demo-operator"]
    config = load_config(world.config_dir)
    settings = config.settings
    hub = build_hub(config, plugins=plugins)
    server = uvicorn.Server(uvicorn.Config(create_app(hub), host="127.0.0.1", port=world.port, log_level="warning",
                                           access_log=False))  # fmt: skip
    thread = threading.Thread(target=server.run, name="hub-server", daemon=True)
    hub_url = world.url

    click.echo(f"Partner hub demo: hub on {hub_url}, store {describe(settings.store_url)}")
    click.echo(f"  partners: trust {ids['trust']}, council {ids['council']}, hostel {ids['hostel']}, "
               f"IPS service {ids['ips']} (each a real HTTP server on loopback)\n")  # fmt: skip
    thread.start()
    status = 1
    try:
        while not server.started:
            if time.monotonic() - started > 10:
                raise click.ClickException("the hub did not start within 10 seconds")
            time.sleep(0.02)
        council_gss = partners.partners[ids["council"]].codes["gss_code"]
        notice = discharge_notice(parties("trust"), council_gss, ids["hostel"], ids["ips"])
        show(ids["trust"], "-> sends DischargeNotice, sealed (no fixed abode, consents to a Duty to Refer, "
                           "wants work)")  # fmt: skip
        answer = requests.post(f"{hub_url}/v1/messages", data=sims["trust"].seal(notice), timeout=10,
                               headers={"Authorization": f"Bearer {tokens['trust']}",
                                        "Content-Type": "application/jose"})  # fmt: skip
        if answer.status_code != 202:
            raise click.ClickException(f"the hub refused the discharge notice: {answer.status_code} {answer.text}")
        notice_id = answer.json()["id"]
        show("hub", f"202 accepted after commit: message {notice_id}")
        done = _wait_until_done(hub_url, operator_token, notice_id, sims, started + timeout)
        pathway = _wait_for_pathway(hub_url, operator_token, notice["message_id"], started + timeout) if done else None
        click.echo("")
        _print_timeline(hub_url, operator_token, notice_id, sims, ids)
        if pathway is not None:
            _print_pathway(pathway)
        done = done and pathway is not None
        if done and scenes:
            stage = Stage(hub_url, world.config_dir, settings, operator_token, time.monotonic() + timeout,
                          dict(world.tokens), show)  # fmt: skip
            done = play_scenes(scenes, stage)
        if done:
            click.echo(f"\nDone in {time.monotonic() - started:.1f}s: every message delivered and acknowledged.")
            status = 0
        else:
            click.echo(f"\nNot finished within {timeout:g}s; the timeline above shows how far it got.", err=True)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        world.stop()
        hub.close()
    return status


def _view(hub_url: str, token: str, record_id: str) -> dict[str, Any]:
    response = requests.get(f"{hub_url}/v1/messages/{record_id}", headers={"Authorization": f"Bearer {token}"},
                            timeout=10)  # fmt: skip
    response.raise_for_status()
    view: dict[str, Any] = response.json()  # the message view, a JSON object
    return view


def _reply_ids(sims: dict[str, PartnerSimulator]) -> list[tuple[str, str]]:
    out = []
    for sim in sims.values():
        for reply in list(sim.replies):
            if reply.status == 202 and "id" in reply.answer:
                out.append((reply.answer["id"], reply.message.get("type", "")))
    return out


def _wait_until_done(
    hub_url: str, token: str, notice_id: str, sims: dict[str, PartnerSimulator], deadline: float
) -> bool:
    while time.monotonic() < deadline:
        view = _view(hub_url, token, notice_id)
        replies = _reply_ids(sims)
        appointments = [rid for rid, kind in replies if kind == "HousingAppointment"]
        derived_done = len(view["deliveries"]) == 3 and all(d["state"] == "acknowledged" for d in view["deliveries"])
        appointment_done = bool(appointments) and all(
            d["state"] == "acknowledged" for d in _view(hub_url, token, appointments[0])["deliveries"]
        )
        acks_done = all(
            all(d["state"] == "delivered" for d in _view(hub_url, token, rid)["deliveries"])
            for rid, kind in replies
            if kind == "Acknowledgement"
        )
        if derived_done and appointment_done and acks_done and len(replies) >= 5:
            return True
        time.sleep(0.05)
    return False


def _wait_for_pathway(hub_url: str, token: str, correlation_id: str, deadline: float) -> dict[str, Any] | None:
    """The pathway once the assessment is met and the 72-hour follow-up breached (None if not by ``deadline``)."""
    while time.monotonic() < deadline:
        response = requests.get(f"{hub_url}/v1/pathways/{correlation_id}", timeout=10,
                                headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        if response.status_code == 200:
            view: dict[str, Any] = response.json()
            states = {m["milestone"]: m["state"] for m in view["milestones"]}
            if states.get("assessment") == "met" and states.get("follow-up-72h") == "breached":
                return view
        time.sleep(0.1)
    click.echo("The pathway did not reach its expected states in time.", err=True)
    return None


def _print_pathway(view: dict[str, Any]) -> None:
    """The pathway's milestones, in the pathway's own hours (the demo's clock runs 36,000 times fast)."""
    now = time.time()
    click.echo(f"\nPathway {view['correlation_id']} (compressed clock: 1 hour of the pathway = "
               f"{3600 / DEMO_TIME_SCALE:g} s):")  # fmt: skip
    for m in sorted(view["milestones"], key=lambda m: m["due_at"]):
        due = datetime.fromisoformat(m["due_at"].replace("Z", "+00:00")).timestamp()
        hours = (due - now) * DEMO_TIME_SCALE / 3600
        state = m["state"]
        if state == "met":
            text = "met" + (" after a reminder" if m["reminded_at"] else "") + f", closed by {m['partner']}"
        elif state == "breached":
            text = f"breached: not met in time, due notice sent to {m['partner']}"
        else:
            text = f"scheduled: due in {hours:,.0f} h" + (", reminded" if state == "reminded" else "")
        click.echo(f"  {m['milestone']:22} {m['partner']:14} {text}")


def _print_timeline(
    hub_url: str, token: str, notice_id: str, sims: dict[str, PartnerSimulator], ids: dict[str, str]
) -> None:
    views = [_view(hub_url, token, notice_id)]
    views += [_view(hub_url, token, rid) for rid, _ in _reply_ids(sims)]
    types: dict[str, str] = {}
    rows = []
    for view in views:
        types[view["id"]] = view["type"]
        for d in view["derived"]:
            types[d["id"]] = d["type"]
    for view in views:
        for event in view["timeline"]:
            rows.append((event["at"], types.get(event["message"], "?"), event))
    rows.sort(key=lambda r: r[0])
    if not rows:
        return
    t0 = datetime.fromisoformat(rows[0][0].replace("Z", "+00:00"))
    click.echo("Timeline (from the hub's store, as an operator sees it):")
    for at, message_type, event in rows:
        offset = (datetime.fromisoformat(at.replace("Z", "+00:00")) - t0).total_seconds()
        kind = event["event"]
        detail = event.get("detail", {})
        partner = event.get("partner") or detail.get("sender") or ""
        text = {
            "received": f"received from {detail.get('sender', '')}",
            "derived": f"derived {detail.get('type')} (route {detail.get('route')})",
            "routed": f"queued for {partner} (route {detail.get('route')})",
            "delivered": f"delivered to {partner}",
            "acknowledged": f"acknowledged by {partner}",
            "rejected": f"rejected by {partner}",
            "retry_scheduled": f"{partner} failed ({detail.get('error')}); retry scheduled",
            "refused": f"not sent: {detail.get('reason')}",
            "unrouted": "no route",
            "milestone_opened": f"milestone {detail.get('milestone')} opened for {partner}",
            "milestone_reminded": f"milestone {detail.get('milestone')} reminded",
            "milestone_met": f"milestone {detail.get('milestone')} met",
            "milestone_breached": f"milestone {detail.get('milestone')} breached",
        }.get(kind, kind)
        click.echo(f"  +{offset:6.3f}s  {message_type:18} {text}")


__all__ = ["acknowledgement", "discharge_notice", "housing_appointment", "run_demo"]
