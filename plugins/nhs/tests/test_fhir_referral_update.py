"""FHIR out: each step of a referral's offer chain (a ReferralUpdate) reaches a FHIR trust as a Task.

Every Bundle is checked by an independent FHIR library (fhir.resources, R4B models) in the encoding it was
rendered in (``CheckedAdapter``); Task.status against FHIR R4's task-status codes, a required binding the
library does not enforce. The end-to-end chain is plugins/hostels/tests/test_trust_referrer_steps.py.
"""

from __future__ import annotations

import pytest
from fhir_support import checked_by_fhir_library
from test_fhir_housing_status import TASK_STATUSES
from test_fhir_render import ADAPTER, trust

from hub.testing.messages import example

STEPS = {"offered": "in-progress", "info_requested": "on-hold", "accepted": "accepted", "declined": "in-progress",
         "expired": "in-progress", "waiting_for_navigator": "on-hold", "placed": "completed",
         "withdrawn": "in-progress", "closed": "cancelled"}  # fmt: skip


@pytest.mark.parametrize("encoding", ["json", "xml"])
@pytest.mark.parametrize("step", sorted(STEPS))
def test_a_step_becomes_a_task_based_on_the_referral(step: str, encoding: str) -> None:
    message = example("referral-update")
    message["payload"] = {"referral_message_id": "990f6d8d-097c-4877-80bd-d91a1ab1f910", "step": step,
                          "at": "2026-11-25T10:14:30Z"}  # fmt: skip
    if step == "declined":
        message["payload"]["reason_code"] = "out_of_area"
    if step == "waiting_for_navigator":
        message["payload"]["waiting_because"] = "all_declined"
    if step == "closed":
        message["payload"]["closed_because"] = "referred_elsewhere"
    rendered = ADAPTER.render(message, partner=trust(fhir_format=encoding))
    assert rendered.content_type.startswith(f"application/fhir+{encoding}")
    bundle = checked_by_fhir_library(rendered.body, rendered.content_type)
    header, task = (entry.resource for entry in bundle.entry)
    assert header.eventCoding.code == "referral-update" and header.focus[0].reference == f"urn:uuid:{task.id}"
    assert task.status == STEPS[step] and task.status in TASK_STATUSES
    assert task.businessStatus.coding[0].code == step
    assert task.basedOn[0].type == "ServiceRequest"
    assert task.basedOn[0].identifier.value == "urn:uuid:990f6d8d-097c-4877-80bd-d91a1ab1f910"
    assert task.lastModified.isoformat().startswith("2026-11-25T10:14:30")
    assert task.requester.identifier.value == "RWK"
    assert task.for_fhir is None  # no person: the ReferralUpdate carries none
    reason = task.statusReason.coding[0].code if task.statusReason is not None else None
    expected = {"declined": "out_of_area", "waiting_for_navigator": "all_declined", "closed": "referred_elsewhere"}
    assert reason == expected.get(step)


def test_the_same_step_renders_the_same_bundle() -> None:
    message = example("referral-update")
    assert ADAPTER.render(message, partner=trust()).body == ADAPTER.render(message, partner=trust()).body
