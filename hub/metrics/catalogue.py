"""Every metric hub processes record: name, kind, help text and labels (``CATALOGUE``), and the histograms' buckets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Bounds (seconds) of the latency histograms' buckets."""


LiveMode = Literal["livesum", "livemax", "livemin", "liveall", "livemostrecent"]
"""How the running processes' values of a gauge combine; only live modes, so a stopped process's value goes."""


@dataclass(frozen=True)
class MetricSpec:
    """One metric the hub records: its kind (``counter``, ``histogram`` or ``gauge``), help text and label names.

    A gauge recorded by processes (rather than read from the store at a scrape) names how the processes' values
    combine (``gauge_mode``, prometheus-client's ``multiprocess_mode``: ``livesum`` adds the running processes').
    """

    kind: str
    help: str
    labels: tuple[str, ...]
    gauge_mode: LiveMode = "livesum"


CATALOGUE: Mapping[str, MetricSpec] = {
    "hub_messages_accepted_total": MetricSpec("counter", "Inbound messages committed", ("type",)),
    "hub_messages_duplicate_total": MetricSpec("counter", "Inbound duplicates answered, not stored", ("type",)),
    "hub_requests_refused_total": MetricSpec("counter", "Requests refused before reaching a handler", ("reason",)),
    "hub_transmissions_refused_total": MetricSpec(
        "counter", "Inbound transmissions a listener refused whole", ("listener",)
    ),
    "hub_deliveries_total": MetricSpec("counter", "Delivery attempts by result", ("partner", "result")),
    "hub_partner_replies_total": MetricSpec(
        "counter", "Decisions partners gave in their answers to deliveries", ("partner", "status")
    ),
    "hub_submit_to_delivery_seconds": MetricSpec(
        "histogram", "Time from the inbound message's commit to the partner's 2xx", ("partner",)
    ),
    "hub_processes": MetricSpec("gauge", "Hub processes running on this machine, by role", ("role",), "livesum"),
}
"""Every metric hub processes record, by the name ``/metrics`` shows. ``inc``/``observe``/``set`` take these names."""

STORE_GAUGES_HELP: Mapping[str, str] = {
    "hub_deliveries": "Deliveries in the store by state",
    "hub_messages_stored": "Messages in the store, derived ones included",
    "hub_pathway_milestones": "Care-pathway milestones by responsible partner, milestone and state (open: due, "
    "reminded, breached, met, late, cancelled)",
}
"""Help texts of the gauges read from the store at each scrape (``hub/runtime.py`` computes them)."""
