"""The hub's own adapter and transport (hub.defaults) pass the conformance suite they hand to integrators."""

from __future__ import annotations

import json
from typing import Any

from hub.testing.conformance import AdapterConformance, TransportConformance
from hub.testing.messages import example


class TestCanonicalJsonConformance(AdapterConformance):
    adapter_name = "canonical-json"

    def render_samples(self) -> list[dict[str, Any]]:
        return [example("referral"), example("acknowledgement")]

    def parse_samples(self) -> list[tuple[bytes, str]]:
        return [(json.dumps(example("referral")).encode(), "application/json")]


class TestHttpTransportConformance(TransportConformance):
    transport_name = "http"
