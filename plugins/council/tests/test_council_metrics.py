"""The time from referral to first appointment shows on /metrics, per council."""

from __future__ import annotations

import time

from hub.testing.messages import example, housing_request
from hub.testing.metrics_text import parse_samples, sample


def test_first_appointment_time_is_a_gauge_on_metrics(hub_world) -> None:
    world = hub_world
    assert world.send("trust-a", housing_request()).status_code == 202
    council = world.sims["council-luton"]
    assert council.wait_for(lambda s: s.messages("HousingRequest"))
    request = council.messages("HousingRequest")[0]
    time.sleep(0.2)
    appointment = example("housing-appointment", sender={"org_id": "council-luton", "gss_code": "E06000032"},
                          in_reply_to=request["message_id"])  # fmt: skip
    assert world.send("council-luton", appointment).status_code == 202
    found = parse_samples(world.as_("ops").get(f"{world.url}/metrics", timeout=5).text)
    assert sample(found, "hub_council_referrals_answered", partner="council-luton") == 1
    median = sample(found, "hub_council_first_appointment_seconds_median", partner="council-luton")
    assert median is not None and 0.1 <= median < 60
