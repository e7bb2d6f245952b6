"""FHIR out: a care-pathway reminder or due notice (PathwayNotice) reaches a FHIR trust as a Communication.

Every Bundle is checked by an independent FHIR library (fhir.resources, R4B models) in the encoding it was
rendered in; end to end, a trust that speaks FHIR and is responsible for a milestone receives its reminder and
its due notice from a running hub over loopback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from fhir_support import checked_by_fhir_library, own_bundle_xml
from test_fhir_render import ADAPTER, trust

from hub.testing.messages import example
from hub.testing.world import HubWorld, Partner

PATHWAY = """timezone = "Europe/London"

[[milestone]]
name = "follow-up-72h"
start = { type = "DischargeNotice", on = "received" }
due = { after = "4s", from = "event" }
remind_before = "2s"
responsible = "sender"
closed_by = [{ type = "FollowUp", when = [{ field = "payload.kind", equals = "72h" }] }]
on_breach = { notify = ["responsible"] }
"""


def communication_of(bundle: Any) -> Any:
    return next(e.resource for e in bundle.entry if e.resource.__resource_type__ == "Communication")


@pytest.mark.parametrize("notice", ["reminder", "due"])
@pytest.mark.parametrize("encoding", ["json", "xml"])
def test_a_notice_becomes_a_communication_about_the_milestone(notice: str, encoding: str) -> None:
    message = example("pathway-notice")
    message["payload"]["notice"] = notice
    rendered = ADAPTER.render(message, partner=trust(fhir_format=encoding))
    assert rendered.content_type.startswith(f"application/fhir+{encoding}")
    bundle = checked_by_fhir_library(rendered.body, rendered.content_type)
    header = bundle.entry[0].resource
    assert header.eventCoding.code == "pathway-notice"
    communication = communication_of(bundle)
    assert header.focus[0].reference == f"urn:uuid:{communication.id}"
    assert communication.status == "completed"
    assert communication.priority == ("routine" if notice == "reminder" else "urgent")
    assert communication.category[0].coding[0].code == notice
    assert communication.identifier[0].value == message["payload"]["timer_id"]
    assert communication.reasonCode[0].coding[0].code == "assessment"
    [extension] = communication.extension
    parts = {e.url: e for e in extension.extension}
    assert parts["milestoneId"].valueString == message["payload"]["milestone_id"]
    assert parts["dueAt"].valueDateTime.isoformat().replace("+00:00", "Z") == message["payload"]["due_at"]
    assert parts["responsible"].valueString == "steps-luton"
    assert communication.recipient[0].identifier.value == "RWK"  # the partner it is delivered to, by ODS code
    assert message["payload"]["due_at"] in communication.payload[0].contentString
    correlation = {e.url: e.valueString for e in header.extension[0].extension}
    assert correlation == {"correlationId": message["correlation_id"]}


def test_the_same_notice_renders_the_same_bundle() -> None:
    message = example("pathway-notice")
    assert ADAPTER.render(message, partner=trust()).body == ADAPTER.render(message, partner=trust()).body


@pytest.fixture
def fhir_trust_with_pathway(hub_world_factory: Callable[..., HubWorld]) -> HubWorld:
    """A hub where trust-a speaks FHIR and is responsible for a follow-up due 4 s after its discharge notice."""
    world = hub_world_factory([
        Partner("trust-a", "nhs_trust", {"ods_code": "RWK"}, adapter="fhir-r4", path="/fhir"),
        Partner("council-luton", "council", {"gss_code": "E06000032"}),
        Partner("steps-luton", "hostel"),
        Partner("ips-luton", "ips_provider"),
    ], operators=(), start=False)  # fmt: skip
    (world.config_dir / "pathways.toml").write_text(PATHWAY)
    world.start()
    return world


def test_a_fhir_trust_responsible_for_a_milestone_gets_its_reminder_and_due_notice(
    fhir_trust_with_pathway: HubWorld,
) -> None:
    hub, tokens, sims = fhir_trust_with_pathway.hub, fhir_trust_with_pathway.tokens, fhir_trust_with_pathway.sims
    auth = {"Authorization": f"Bearer {tokens['trust-a']}", "Content-Type": "application/fhir+xml"}
    response = requests.post(f"{hub.url}/v1/messages", data=own_bundle_xml(), headers=auth, timeout=10)
    assert response.status_code == 202, response.text
    trust_sim = sims["trust-a"]

    def notices() -> list[Any]:
        bundles = [checked_by_fhir_library(r.body, r.content_type) for r in list(trust_sim.received)
                   if r.content_type.startswith("application/fhir+json")]  # fmt: skip
        return [b for b in bundles if b.entry[0].resource.eventCoding.code == "pathway-notice"]

    assert trust_sim.wait_for(lambda s: len(notices()) >= 2, timeout=30), [r.content_type for r in trust_sim.received]
    kinds = [communication_of(b).category[0].coding[0].code for b in notices()]
    assert sorted(kinds) == ["due", "reminder"]
    for bundle in notices():
        communication = communication_of(bundle)
        assert communication.reasonCode[0].coding[0].code == "follow-up-72h"
        assert {e.url: e for e in communication.extension[0].extension}["responsible"].valueString == "trust-a"
    assert not any(r.content_type.startswith("application/json") and json.loads(r.body).get("type") ==
                   "PathwayNotice" for r in trust_sim.received)  # fmt: skip
