"""The Prometheus exposition writes counters and gauges exactly, so rate() stays right on a busy hub."""

from __future__ import annotations

from hub.metrics import Metrics


def samples(text: str) -> dict[str, str]:
    return dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_counters_and_gauges_render_exact_integers() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.inc("hub_messages_accepted_total", 4_115_226, type="Referral")
    metrics.inc("hub_messages_accepted_total", 1, type="Referral")
    metrics.gauges.append(lambda: {'hub_deliveries{state="pending"}': 98_765_432.0, "hub_ratio": 0.125})
    found = samples(metrics.render())
    assert found['hub_messages_accepted_total{type="Referral"}'] == "12345679"
    assert found['hub_deliveries{state="pending"}'] == "98765432"
    assert found["hub_ratio"] == "0.125"


def test_a_counter_past_a_million_still_moves_by_one() -> None:
    metrics = Metrics()
    metrics.inc("hub_requests_total", 1_000_000)
    before = samples(metrics.render())["hub_requests_total"]
    metrics.inc("hub_requests_total")
    assert (before, samples(metrics.render())["hub_requests_total"]) == ("1000000", "1000001")
