"""MESH against the real mesh-sandbox: inbox polling, chunking, a crash before acknowledge, sending, tracking."""

from __future__ import annotations

import json

import pytest
import requests
from hl7_support import adt_a03, hl7_hub_factory, segment
from mesh_support import (
    HUB_MAILBOX,
    OTHER_MAILBOX,
    TRUST_MAILBOX,
    mesh_sandbox,
    mesh_sandbox_server,
    wait_until,
)

from hub.testing import RunningHub, run_hub_cli
from hub.testing.raw_store import raw_store

__all__ = ["hl7_hub_factory", "mesh_sandbox", "mesh_sandbox_server"]

WORKFLOW = "HUB_HL7V2_ADT"
MESH_PARTNERS = [
    {"id": "trust-m", "kind": "nhs_trust", "ods_code": "RMM", "mesh_mailbox": TRUST_MAILBOX,
     "receive": {"mode": "pull"}},
    {"id": "trust-c", "kind": "nhs_trust", "ods_code": "RCC", "mesh_mailbox": OTHER_MAILBOX,
     "receive": {"mode": "push", "transport": "mesh", "options": {"workflow_id": "TOC_FHIR_MH_DISCH"}}},
]  # fmt: skip


def mesh_hub(factory, partners=MESH_PARTNERS, **listener_options):
    options = {"workflows": {WORKFLOW: "application/hl7-v2"}, "poll_interval_seconds": 0.2, **listener_options}
    return factory(listeners={"mesh": options}, partners=partners)


def send_from_trust(sandbox, body: bytes, **kwargs) -> str:
    with sandbox.client(TRUST_MAILBOX, max_chunk_size=kwargs.pop("max_chunk_size", 75 * 1024 * 1024)) as client:
        mesh_id: str = client.send_message(HUB_MAILBOX, body, workflow_id=kwargs.pop("workflow_id", WORKFLOW), **kwargs)
        return mesh_id


def stored(hub) -> list[tuple[str, str]]:
    """(hub id, message_id) of every stored DischargeNotice, sorted, as the store's read model lists them."""
    return sorted((m["id"], m["message_id"]) for m in hub.stored_messages("DischargeNotice"))


def idempotency_keys(hub) -> list[str]:
    """The keys the stored DischargeNotices are held under, sorted: read from the store itself, behind the hub.

    This reads what lies on disk on purpose: a MESH message must be stored under ``mesh:<MESH id>`` (the n-th of a
    body of several under ``mesh:<MESH id>#<n>``) because a body MESH delivers again, perhaps to a hub upgraded in
    between, is recognised only by the keys the earlier hub wrote. The store's ports never show a key (they only
    answer a repeat as a duplicate, which ``test_a_crash_between_commit_and_acknowledge...`` checks through them).
    """
    rows = raw_store(hub).execute("SELECT idempotency_key FROM messages WHERE type='DischargeNotice'").fetchall()
    return sorted(key for (key,) in rows)


def refused_transmissions(hub) -> list[dict]:
    """What ``hub dlq list --json`` shows the operator as refused transmissions."""
    result = run_hub_cli(hub.config_dir, "dlq", "list", "--json")
    assert result.returncode == 0, result.stderr
    refused: list[dict] = json.loads(result.stdout)["refused_transmissions"]
    return refused


def test_a_message_in_the_hub_mailbox_is_committed_then_acknowledged(mesh_sandbox, hl7_hub_factory) -> None:
    hub = mesh_hub(hl7_hub_factory)
    mesh_id = send_from_trust(mesh_sandbox, adt_a03(facility="RMM", control="MESH-1"))
    assert wait_until(lambda: hub.db_count(message_type="DischargeNotice") == 1)
    assert wait_until(lambda: mesh_sandbox.inbox(HUB_MAILBOX) == [])
    assert idempotency_keys(hub) == [f"mesh:{mesh_id}"]  # one message: the MESH id as it is
    assert hub.sims["trust-b"].wait_for(lambda s: s.messages("DischargeNotice"))
    assert hub.sims["trust-b"].messages("DischargeNotice")[0]["sender"]["org_id"] == "trust-m"


def test_a_chunked_message_is_reassembled(mesh_sandbox, hl7_hub_factory) -> None:
    hub = mesh_hub(hl7_hub_factory)
    body = adt_a03(facility="RMM", control="CHUNKED")
    send_from_trust(mesh_sandbox, body, max_chunk_size=200)
    assert len(body) > 2 * 200  # three chunks
    assert wait_until(lambda: hub.db_count(message_type="DischargeNotice") == 1)
    assert wait_until(lambda: mesh_sandbox.inbox(HUB_MAILBOX) == [])


