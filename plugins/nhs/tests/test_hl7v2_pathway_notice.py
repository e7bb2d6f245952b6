"""HL7 v2: a trust that sends ADT^A03 over MLLP and is responsible for a milestone gets its notices, as JSON.

HL7 v2 has no message for a care-pathway reminder (docs/partners/nhs-hl7-mesh.md says why), so the hl7v2
adapter sends a PathwayNotice as the hub's canonical JSON with an ``X-Hub-Note`` saying so: delivered, never
dead-lettered. End to end over loopback: the discharge goes in over MLLP, the notices come back over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable

from hl7_support import MllpClient, adt_a03

from hub.testing.running_hub import free_port
from hub.testing.world import HubWorld, Partner

PATHWAY = """[[milestone]]
name = "follow-up-72h"
start = { type = "DischargeNotice", on = "received" }
due = { after = "3s", from = "event" }
remind_before = "1s"
responsible = "sender"
closed_by = [{ type = "FollowUp" }]
"""


def test_an_hl7v2_trust_gets_its_reminder_and_due_notice_as_json_with_a_note(
    hub_world_factory: Callable[..., HubWorld],
) -> None:
    port = free_port()
    world = hub_world_factory(
        [Partner("trust-a", "nhs_trust", {"ods_code": "RWK"}, adapter="hl7v2"),
         Partner("trust-b", "nhs_trust", {"ods_code": "RXY"}, receive="pull")],
        routes=[{"name": "discharge-copy", "type": "DischargeNotice", "to": "trust-b"}],
        settings={"listeners": {"mllp": {"host": "127.0.0.1", "port": port}}}, operators=("ops",), start=False,
    )  # fmt: skip
    (world.config_dir / "pathways.toml").write_text(PATHWAY)
    world.start()
    with MllpClient(port) as client:
        assert client.send(adt_a03())["code"] == "AA"
    sim = world.sims["trust-a"]
    assert sim.wait_for(lambda s: len(s.messages("PathwayNotice")) >= 2, timeout=30)
    notices = sim.messages("PathwayNotice")
    assert sorted(n["payload"]["notice"] for n in notices) == ["due", "reminder"]
    assert all(n["payload"]["responsible"] == "trust-a" for n in notices)
    for received in sim.received:
        assert received.content_type.startswith("application/json")
        assert received.headers.get("X-Hub-Note", received.headers.get("x-hub-note", "")).startswith(
            "HL7 v2 ADT has no form for PathwayNotice"
        )
