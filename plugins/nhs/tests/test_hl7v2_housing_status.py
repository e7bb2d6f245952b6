"""HL7 v2: a trust on the hl7v2 adapter gets a council's Duty to Refer status back as canonical JSON, with a note.

HL7 v2 has no sensible form for a status (docs/partners/council.md says why: RRI^I12 needs the person's
identity, which a status deliberately does not carry), so the status reaches such a trust as the hub's canonical
HousingStatus with ``X-Hub-Note`` saying so: delivered, never dead-lettered. End to end over loopback.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import requests

from hub.testing.messages import example, housing_request
from hub.testing.world import HubWorld, Partner


def test_an_hl7v2_trust_gets_the_councils_status_as_canonical_json_with_a_note(
    hub_world_factory: Callable[..., HubWorld],
) -> None:
    world = hub_world_factory([
        Partner("trust-a", "nhs_trust", {"ods_code": "RWK"}, adapter="hl7v2"),
        Partner("council-luton", "council", {"gss_code": "E06000032"}),
        Partner("steps-luton", "hostel"),
        Partner("ips-luton", "ips_provider"),
    ], operators=())  # fmt: skip
    referral = housing_request()
    sent = requests.post(f"{world.hub.url}/v1/messages", json=referral, timeout=10,
                         headers={"Authorization": f"Bearer {world.tokens['trust-a']}"})  # fmt: skip
    assert sent.status_code == 202, sent.text
    assert world.sims["council-luton"].wait_for(lambda s: s.messages("HousingRequest"))
    request = world.sims["council-luton"].messages("HousingRequest")[0]
    status = example("housing-status", sender={"org_id": "council-luton", "gss_code": "E06000032"},
                     in_reply_to=request["message_id"], message_id=str(uuid.uuid4()))  # fmt: skip
    status["payload"]["status_at"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    answer = requests.post(f"{world.hub.url}/v1/messages", json=status, timeout=10,
                           headers={"Authorization": f"Bearer {world.tokens['council-luton']}"})  # fmt: skip
    assert answer.status_code == 202, answer.text
    trust = world.sims["trust-a"]

    def statuses() -> list:  # (the trust may get other deliveries too: only the status is looked at)
        return [r for r in trust.received if r.content_type.startswith("application/json")
                and json.loads(r.body).get("type") == "HousingStatus"]  # fmt: skip

    assert trust.wait_for(lambda s: statuses())
    (received,) = statuses()
    assert received.content_type.startswith("application/json")
    assert json.loads(received.body) == status
    note = received.headers.get("X-Hub-Note", received.headers.get("x-hub-note", ""))
    assert note == "HL7 v2 ADT has no form for HousingStatus; sent as canonical JSON"