@pytest.mark.parametrize("count", [1, 2])
def test_a_crash_between_commit_and_acknowledge_neither_loses_nor_doubles(
    mesh_sandbox, hl7_hub_factory, monkeypatch, count
) -> None:
    monkeypatch.setenv("HUB_TESTING", "1")  # the crash hook works only in a test environment
    hub = mesh_hub(hl7_hub_factory, testing_crash_before_acknowledge=True)
    body = b"".join(adt_a03(facility="RMM", control=f"CRASH-{n}") for n in range(1, count + 1))
    mesh_id = send_from_trust(mesh_sandbox, body)
    assert wait_until(lambda: hub.hub.process.poll() is not None), "the hub should have died before acknowledging"
    first = stored(hub)
    assert len(first) == count
    assert mesh_sandbox.inbox(HUB_MAILBOX) == [mesh_id]
    toml = hub.config_dir / "hub.toml"
    toml.write_text(toml.read_text().replace("testing_crash_before_acknowledge = true",
                                             "testing_crash_before_acknowledge = false"))  # fmt: skip
    hub.hub = RunningHub(hub.config_dir, port=hub.hub.port).start()
    assert wait_until(lambda: mesh_sandbox.inbox(HUB_MAILBOX) == [])
    assert stored(hub) == first  # the re-delivered body was answered as duplicates, every message of it
    view = requests.get(f"{hub.url}/v1/messages/{first[-1][0]}", timeout=10,
                        headers={"Authorization": f"Bearer {hub.tokens['ops']}"}).json()  # fmt: skip
    assert [e["event"] for e in view["timeline"]].count("duplicate") == 1


def test_a_body_of_two_messages_is_stored_whole_then_acknowledged(mesh_sandbox, hl7_hub_factory) -> None:
    hub = mesh_hub(hl7_hub_factory)
    body = adt_a03(facility="RMM", control="TWO-1") + adt_a03(facility="RMM", control="TWO-2", nhs_number="9990000026")
    mesh_id = send_from_trust(mesh_sandbox, body)
    assert wait_until(lambda: mesh_sandbox.inbox(HUB_MAILBOX) == [])
    rows = stored(hub)
    assert idempotency_keys(hub) == [f"mesh:{mesh_id}#1", f"mesh:{mesh_id}#2"]
    assert len({hub_id for hub_id, _ in rows}) == 2 and len({mid for _, mid in rows}) == 2
    assert hub.sims["trust-b"].wait_for(lambda s: len(s.messages("DischargeNotice")) == 2)
    assert refused_transmissions(hub) == []


def test_a_body_with_one_bad_message_is_refused_whole_recorded_and_acknowledged(mesh_sandbox,
                                                                               hl7_hub_factory) -> None:  # fmt: skip
    hub = mesh_hub(hl7_hub_factory)
    body = adt_a03(facility="RMM", control="GOOD-1") + adt_a03(facility="RMM", control="BAD-2", nhs_number="9990000019")
    mesh_id = send_from_trust(mesh_sandbox, body)
    assert wait_until(lambda: mesh_sandbox.inbox(HUB_MAILBOX) == [])
    assert stored(hub) == []  # the good one is not stored without the bad one
    [record] = refused_transmissions(hub)
    assert (record["listener"], record["reference"], record["from"], record["workflow"]) == (
        "mesh", mesh_id, TRUST_MAILBOX, WORKFLOW)  # fmt: skip
    assert (record["status"], record["error"], record["problems"]) == (422, "InvalidMessage", ["message 2 PID-3"])
    listing = run_hub_cli(hub.config_dir, "dlq", "list").stdout
    assert mesh_id in listing and "message 2 PID-3" in listing
    assert "9990000019" not in listing + json.dumps(record)


def test_what_the_adapter_assumed_is_on_the_timeline_where_the_operator_sees_it(mesh_sandbox,
                                                                              hl7_hub_factory) -> None:  # fmt: skip
    # Over MESH nobody reads a 202 or an ACK: the parse warnings must be on the received message's timeline.
    hub = mesh_hub(hl7_hub_factory)
    pv1 = segment("PV1", {1: "1", 2: "I", 3: "Willow Ward^^^RMM", 19: "V0001", 36: "1", 37: "19", 44: "20261002",
                          45: "20261127110000"})  # PV1-7, the lead clinician, is empty  # fmt: skip
    zdr = "ZDR|Y|Y|W|20261123153000|Chris Placeholder|01582 700100|liaison@example.org"
    send_from_trust(mesh_sandbox, adt_a03(facility="RMM", control="NO-PV1-7", replace={"PV1": pv1, "ZDR": zdr}))
    assert wait_until(lambda: mesh_sandbox.inbox(HUB_MAILBOX) == [])
    [(hub_id, _)] = stored(hub)
    shown = run_hub_cli(hub.config_dir, "messages", "show", hub_id)
    assert shown.returncode == 0, shown.stderr
    timeline = json.loads(shown.stdout)["timeline"]
    warnings = [e for e in timeline if e["event"] == "warning"]
    assert [w["detail"]["location"] for w in warnings] == ["PV1-7"], timeline
    assert warnings[0]["message"] == hub_id and warnings[0]["delivery_id"] is None
    assert "no lead clinician" in warnings[0]["detail"]["warning"]
    assert set(warnings[0]["detail"]) == {"location", "warning"}
    assert not any(value in shown.stdout for value in ("01582 700100", "liaison@example.org", "Chris Placeholder"))
    assert refused_transmissions(hub) == []


