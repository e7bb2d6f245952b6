"""FHIR out: a council's Duty to Refer status reaches a FHIR trust as a message Bundle with a Task.

Every Bundle is checked by an independent FHIR library (fhir.resources, R4B
models) in the encoding it was rendered in; Task.status against FHIR R4's
task-status codes (a required binding the library does not enforce).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from fhir_support import checked_by_fhir_library, own_bundle_xml
from test_fhir_render import ADAPTER, trust

from hub.testing.messages import example
from hub.testing.world import HubWorld, Partner

# FHIR R4 ValueSet task-status (http://hl7.org/fhir/R4/valueset-task-status.html)
TASK_STATUSES = {"draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress",
                 "on-hold", "failed", "completed", "entered-in-error"}  # fmt: skip
EXPECTED = {
    "received": "received", "contact_made": "in-progress", "contact_failed": "in-progress",
    "prevention_duty": "completed", "relief_duty": "completed", "not_eligible": "completed",
    "not_homeless": "completed", "no_contact": "failed", "withdrawn": "cancelled", "closed": "completed",
}  # fmt: skip


def status_message(status: str, **payload: Any) -> dict[str, Any]:
    message = example("housing-status", recipient={"org_id": "trust-a", "ods_code": "RWK"})
    message["payload"]["status"] = status
    message["payload"].update(payload)
    return message


def task_of(bundle: Any) -> Any:
    return next(e.resource for e in bundle.entry if e.resource.__resource_type__ == "Task")


@pytest.mark.parametrize("status", sorted(EXPECTED))
@pytest.mark.parametrize("encoding", ["json", "xml"])
def test_each_status_becomes_a_task_with_its_business_status(status: str, encoding: str) -> None:
    message = status_message(status, attempts=3, note="Tried the ward twice and the mobile once.")
    rendered = ADAPTER.render(message, partner=trust(fhir_format=encoding))
    assert rendered.content_type.startswith(f"application/fhir+{encoding}")
    bundle = checked_by_fhir_library(rendered.body, rendered.content_type)
    header = bundle.entry[0].resource
    assert header.eventCoding.code == "housing-status"
    task = task_of(bundle)
    assert header.focus[0].reference == f"urn:uuid:{task.id}"
    assert task.status == EXPECTED[status] and task.status in TASK_STATUSES
    [coding] = task.businessStatus.coding
    assert (coding.code, coding.system) == (status, "https://hub.invalid/fhir/CodeSystem/hub-housing-status")
    assert task.intent == "order"
    assert task.lastModified.isoformat().replace("+00:00", "Z") == message["payload"]["status_at"]
    assert task.basedOn[0].identifier.value == f"urn:uuid:{message['in_reply_to']}"
    assert task.identifier[0].value == "HOM/2026/04567"
    assert task.output[0].valueUnsignedInt == 3
    assert (task.statusReason is not None) == (status in {"contact_failed", "not_eligible", "not_homeless",
                                                          "no_contact", "withdrawn"})  # fmt: skip
    if task.statusReason is not None:
        assert task.statusReason.text == "Tried the ward twice and the mobile once."
    owner = next(e.resource for e in bundle.entry if f"urn:uuid:{e.resource.id}" == task.owner.reference)
    assert owner.identifier[0].value == "E06000032"
    author = next(e.resource for e in bundle.entry if f"urn:uuid:{e.resource.id}" == header.author.reference)
    assert author.name[0].text == "Pat Officer"


def test_a_minimal_status_renders_without_the_optional_parts() -> None:
    message = status_message("received")
    for key in ("case_ref", "note", "officer"):
        message["payload"].pop(key)
    rendered = ADAPTER.render(message, partner=trust())
    bundle = checked_by_fhir_library(rendered.body, rendered.content_type)
    task = task_of(bundle)
    assert task.identifier is None and task.note is None and bundle.entry[0].resource.author is None
    assert len(bundle.entry) == 3  # MessageHeader, Task, Organization
    assert json.loads(ADAPTER.render(message, partner=trust()).body) == json.loads(rendered.body)  # stable ids


@pytest.fixture
def fhir_trust(hub_world_factory: Callable[..., HubWorld]) -> HubWorld:
    """A hub where trust-a speaks FHIR (JSON out) and the council canonical JSON."""
    return hub_world_factory([
        Partner("trust-a", "nhs_trust", {"ods_code": "RWK"}, adapter="fhir-r4", path="/fhir"),
        Partner("council-luton", "council", {"gss_code": "E06000032"}),
        Partner("steps-luton", "hostel"),
        Partner("ips-luton", "ips_provider"),
    ], operators=())  # fmt: skip


def test_a_fhir_trust_gets_the_councils_status_back_as_a_task(fhir_trust: HubWorld) -> None:
    hub, tokens, sims = fhir_trust.hub, fhir_trust.tokens, fhir_trust.sims
    auth = {"Authorization": f"Bearer {tokens['trust-a']}", "Content-Type": "application/fhir+xml"}
    response = requests.post(f"{hub.url}/v1/messages", data=own_bundle_xml(), headers=auth, timeout=10)
    assert response.status_code == 202, response.text
    assert sims["council-luton"].wait_for(lambda s: s.messages("HousingRequest"))
    request = sims["council-luton"].messages("HousingRequest")[0]
    status = example("housing-status", sender={"org_id": "council-luton", "gss_code": "E06000032"},
                     in_reply_to=request["message_id"], message_id=str(uuid.uuid4()))  # fmt: skip
    status["payload"]["status_at"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    answer = requests.post(f"{hub.url}/v1/messages", json=status, timeout=10,
                           headers={"Authorization": f"Bearer {tokens['council-luton']}"})  # fmt: skip
    assert answer.status_code == 202, answer.text
    trust_sim = sims["trust-a"]
    assert trust_sim.wait_for(lambda s: len(s.received) >= 1)
    received = trust_sim.received[0]
    assert received.content_type.startswith("application/fhir+json")
    bundle = checked_by_fhir_library(received.body, received.content_type)
    task = task_of(bundle)
    assert (task.status, task.businessStatus.coding[0].code) == ("completed", "relief_duty")
    assert task.basedOn[0].identifier.value == f"urn:uuid:{request['message_id']}"