def test_a_message_from_an_unknown_mailbox_is_recorded_as_refused_and_acknowledged(mesh_sandbox,
                                                                                 hl7_hub_factory) -> None:  # fmt: skip
    hub = mesh_hub(hl7_hub_factory, partners=MESH_PARTNERS[:1])  # X26ABC3 belongs to no partner here
    with mesh_sandbox.client(OTHER_MAILBOX) as stranger:
        mesh_id = stranger.send_message(HUB_MAILBOX, adt_a03(facility="RCC"), workflow_id=WORKFLOW)
    assert wait_until(lambda: mesh_sandbox.inbox(HUB_MAILBOX) == [])
    [record] = refused_transmissions(hub)
    assert (record["reference"], record["from"], record["error"]) == (mesh_id, OTHER_MAILBOX, "UnparseableInput")
    assert hub.db_count(message_type="DischargeNotice") == 0


def test_an_invalid_message_is_refused_with_its_locations(mesh_sandbox, hl7_hub_factory) -> None:
    hub = mesh_hub(hl7_hub_factory)
    mesh_id = send_from_trust(mesh_sandbox, adt_a03(facility="RMM", nhs_number="9990000019"))
    assert wait_until(lambda: mesh_sandbox.inbox(HUB_MAILBOX) == [])
    [record] = refused_transmissions(hub)
    assert (record["reference"], record["problems"]) == (mesh_id, ["PID-3"])
    assert "9990000019" not in json.dumps(record)
    assert not (hub.config_dir / "mesh-refused").exists()


def test_other_workflows_are_left_in_the_inbox(mesh_sandbox, hl7_hub_factory) -> None:
    hub = mesh_hub(hl7_hub_factory)
    other = send_from_trust(mesh_sandbox, b"not for the hub", workflow_id="SOME_OTHER_WORKFLOW")
    send_from_trust(mesh_sandbox, adt_a03(facility="RMM"))
    assert wait_until(lambda: hub.db_count(message_type="DischargeNotice") == 1)
    assert wait_until(lambda: mesh_sandbox.inbox(HUB_MAILBOX) == [other])


def test_the_mesh_transport_sends_with_workflow_and_local_id_and_tracks(mesh_sandbox, hl7_hub_factory) -> None:
    hub = hl7_hub_factory(partners=MESH_PARTNERS,
                          routes=[{"name": "to-trust-c", "type": "DischargeNotice", "to": "trust-c"}])  # fmt: skip

    headers = {"Authorization": f"Bearer {hub.tokens['trust-a']}", "Content-Type": "application/hl7-v2"}
    response = requests.post(f"{hub.url}/v1/messages", data=adt_a03(), headers=headers, timeout=10)
    assert response.status_code == 202
    hub_id = response.json()["id"]
    assert wait_until(lambda: mesh_sandbox.inbox(OTHER_MAILBOX) != [])
    with mesh_sandbox.client(OTHER_MAILBOX) as trust:
        [mesh_id] = trust.list_messages()
        message = trust.retrieve_message(mesh_id)
        assert (message.workflow_id, message.sender) == ("TOC_FHIR_MH_DISCH", HUB_MAILBOX)
        assert message.local_id
        body = json.loads(message.read())
        assert body["type"] == "DischargeNotice"
        trust.acknowledge_message(mesh_id)

    def delivery() -> dict:
        view = requests.get(f"{hub.url}/v1/messages/{hub_id}", timeout=10,
                            headers={"Authorization": f"Bearer {hub.tokens['ops']}"}).json()  # fmt: skip
        return view["deliveries"][0]  # type: ignore[no-any-return]

    assert wait_until(lambda: delivery()["state"] == "delivered")
    assert delivery()["receipt"] == mesh_id  # the MESH message id is the delivery's receipt
    with mesh_sandbox.client(HUB_MAILBOX) as hub_mailbox:
        assert hub_mailbox.track_message(mesh_id)["status"] == "acknowledged"
